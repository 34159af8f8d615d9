/**
 * What the file sync of one linked folder reports to the user's view (status bar, Sync Panel,
 * CLI `status`): progress, conflicts, the dry-run plan waiting for confirmation on the first link,
 * and the git branch/HEAD of each device. Plain data, produced by src/sync/files/FolderSync.ts.
 */

/** A conflict kept as a copy next to the file: both contents survive until the user picks one. */
export interface FileConflict {
  /** Stable id (the copy's path). */
  readonly id: string;
  /** The file both devices changed (folder-relative, `/` separators). */
  readonly path: string;
  /** Where the losing version was kept (folder-relative). */
  readonly copyPath: string;
  readonly kind: 'text' | 'binary';
  /** Device whose version is in the copy. */
  readonly device: string;
  /** When the conflict was detected (ms since the epoch). */
  readonly at: number;
}

/** How to resolve a conflict: keep the file as it is, or put the copy's content in its place. */
export type ConflictChoice = 'keepCurrent' | 'keepCopy';

/** How the first sync of a newly linked folder treats files that differ. */
export type LinkChoice = 'merge' | 'takePeer' | 'keepMine';

export type PlanItemAction = 'create' | 'update' | 'delete' | 'conflict';

export interface PlanItem {
  readonly action: PlanItemAction;
  readonly path: string;
}

/** The dry-run plan shown before the first sync of a folder runs. */
export interface FolderPlanSummary {
  readonly creates: number;
  readonly updates: number;
  readonly deletes: number;
  readonly conflicts: number;
  /** The first items (at most {@link MAX_PLAN_ITEMS}), in path order. */
  readonly items: readonly PlanItem[];
}

export const MAX_PLAN_ITEMS = 200;

export interface GitHead {
  readonly branch: string;
  readonly head: string;
}

export interface DeviceGitHead extends GitHead {
  readonly deviceId: string;
}

export type FileSyncState = 'off' | 'scanning' | 'awaiting-confirmation' | 'syncing' | 'in-sync';

export interface FileSyncStatus {
  readonly state: FileSyncState;
  /** Files known to the index. */
  readonly files: number;
  /** Files whose content is still being fetched or written. */
  readonly pending: number;
  /** 0..100, for "syncing N%". */
  readonly percent: number;
  readonly conflicts: readonly FileConflict[];
  readonly plan?: FolderPlanSummary;
  /** This device's branch/HEAD, when the folder is a git work tree. */
  readonly git?: GitHead;
  /** Linked devices on another branch or HEAD than this one. */
  readonly gitMismatches: readonly DeviceGitHead[];
}

export const FILE_SYNC_OFF: FileSyncStatus = Object.freeze({
  state: 'off',
  files: 0,
  pending: 0,
  percent: 100,
  conflicts: [],
  gitMismatches: [],
});
