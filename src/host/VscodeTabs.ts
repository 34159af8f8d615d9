/**
 * The editor side of the lifecycle workers, on the vscode API:
 *  - TabController (for the TabDemoter): the text tabs of every group with their last-active time,
 *    dirty / pinned / active flags, and closing tabs by id;
 *  - DocumentWarmer (for the PrefetchScheduler): loading a folder file as a TextDocument in the
 *    background (`workspace.openTextDocument`, no editor shown), and whether one is loaded.
 * Tab ids are `${viewColumn}|${uri}`. Paths are folder-relative and canonical (pathSafety.ts):
 * anything outside the folder is neither warmed nor reported with a path.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TabInfo } from '../core/demotionPolicy';
import { TwinspaceError } from '../core/errors';
import { checkRelativePath } from '../core/files/pathSafety';
import type { DocumentWarmer } from '../runtime/PrefetchScheduler';
import type { TabController } from '../runtime/TabDemoter';
import { WatchChannel } from '../runtime/Watch';

/** The folder-relative, canonical path of `uri`, or undefined when it is not inside `folder`. */
export function folderRelativePath(folder: vscode.Uri, uri: vscode.Uri): string | undefined {
  if (uri.scheme !== folder.scheme || uri.authority !== folder.authority) return undefined;
  const relative = path.posix.relative(folder.path, uri.path);
  if (relative === '' || checkRelativePath(relative, 'posix').length > 0) return undefined;
  return relative;
}

/** The URI of a folder-relative path; throws 'validation' for a path that is not safe. */
export function folderUri(folder: vscode.Uri, relative: string): vscode.Uri {
  const problem = checkRelativePath(relative, 'posix')[0];
  if (problem !== undefined) {
    throw new TwinspaceError('validation', `not a folder path: ${problem.message}`);
  }
  return vscode.Uri.joinPath(folder, ...relative.split('/'));
}

export function tabId(viewColumn: number, uri: vscode.Uri): string {
  return `${viewColumn}|${uri.toString()}`;
}

export interface VscodeTabsOptions {
  readonly folder: vscode.Uri;
  /** Clock for last-active times; default Date.now. */
  readonly now?: () => number;
  /** Extra protection, e.g. a pinned graph node; default none. */
  readonly isPinned?: (relativePath: string) => boolean;
}

export class VscodeTabs implements TabController, DocumentWarmer, vscode.Disposable {
  /** Bumped whenever tabs open, close or change (wakes the TabDemoter). */
  readonly changes = new WatchChannel<number>(0);
  private readonly folder: vscode.Uri;
  private readonly now: () => number;
  private readonly isPinned: (relativePath: string) => boolean;
  private readonly lastActive = new Map<string, number>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(options: VscodeTabsOptions) {
    this.folder = options.folder;
    this.now = options.now ?? Date.now;
    this.isPinned = options.isPinned ?? (() => false);
    this.markActive();
    this.disposables.push(
      vscode.window.tabGroups.onDidChangeTabs(() => {
        this.onTabsChanged();
      }),
      vscode.window.tabGroups.onDidChangeTabGroups(() => {
        this.onTabsChanged();
      }),
    );
  }

  private onTabsChanged(): void {
    this.markActive();
    if (!this.changes.closed) this.changes.set(this.changes.get() + 1);
  }

  /** Records the time for every tab that is active in its group, and forgets closed tabs. */
  private markActive(): void {
    const now = this.now();
    const open = new Set<string>();
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        if (!(tab.input instanceof vscode.TabInputText)) continue;
        const id = tabId(group.viewColumn, tab.input.uri);
        open.add(id);
        if (tab.isActive) this.lastActive.set(id, now);
      }
    }
    for (const id of [...this.lastActive.keys()]) if (!open.has(id)) this.lastActive.delete(id);
  }

  tabs(): TabInfo[] {
    const out: TabInfo[] = [];
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        if (!(tab.input instanceof vscode.TabInputText)) continue;
        const id = tabId(group.viewColumn, tab.input.uri);
        const relative = folderRelativePath(this.folder, tab.input.uri);
        out.push({
          id,
          ...(relative !== undefined ? { path: relative } : {}),
          lastActiveAt: this.lastActive.get(id) ?? 0,
          dirty: tab.isDirty,
          pinned: tab.isPinned || (relative !== undefined && this.isPinned(relative)),
          active: tab.isActive,
        });
      }
    }
    return out;
  }

  async close(ids: readonly string[]): Promise<void> {
    const wanted = new Set(ids);
    const tabs: vscode.Tab[] = [];
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        if (!(tab.input instanceof vscode.TabInputText)) continue;
        // Checked again here: the tab may have become dirty since the plan was made.
        if (tab.isDirty || tab.isPinned || tab.isActive) continue;
        if (wanted.has(tabId(group.viewColumn, tab.input.uri))) tabs.push(tab);
      }
    }
    if (tabs.length > 0) await vscode.window.tabGroups.close(tabs, true);
  }

  async warm(relative: string): Promise<void> {
    await vscode.workspace.openTextDocument(folderUri(this.folder, relative));
  }

  isWarm(relative: string): boolean {
    let target: string;
    try {
      target = folderUri(this.folder, relative).toString();
    } catch {
      return true; // never warmable: do not try
    }
    return vscode.workspace.textDocuments.some((d) => d.uri.toString() === target);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.changes.close();
  }
}
