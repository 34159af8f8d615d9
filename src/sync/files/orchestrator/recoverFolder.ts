/**
 * The recovery scan, run when the orchestrator opens a folder (under its lock, before any plan):
 *
 *  1. Every `ActionStarted` without a later `ActionCompleted`/`ActionHalted` (the process died
 *     mid-action) is settled by looking at the disk:
 *       - its temp file, if it is still there, is removed;
 *       - write / conflictCopy: the target holds the intended hash → completed, else halted
 *         'interrupted' (the rename is atomic, so the target holds the old content, untouched);
 *       - delete: the path is gone → completed, else halted 'interrupted';
 *       - mkdir: the directory exists → completed, else halted 'interrupted';
 *       - rename: source gone and target present (with the intended hash for a file) →
 *         completed, else halted 'interrupted'.
 *     Each decision is appended to the journal with `"recovered":true`.
 *  2. Any other temp file of ours left in the folder (`.twinspace-<hex>.tmp`) is removed.
 * Returns a report of all it did; the caller turns it into diagnostics.
 */
import { promises as fs } from 'node:fs';
import { isSafeRelativePath } from '../../../core/files/pathSafety';
import type { FolderView } from './FolderView';
import type { Journal, JournalRecord, JournalTornTail } from './Journal';
import { isTempName, sweepTempFiles } from './tempFiles';

export interface RecoveredAction {
  readonly actionId: string;
  readonly action: JournalRecord['action'];
  readonly outcome: 'completed' | 'interrupted';
  readonly message: string;
}

export interface RecoveryReport {
  /** A torn last journal line was dropped. */
  readonly tornTail?: JournalTornTail;
  readonly actions: readonly RecoveredAction[];
  /** Temp files removed (plan paths). */
  readonly removedTempFiles: readonly string[];
  /** The temp-file sweep stopped before seeing the whole folder. */
  readonly sweepTruncated: boolean;
}

/** Started actions that have no completion or halt after them, in journal order. */
export function danglingStarts(records: readonly JournalRecord[]): JournalRecord[] {
  const open = new Map<string, JournalRecord>();
  for (const record of records) {
    if (record.type === 'ActionStarted') open.set(record.actionId, record);
    else open.delete(record.actionId);
  }
  return [...open.values()];
}

export async function recoverFolder(
  view: FolderView,
  journal: Journal,
  records: readonly JournalRecord[],
  tornTail?: JournalTornTail,
): Promise<RecoveryReport> {
  const actions: RecoveredAction[] = [];
  const removed = new Set<string>();
  for (const start of danglingStarts(records)) {
    if (start.temp !== undefined && (await removeTemp(view, start.temp))) removed.add(start.temp);
    const { done, message } = await settle(view, start);
    await journal.append({
      type: done ? 'ActionCompleted' : 'ActionHalted',
      actionId: start.actionId,
      action: start.action,
      ...(done ? {} : { reason: { code: 'interrupted', message } }),
      recovered: true,
    });
    actions.push({
      actionId: start.actionId,
      action: start.action,
      outcome: done ? 'completed' : 'interrupted',
      message,
    });
  }
  const sweep = await sweepTempFiles(view.folderReal);
  for (const rel of sweep.removed) removed.add(rel);
  return {
    ...(tornTail !== undefined ? { tornTail } : {}),
    actions,
    removedTempFiles: [...removed].sort(),
    sweepTruncated: sweep.truncated,
  };
}

/** Removes a journaled temp file, only if it is safely inside the folder and is ours. */
async function removeTemp(view: FolderView, temp: string): Promise<boolean> {
  const name = temp.slice(temp.lastIndexOf('/') + 1);
  if (!isSafeRelativePath(temp) || !isTempName(name)) return false;
  if ((await view.checkParents(temp)) !== undefined) return false;
  const entry = await view.entry(temp);
  if (entry.kind !== 'file') return false;
  await fs.rm(view.abs(temp), { force: true });
  return true;
}

async function settle(
  view: FolderView,
  start: JournalRecord,
): Promise<{ done: boolean; message: string }> {
  const a = start.action;
  const safe = (p: string | undefined): p is string => p !== undefined && isSafeRelativePath(p);
  switch (a.type) {
    case 'write':
    case 'conflictCopy': {
      const target = a.type === 'write' ? a.path : a.copyPath;
      if (!safe(target) || (await view.checkParents(target)) !== undefined) {
        return {
          done: false,
          message: 'interrupted; the target is not reachable inside the folder',
        };
      }
      const hash = await view.fileHash(target);
      if (hash !== undefined && hash === start.intendedHash) {
        return { done: true, message: `${target} holds the new content: completed` };
      }
      return { done: false, message: `interrupted before ${target} was replaced: old state kept` };
    }
    case 'delete': {
      if (!safe(a.path)) return { done: false, message: 'interrupted' };
      const entry = await view.entry(a.path);
      return entry.kind === 'absent'
        ? { done: true, message: `${a.path} is gone: completed` }
        : { done: false, message: `interrupted before ${a.path} was deleted: kept` };
    }
    case 'mkdir': {
      if (!safe(a.path)) return { done: false, message: 'interrupted' };
      const entry = await view.entry(a.path);
      return entry.kind === 'dir'
        ? { done: true, message: `${a.path} exists: completed` }
        : { done: false, message: `interrupted before ${a.path} was created` };
    }
    case 'rename': {
      if (!safe(a.from) || !safe(a.to)) return { done: false, message: 'interrupted' };
      const source = await view.entry(a.from);
      const target = await view.entry(a.to);
      let targetMatches = target.kind === 'file' || target.kind === 'dir';
      if (target.kind === 'file' && start.intendedHash !== undefined) {
        targetMatches = (await view.fileHash(a.to)) === start.intendedHash;
      }
      return source.kind === 'absent' && targetMatches
        ? { done: true, message: `${a.from} is at ${a.to}: completed` }
        : { done: false, message: `interrupted before ${a.from} was moved: nothing moved` };
    }
  }
}
