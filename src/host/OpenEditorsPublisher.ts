/**
 * Publishes this device's open editors (groups, text tabs as folder-relative paths, active tabs,
 * selections and top visible lines) as the replicated PublishOpenEditors intent, 500 ms after the
 * last change of the tab groups, a selection or a visible range (debounced), and only when the
 * state differs from what was published last (the publication time alone is no change).
 *
 * Selections and scroll positions are only readable for visible editors; for the other tabs the
 * last values seen while they were visible are kept (per view column and resource). Tabs outside
 * the folder and non-text tabs are left out; counts are capped to what validation accepts.
 */
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import type { Intent } from '../core/intents';
import {
  MAX_EDITOR_GROUPS,
  MAX_POSITION,
  MAX_SELECTIONS_PER_TAB,
  MAX_TABS_PER_GROUP,
  MAX_TABS_TOTAL,
  MAX_VIEW_COLUMN,
  validateOpenEditors,
  type EditorSelection,
  type OpenEditorGroup,
  type OpenEditorTab,
  type OpenEditorsState,
} from '../core/openEditors';
import { folderRelativePath, tabId } from './VscodeTabs';

export const PUBLISH_DEBOUNCE_MS = 500;

export interface OpenEditorsPublisherOptions {
  readonly folder: vscode.Uri;
  readonly deviceId: string;
  readonly deviceName: string;
  /** Enqueues the intent (RegistryRuntime.dispatch with source 'EditorEvents'). */
  readonly publish: (intent: Intent) => Promise<void>;
  readonly debounceMs?: number;
  readonly now?: () => number;
  readonly onError?: (message: string) => void;
}

interface Seen {
  readonly selections: readonly EditorSelection[];
  readonly topLine: number;
}

function clamp(n: number): number {
  return Math.min(MAX_POSITION, Math.max(0, Math.floor(n)));
}

function toSelection(s: vscode.Selection): EditorSelection {
  return {
    anchor: { line: clamp(s.anchor.line), character: clamp(s.anchor.character) },
    active: { line: clamp(s.active.line), character: clamp(s.active.character) },
  };
}

export class OpenEditorsPublisher implements vscode.Disposable {
  private readonly options: OpenEditorsPublisherOptions;
  private readonly seen = new Map<string, Seen>();
  private readonly disposables: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastPublished: string | undefined;
  private publishing: Promise<void> = Promise.resolve();
  private disposed = false;
  /** Publications sent since start. */
  published = 0;

  constructor(options: OpenEditorsPublisherOptions) {
    this.options = options;
    const schedule = (): void => {
      this.schedule();
    };
    this.disposables.push(
      vscode.window.tabGroups.onDidChangeTabs(schedule),
      vscode.window.tabGroups.onDidChangeTabGroups(schedule),
      vscode.window.onDidChangeTextEditorSelection(schedule),
      vscode.window.onDidChangeTextEditorVisibleRanges(schedule),
      vscode.window.onDidChangeVisibleTextEditors(schedule),
    );
    this.schedule();
  }

  /** Publishes after the debounce delay; a new change restarts the delay. */
  schedule(): void {
    if (this.disposed) return;
    this.rememberVisible();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.debounceMs ?? PUBLISH_DEBOUNCE_MS);
  }

  /** Publishes now if the state changed since the last publication. */
  flush(): Promise<void> {
    this.publishing = this.publishing.then(() => this.publishNow());
    return this.publishing;
  }

  private rememberVisible(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const column = editor.viewColumn;
      if (column === undefined) continue;
      this.seen.set(tabId(column, editor.document.uri), {
        selections: editor.selections.slice(0, MAX_SELECTIONS_PER_TAB).map(toSelection),
        topLine: clamp(editor.visibleRanges[0]?.start.line ?? 0),
      });
    }
  }

  /** The current open-editor state of this window (without side effects beyond the cache). */
  state(): OpenEditorsState {
    this.rememberVisible();
    const groups: OpenEditorGroup[] = [];
    const open = new Set<string>();
    let total = 0;
    let activeViewColumn: number | undefined;
    for (const group of vscode.window.tabGroups.all) {
      const viewColumn: number = group.viewColumn;
      if (groups.length >= MAX_EDITOR_GROUPS || viewColumn < 1 || viewColumn > MAX_VIEW_COLUMN) {
        continue;
      }
      const tabs: OpenEditorTab[] = [];
      let activeTab: number | undefined;
      for (const tab of group.tabs) {
        if (!(tab.input instanceof vscode.TabInputText)) continue;
        if (tabs.length >= MAX_TABS_PER_GROUP || total >= MAX_TABS_TOTAL) break;
        const relative = folderRelativePath(this.options.folder, tab.input.uri);
        if (relative === undefined) continue;
        const id = tabId(viewColumn, tab.input.uri);
        open.add(id);
        const seen = this.seen.get(id);
        if (tab.isActive) activeTab = tabs.length;
        tabs.push({
          path: relative,
          selections: seen?.selections ?? [],
          topLine: seen?.topLine ?? 0,
          pinned: tab.isPinned,
        });
        total += 1;
      }
      if (tabs.length === 0) continue;
      if (group.isActive) activeViewColumn = viewColumn;
      groups.push({ viewColumn, tabs, ...(activeTab !== undefined ? { activeTab } : {}) });
    }
    for (const id of [...this.seen.keys()]) if (!open.has(id)) this.seen.delete(id);
    groups.sort((a, b) => a.viewColumn - b.viewColumn);
    return {
      groups,
      ...(activeViewColumn !== undefined ? { activeViewColumn } : {}),
      updatedAt: Math.max(0, Math.floor((this.options.now ?? Date.now)())),
    };
  }

  private async publishNow(): Promise<void> {
    if (this.disposed) return;
    const state = this.state();
    const checked = validateOpenEditors(state);
    if (!checked.ok) {
      this.options.onError?.(`open editors not published: ${checked.message}`);
      return;
    }
    const key = JSON.stringify({ ...checked.value, updatedAt: 0 });
    if (key === this.lastPublished) return;
    try {
      await this.options.publish({
        type: 'PublishOpenEditors',
        deviceId: this.options.deviceId,
        deviceName: this.options.deviceName,
        editors: checked.value,
      });
      this.lastPublished = key;
      this.published += 1;
    } catch (error) {
      this.options.onError?.(`open editors not published: ${describeError(error)}`);
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
