/**
 * Which editor tabs the memory monitor's tab demoter closes (Active → Cold): the least recently
 * used ones that are clean (no unsaved changes), unpinned and not active, until the number of
 * open tabs is back within the budget that applies at the current memory pressure.
 *
 * Budget by pressure: 'normal' → tabBudget; 'elevated' → half of it (rounded down, at least 1);
 * 'critical' → 0 (every candidate goes). Every tab counts against the budget, but only candidates
 * are ever closed, so the result may leave more tabs than the budget when too many are dirty,
 * pinned or active.
 *
 * Pure and deterministic: least recently used first (lastActiveAt ascending), ties by id.
 */
import type { MemoryPressure } from './intents';

export interface TabInfo {
  /** Stable id of the tab while it is open (the host builds it from group and resource). */
  readonly id: string;
  /** Folder-relative path (or another label) of the tab's resource, for reports. */
  readonly path?: string;
  /** Clock time (ms) the tab was last active; 0 when never seen active. */
  readonly lastActiveAt: number;
  /** Unsaved changes: never closed. */
  readonly dirty: boolean;
  /** Pinned tab or pinned graph node: never closed. */
  readonly pinned: boolean;
  /** Active (shown) in its group: never closed. */
  readonly active: boolean;
}

export interface DemotionInput {
  readonly tabs: readonly TabInfo[];
  /** policy.tabBudget: the most tabs allowed at normal pressure (>= 1). */
  readonly tabBudget: number;
  readonly pressure: MemoryPressure;
}

/** The number of tabs allowed at `pressure`. */
export function effectiveTabBudget(tabBudget: number, pressure: MemoryPressure): number {
  const budget = Number.isFinite(tabBudget) ? Math.max(1, Math.floor(tabBudget)) : 1;
  switch (pressure) {
    case 'normal':
      return budget;
    case 'elevated':
      return Math.max(1, Math.floor(budget / 2));
    case 'critical':
      return 0;
  }
}

/** Whether a tab may ever be demoted. */
export function isDemotable(tab: TabInfo): boolean {
  return !tab.dirty && !tab.pinned && !tab.active;
}

function compareLru(a: TabInfo, b: TabInfo): number {
  return a.lastActiveAt - b.lastActiveAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The ids of the tabs to close, least recently used first. Empty when the open tabs are within
 * the budget. Tabs with a duplicate id count once (the first one).
 */
export function planDemotion(input: DemotionInput): string[] {
  const seen = new Set<string>();
  const tabs: TabInfo[] = [];
  for (const tab of input.tabs) {
    if (seen.has(tab.id)) continue;
    seen.add(tab.id);
    tabs.push(tab);
  }
  const excess = tabs.length - effectiveTabBudget(input.tabBudget, input.pressure);
  if (excess <= 0) return [];
  return tabs
    .filter(isDemotable)
    .sort(compareLru)
    .slice(0, excess)
    .map((t) => t.id);
}
