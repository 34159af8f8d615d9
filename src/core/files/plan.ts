/**
 * The plan that turns remote file changes into ordered actions on the folder (pure).
 *
 * `buildPlan(changes, currentIndex)` compares what the peer wants with what the folder holds now
 * and returns the actions to take, in an order that is always safe to run one by one:
 *   1. mkdir, shallowest first (every missing ancestor of a new path gets its own mkdir),
 *   2. rename, each after the rename that frees its target,
 *   3. mkdir under a renamed directory (it exists only after step 2),
 *   4. write and conflictCopy,
 *   5. delete, deepest first (a directory after everything in it).
 * It also returns a summary for the dry-run UI (files to create, update, delete; conflicts) and
 * the changes it did not turn into actions, each with a reason.
 *
 * Concurrency guards: every action that replaces or removes something the plan saw carries the
 * hash it saw (`expectedHash`); a create carries `expectedHash: null` (the path must still be
 * free). The executor halts an action whose guard no longer holds ('stale'), so a local edit made
 * after the plan was built is never overwritten.
 *
 * Conflict copies are named `name.twinspace-conflict-<device>-<YYYYMMDD-HHMMSS>.ext` (UTC, from
 * the time carried by the change; `-2`, `-3`… before the extension if that name is taken).
 */
import {
  MAX_NAME_BYTES,
  ancestorPaths,
  baseName,
  foldPath,
  isSameOrInside,
  joinPath,
  parentPath,
  pathDepth,
  utf8Length,
} from './pathSafety';

// ---- actions ----

export interface WriteAction {
  readonly type: 'write';
  readonly path: string;
  readonly content: Uint8Array;
  /** Hash of `content` when the planner already knows it (saves hashing it again). */
  readonly contentHash?: string;
  /** Permission bits to set (0o755 for an executable); absent: keep the existing file's. */
  readonly mode?: number;
  /** Hash of the file the plan expects to replace; null: the path must not exist yet. */
  readonly expectedHash?: string | null;
}

export interface DeleteAction {
  readonly type: 'delete';
  /** A file, or a directory (removed only when empty). */
  readonly path: string;
  /** Hash of the file the plan expects to remove (files only). */
  readonly expectedHash?: string;
}

export interface MkdirAction {
  readonly type: 'mkdir';
  readonly path: string;
}

export interface RenameAction {
  readonly type: 'rename';
  readonly from: string;
  readonly to: string;
  /** Hash of the file at `from` (files only). The target must not exist. */
  readonly expectedHash?: string;
}

export interface ConflictCopyAction {
  readonly type: 'conflictCopy';
  /** The file in conflict (left as it is). */
  readonly path: string;
  /** Where the other version goes (must not exist yet). */
  readonly copyPath: string;
  readonly content: Uint8Array;
  readonly mode?: number;
}

export type FileAction =
  WriteAction | DeleteAction | MkdirAction | RenameAction | ConflictCopyAction;

export interface PlannedAction {
  /** Position in the plan, from '1': unique within a plan. */
  readonly id: string;
  readonly action: FileAction;
}

/**
 * Why the executor halted an action at run time (validation halts use the validators' codes).
 *  - stale: the disk no longer holds what the plan saw (nothing was changed)
 *  - outside_folder: the path resolves, through a symbolic link, outside the folder
 *  - symlink: the path or one of its directories is a symbolic link (not followed, not replaced)
 *  - parent_missing / not_directory: the parent directory is absent or is not a directory
 *  - is_directory / not_regular_file: the target is not a regular file
 *  - not_empty: a directory to delete still has entries
 *  - target_exists: a rename or conflict copy target is taken
 *  - dependency_halted: the directory this action goes into was not created
 *  - interrupted: the process stopped mid-action; recovery found the old state on disk
 *  - io_error: the file system refused (the message says why)
 */
export type ExecutionHaltCode =
  | 'stale'
  | 'outside_folder'
  | 'symlink'
  | 'parent_missing'
  | 'not_directory'
  | 'is_directory'
  | 'not_regular_file'
  | 'not_empty'
  | 'target_exists'
  | 'dependency_halted'
  | 'interrupted'
  | 'io_error';

// ---- input ----

/** What a peer asks for. `hash` is the content hash in the same form as the index's hashes. */
export type RemoteChange =
  | {
      readonly type: 'put';
      readonly path: string;
      readonly content: Uint8Array;
      readonly hash: string;
      readonly mode?: number;
    }
  | { readonly type: 'remove'; readonly path: string }
  | { readonly type: 'mkdir'; readonly path: string }
  | { readonly type: 'rename'; readonly from: string; readonly to: string }
  | {
      /** Keep `content` next to `path` as a conflict copy (the version that lost). */
      readonly type: 'conflict';
      readonly path: string;
      readonly content: Uint8Array;
      readonly deviceShortId: string;
      /** When the conflict was decided, epoch milliseconds (names the copy). */
      readonly at: number;
      readonly mode?: number;
    };

export interface IndexEntry {
  readonly kind: 'file' | 'dir';
  /** Content hash (files). */
  readonly hash?: string;
  /** Permission bits (files), when known. */
  readonly mode?: number;
}

/** The folder as it is now: canonical path → entry. Ancestors of listed paths are directories. */
export type CurrentIndex = ReadonlyMap<string, IndexEntry>;

export interface BuildPlanOptions {
  /** Treat paths differing only in case as the same when picking conflict-copy names. */
  readonly caseInsensitive?: boolean;
}

// ---- output ----

export type SkipReason =
  | 'unchanged'
  | 'is_directory'
  | 'is_file'
  | 'source_missing'
  | 'target_exists'
  | 'rename_cycle'
  | 'rename_overlap'
  | 'not_empty';

export interface SkippedChange {
  readonly change: RemoteChange;
  readonly reason: SkipReason;
  readonly message: string;
}

export interface PlanSummary {
  readonly create: readonly string[];
  readonly update: readonly string[];
  readonly delete: readonly string[];
  readonly mkdir: readonly string[];
  readonly rename: readonly { readonly from: string; readonly to: string }[];
  readonly conflicts: readonly { readonly path: string; readonly copyPath: string }[];
  readonly unchanged: number;
  readonly skipped: number;
}

export interface Plan {
  readonly actions: readonly PlannedAction[];
  readonly summary: PlanSummary;
  /** Changes that became no action (unchanged ones excluded), with why. */
  readonly skipped: readonly SkippedChange[];
}

/** The paths an action writes, creates or removes (for validation and reporting). */
export function actionPaths(action: FileAction): string[] {
  switch (action.type) {
    case 'rename':
      return [action.from, action.to];
    case 'conflictCopy':
      return [action.path, action.copyPath];
    default:
      return [action.path];
  }
}

/** The path an action creates or replaces, if any. */
export function actionTarget(action: FileAction): string | undefined {
  switch (action.type) {
    case 'write':
    case 'mkdir':
      return action.path;
    case 'rename':
      return action.to;
    case 'conflictCopy':
      return action.copyPath;
    case 'delete':
      return undefined;
  }
}

// ---- conflict copy names ----

/** UTC `YYYYMMDD-HHMMSS` of an epoch-milliseconds time. */
export function formatConflictTime(at: number): string {
  const date = new Date(Number.isFinite(at) ? at : 0);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}

/**
 * The conflict-copy path for `path`: `dir/stem.twinspace-conflict-<device>-<time>[-n].ext`.
 * `taken(candidate)` says whether a name is already used; the first free one is returned. The
 * device id is reduced to `[A-Za-z0-9_-]` (at most 16 characters) and a long stem is shortened so
 * the name stays within {@link MAX_NAME_BYTES}.
 */
export function conflictCopyPath(
  path: string,
  deviceShortId: string,
  at: number,
  taken: (candidate: string) => boolean = () => false,
): string {
  const dir = parentPath(path);
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  const hasExt = dot > 0;
  let stem = hasExt ? name.slice(0, dot) : name;
  const ext = hasExt ? name.slice(dot) : '';
  const device = deviceShortId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 16) || 'device';
  const marker = `.twinspace-conflict-${device}-${formatConflictTime(at)}`;
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : `-${n}`;
    const fixedBytes = utf8Length(marker + suffix + ext);
    while (stem.length > 0 && utf8Length(stem) + fixedBytes > MAX_NAME_BYTES) {
      stem = Array.from(stem).slice(0, -1).join('');
    }
    const candidate = joinPath(dir, `${stem}${marker}${suffix}${ext}`);
    if (!taken(candidate)) return candidate;
  }
}

// ---- buildPlan ----

interface Draft {
  readonly mkdirs: Map<string, 'before' | 'after'>;
  readonly renames: RenameAction[];
  readonly writes: (WriteAction | ConflictCopyAction)[];
  readonly deletes: DeleteAction[];
}

/**
 * Orders `changes` against `currentIndex` into a plan. Later changes to the same path replace
 * earlier ones (a conflict is keyed by its copy, so it never replaces the put of the winner).
 */
export function buildPlan(
  changes: readonly RemoteChange[],
  currentIndex: CurrentIndex,
  options: BuildPlanOptions = {},
): Plan {
  const caseInsensitive = options.caseInsensitive ?? false;
  const skipped: SkippedChange[] = [];
  let unchanged = 0;
  const skip = (change: RemoteChange, reason: SkipReason, message: string): void => {
    if (reason === 'unchanged') unchanged++;
    else skipped.push({ change, reason, message });
  };

  // Last change per key wins; keep first-seen order.
  const byKey = new Map<string, RemoteChange>();
  for (const change of changes) {
    const key =
      change.type === 'rename'
        ? `path:${change.from}`
        : change.type === 'conflict'
          ? `conflict:${change.path}:${change.deviceShortId}:${change.at}`
          : `path:${change.path}`;
    byKey.delete(key);
    byKey.set(key, change);
  }

  const existingDirs = new Set<string>();
  for (const [path, entry] of currentIndex) {
    for (const ancestor of ancestorPaths(path)) existingDirs.add(ancestor);
    if (entry.kind === 'dir') existingDirs.add(path);
  }
  const kindOf = (path: string): 'file' | 'dir' | undefined =>
    currentIndex.get(path)?.kind ?? (existingDirs.has(path) ? 'dir' : undefined);

  const draft: Draft = { mkdirs: new Map(), renames: [], writes: [], deletes: [] };
  const summary = {
    create: [] as string[],
    update: [] as string[],
    delete: [] as string[],
    rename: [] as { from: string; to: string }[],
    conflicts: [] as { path: string; copyPath: string }[],
  };

  // Renames first: they decide which paths are vacated and which directories appear.
  const renameChanges = [...byKey.values()].filter(
    (c): c is Extract<RemoteChange, { type: 'rename' }> => c.type === 'rename',
  );
  const vacated = new Set(renameChanges.map((c) => c.from));
  const renamedDirs: string[] = [];
  const acceptedRenames: RenameAction[] = [];
  for (const change of renameChanges) {
    const fromKind = kindOf(change.from);
    if (fromKind === undefined) {
      skip(change, 'source_missing', `${change.from} does not exist here`);
      continue;
    }
    if (change.from === change.to) {
      skip(change, 'unchanged', 'renamed onto itself');
      continue;
    }
    if (isSameOrInside(change.from, change.to)) {
      skip(change, 'rename_overlap', `cannot move ${change.from} into itself`);
      continue;
    }
    if (kindOf(change.to) !== undefined && !vacated.has(change.to)) {
      skip(change, 'target_exists', `${change.to} already exists here`);
      continue;
    }
    const fileParent = ancestorPaths(change.to).find(
      (dir) => currentIndex.get(dir)?.kind === 'file' && !vacated.has(dir),
    );
    if (fileParent !== undefined) {
      skip(change, 'is_file', `${fileParent} is a file here`);
      continue;
    }
    const hash = currentIndex.get(change.from)?.hash;
    acceptedRenames.push({
      type: 'rename',
      from: change.from,
      to: change.to,
      ...(fromKind === 'file' && hash !== undefined ? { expectedHash: hash } : {}),
    });
    if (fromKind === 'dir') renamedDirs.push(change.to);
  }
  // Renames that nest into each other (one's source or target inside another's) have no order
  // that is clearly right: they are skipped, as are two renames onto one target.
  const nested = (a: string, b: string): boolean =>
    a !== b && (isSameOrInside(a, b) || isSameOrInside(b, a));
  const clear = acceptedRenames.filter((x, i) => {
    const other = acceptedRenames.find(
      (y, j) =>
        j !== i &&
        ((j < i && y.to === x.to) ||
          [x.from, x.to].some((p) => nested(p, y.from) || nested(p, y.to))),
    );
    if (other === undefined) return true;
    const change = renameChanges.find((c) => c.from === x.from && c.to === x.to);
    if (change !== undefined) {
      skip(change, 'rename_overlap', `${x.from} → ${x.to} overlaps ${other.from} → ${other.to}`);
    }
    return false;
  });
  for (const rename of orderRenames(clear, (rename) => {
    const change = renameChanges.find((c) => c.from === rename.from && c.to === rename.to);
    if (change !== undefined) skip(change, 'rename_cycle', `${rename.from} is part of a cycle`);
  })) {
    draft.renames.push(rename);
    summary.rename.push({ from: rename.from, to: rename.to });
  }
  const renameTargets = new Set(draft.renames.map((r) => r.to));

  // After the renames: a directory exists if it existed and was not moved away, is a rename's
  // target, or existed under a directory that a rename moved.
  const movedDirs = draft.renames.filter((r) => renamedDirs.includes(r.to));
  const existsAfterRenames = (dir: string): boolean =>
    (existingDirs.has(dir) && !draft.renames.some((r) => isSameOrInside(r.from, dir))) ||
    renameTargets.has(dir) ||
    movedDirs.some(
      (r) => isSameOrInside(r.to, dir) && existingDirs.has(r.from + dir.slice(r.to.length)),
    );
  const willExist = (dir: string): boolean => draft.mkdirs.has(dir) || existsAfterRenames(dir);
  const underRenamedDir = (dir: string): boolean =>
    movedDirs.some((r) => dir !== r.to && isSameOrInside(r.to, dir));
  const plannedTargets = new Set<string>();
  const plannedFiles = new Set<string>();
  const takenKeys = new Set([...currentIndex.keys()].map((p) => foldPath(p, caseInsensitive)));
  const fileRenameTargets = new Set(
    draft.renames.filter((r) => !renamedDirs.includes(r.to)).map((r) => r.to),
  );
  const isFileAfter = (path: string): boolean =>
    (kindOf(path) === 'file' && !draft.renames.some((r) => isSameOrInside(r.from, path))) ||
    fileRenameTargets.has(path) ||
    plannedFiles.has(path);
  /** The ancestor of `path` that is (or will be) a file, if any. */
  const fileAncestor = (path: string): string | undefined => ancestorPaths(path).find(isFileAfter);
  // Directories under which the plan puts something (they must stay directories).
  const plannedAncestors = new Set<string>();
  for (const t of renameTargets) for (const a of ancestorPaths(t)) plannedAncestors.add(a);
  const plannedUnder = (path: string): boolean => plannedAncestors.has(path);
  const addTarget = (path: string, isFile: boolean): void => {
    plannedTargets.add(path);
    takenKeys.add(foldPath(path, caseInsensitive));
    if (isFile) plannedFiles.add(path);
    for (const a of ancestorPaths(path)) plannedAncestors.add(a);
  };
  const addMkdir = (dir: string): void => {
    draft.mkdirs.set(dir, underRenamedDir(dir) ? 'after' : 'before');
    for (const a of ancestorPaths(dir)) plannedAncestors.add(a);
  };
  const ensureParents = (path: string): void => {
    for (const dir of ancestorPaths(path)) if (!willExist(dir)) addMkdir(dir);
  };
  for (const rename of draft.renames) ensureParents(rename.to);
  const taken = (candidate: string): boolean => takenKeys.has(foldPath(candidate, caseInsensitive));

  for (const change of byKey.values()) {
    switch (change.type) {
      case 'rename':
        break;
      case 'put': {
        const current = currentIndex.get(change.path);
        const kind = kindOf(change.path);
        if (kind === 'dir' || willExist(change.path) || plannedUnder(change.path)) {
          skip(change, 'is_directory', `${change.path} is a directory here`);
          break;
        }
        const blocker = fileAncestor(change.path);
        if (blocker !== undefined) {
          skip(change, 'is_file', `${blocker} is a file here`);
          break;
        }
        const modeChanged =
          change.mode !== undefined &&
          current?.mode !== undefined &&
          (current.mode & 0o111) !== (change.mode & 0o111);
        if (current !== undefined && current.hash === change.hash && !modeChanged) {
          skip(change, 'unchanged', 'same content');
          break;
        }
        ensureParents(change.path);
        const isUpdate = current !== undefined;
        draft.writes.push({
          type: 'write',
          path: change.path,
          content: change.content,
          contentHash: change.hash,
          ...(change.mode !== undefined ? { mode: change.mode } : {}),
          expectedHash: isUpdate ? (current.hash ?? null) : null,
        });
        addTarget(change.path, true);
        (isUpdate ? summary.update : summary.create).push(change.path);
        break;
      }
      case 'mkdir': {
        const kind = kindOf(change.path);
        const blocker = kind === 'file' ? change.path : fileAncestor(change.path);
        if (blocker !== undefined || isFileAfter(change.path)) {
          skip(change, 'is_file', `${blocker ?? change.path} is a file here`);
          break;
        }
        if (kind === 'dir' || willExist(change.path)) {
          skip(change, 'unchanged', 'directory exists');
          break;
        }
        ensureParents(change.path);
        addMkdir(change.path);
        addTarget(change.path, false);
        break;
      }
      case 'remove': {
        const kind = kindOf(change.path);
        if (kind === undefined) {
          skip(change, 'unchanged', 'already absent');
          break;
        }
        const hash = currentIndex.get(change.path)?.hash;
        draft.deletes.push({
          type: 'delete',
          path: change.path,
          ...(kind === 'file' && hash !== undefined ? { expectedHash: hash } : {}),
        });
        break;
      }
      case 'conflict': {
        const copyPath = conflictCopyPath(change.path, change.deviceShortId, change.at, taken);
        const blocker = fileAncestor(copyPath);
        if (blocker !== undefined) {
          skip(change, 'is_file', `${blocker} is a file here`);
          break;
        }
        ensureParents(copyPath);
        draft.writes.push({
          type: 'conflictCopy',
          path: change.path,
          copyPath,
          content: change.content,
          ...(change.mode !== undefined ? { mode: change.mode } : {}),
        });
        addTarget(copyPath, true);
        summary.conflicts.push({ path: change.path, copyPath });
        break;
      }
    }
  }

  // A directory delete that would take something kept (an entry not deleted, or anything this
  // plan puts there) is dropped: nothing is lost, the directory stays.
  const deletedPaths = new Set(draft.deletes.map((d) => d.path));
  const keeps = (dir: string): boolean => {
    for (const path of currentIndex.keys()) {
      if (path !== dir && isSameOrInside(dir, path) && !deletedPaths.has(path)) {
        if (!draft.renames.some((r) => isSameOrInside(r.from, path))) return true;
      }
    }
    for (const path of plannedTargets) if (isSameOrInside(dir, path)) return true;
    for (const r of draft.renames) if (isSameOrInside(dir, r.to)) return true;
    for (const m of draft.mkdirs.keys()) if (isSameOrInside(dir, m)) return true;
    return false;
  };
  const deepestFirst = [...draft.deletes].sort(compareDeepestFirst);
  const keptDeletes: DeleteAction[] = [];
  for (const del of deepestFirst) {
    if (kindOf(del.path) === 'dir' && keeps(del.path)) {
      deletedPaths.delete(del.path);
      const change = byKey.get(`path:${del.path}`);
      if (change !== undefined) {
        skip(change, 'not_empty', `${del.path} still holds files that are kept`);
      }
      continue;
    }
    keptDeletes.push(del);
    summary.delete.push(del.path);
  }

  const mkdirsIn = (phase: 'before' | 'after'): MkdirAction[] =>
    [...draft.mkdirs]
      .filter(([, p]) => p === phase)
      .map(([path]) => path)
      .sort(compareShallowFirst)
      .map((path) => ({ type: 'mkdir', path }));
  const before = mkdirsIn('before');
  const after = mkdirsIn('after');
  const writes = [...draft.writes].sort((a, b) =>
    compareShallowFirst(actionTarget(a) ?? '', actionTarget(b) ?? ''),
  );
  const ordered: FileAction[] = [...before, ...draft.renames, ...after, ...writes, ...keptDeletes];

  return {
    actions: ordered.map((action, index) => ({ id: String(index + 1), action })),
    summary: {
      create: summary.create,
      update: summary.update,
      delete: summary.delete,
      mkdir: [...before, ...after].map((m) => m.path),
      rename: summary.rename,
      conflicts: summary.conflicts,
      unchanged,
      skipped: skipped.length,
    },
    skipped,
  };
}

/** Renames ordered so each runs after the rename that vacates its target; cycles are dropped. */
function orderRenames(
  renames: readonly RenameAction[],
  onCycle: (rename: RenameAction) => void,
): RenameAction[] {
  const bySource = new Map(renames.map((r) => [r.from, r]));
  const done = new Set<RenameAction>();
  const out: RenameAction[] = [];
  for (const start of renames) {
    if (done.has(start)) continue;
    // Follow the chain start → (rename from start.to) → … to its end, then emit in reverse.
    const chain: RenameAction[] = [];
    const onChain = new Set<RenameAction>();
    let current: RenameAction | undefined = start;
    let cyclic = false;
    while (current !== undefined && !done.has(current)) {
      if (onChain.has(current)) {
        cyclic = true;
        break;
      }
      chain.push(current);
      onChain.add(current);
      current = bySource.get(current.to);
    }
    if (cyclic) {
      for (const r of chain) {
        done.add(r);
        onCycle(r);
      }
      continue;
    }
    for (const r of chain.reverse()) {
      done.add(r);
      out.push(r);
    }
  }
  return out;
}

function compareShallowFirst(a: string, b: string): number {
  return pathDepth(a) - pathDepth(b) || (a < b ? -1 : a > b ? 1 : 0);
}

function compareDeepestFirst(a: DeleteAction, b: DeleteAction): number {
  return pathDepth(b.path) - pathDepth(a.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}
