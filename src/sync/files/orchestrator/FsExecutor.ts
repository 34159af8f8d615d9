/**
 * The wet executor: changes the folder, one action at a time, crash-safely.
 *
 *  write / conflictCopy  temp file in the target's directory (`.twinspace-<hex>.tmp`, created
 *                        exclusively) → write → fsync → close → re-check the target → rename over
 *                        the target → fsync the directory. A crash leaves the old content or the
 *                        new one under the target name, never a torn file; at worst our temp file,
 *                        which recovery removes. Mode: `mode` when given (permission bits only),
 *                        else the replaced file's, else the process default (umask).
 *  delete                unlink a file, or rmdir an empty directory; fsync the directory.
 *  mkdir                 one level (the plan creates parents first); fsync the parent.
 *  rename                refuses an existing target (except a case-only rename of the same
 *                        file); fsyncs both directories.
 * Guards: the symlink-aware containment check of {@link FolderView.checkParents} on every path,
 * targets that are links are never touched, and `expectedHash` (null: must be absent) is checked
 * before and again just before the rename: a file changed since the plan was made halts the
 * action as 'stale' and is left as it is.
 */
import { promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import { DirectorySyncs } from '../../../runtime/DirectorySyncs';
import { joinPath, parentPath, foldPath } from '../../../core/files/pathSafety';
import type {
  ConflictCopyAction,
  DeleteAction,
  ExecutionHaltCode,
  FileAction,
  MkdirAction,
  RenameAction,
  WriteAction,
} from '../../../core/files/plan';
import { describeError } from '../../../core/errors';
import type { ActionExecutor, ActionOutcome, PreparedAction } from './ActionExecutor';
import type { DiskEntry, FolderView } from './FolderView';
import { newTempName } from './tempFiles';

export interface FsExecutorOptions {
  /** Called after the temp file is durable and before it is renamed into place (tests). */
  readonly beforeCommit?: (action: FileAction) => Promise<void>;
}

const COMPLETED: ActionOutcome = { status: 'completed' };

function halted(code: ExecutionHaltCode, message: string): ActionOutcome {
  return { status: 'halted', code, message };
}

export class FsExecutor implements ActionExecutor {
  readonly wet = true;

  /** Concurrent writes into one folder share its fsyncs. */
  private readonly directories = new DirectorySyncs();

  constructor(
    private readonly view: FolderView,
    private readonly options: FsExecutorOptions = {},
  ) {}

  prepare(action: FileAction): PreparedAction {
    switch (action.type) {
      case 'write':
        return {
          temp: joinPath(parentPath(action.path), newTempName()),
          intendedHash: action.contentHash ?? this.view.hash(action.content),
        };
      case 'conflictCopy':
        return {
          temp: joinPath(parentPath(action.copyPath), newTempName()),
          intendedHash: this.view.hash(action.content),
        };
      case 'rename':
        return action.expectedHash !== undefined ? { intendedHash: action.expectedHash } : {};
      default:
        return {};
    }
  }

  async execute(action: FileAction, prepared: PreparedAction): Promise<ActionOutcome> {
    try {
      switch (action.type) {
        case 'write':
        case 'conflictCopy':
          return await this.write(action, prepared);
        case 'delete':
          return await this.delete(action);
        case 'mkdir':
          return await this.mkdir(action);
        case 'rename':
          return await this.rename(action);
      }
    } catch (error) {
      return halted('io_error', describeError(error));
    }
  }

  private async write(
    action: WriteAction | ConflictCopyAction,
    prepared: PreparedAction,
  ): Promise<ActionOutcome> {
    const target = action.type === 'write' ? action.path : action.copyPath;
    const expected = action.type === 'write' ? action.expectedHash : null;
    const parentHalt = await this.view.checkParents(target);
    if (parentHalt !== undefined) return halted(parentHalt.code, parentHalt.message);
    const before = await this.view.entry(target);
    const refusal = await this.checkTarget(target, before, expected, action.type);
    if (refusal !== undefined) return refusal;

    const mode =
      action.mode !== undefined
        ? action.mode & 0o777
        : before.kind === 'file'
          ? before.stat.mode & 0o777
          : undefined;
    const temp = prepared.temp ?? joinPath(parentPath(target), newTempName());
    const tempAbs = this.view.abs(temp);
    let renamed = false;
    try {
      const handle = await fs.open(tempAbs, 'wx', mode ?? 0o666);
      try {
        if (mode !== undefined) await handle.chmod(mode); // the umask must not drop the exec bit
        await handle.writeFile(action.content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.options.beforeCommit?.(action);
      // Re-check: a local change between the first check and now must not be overwritten.
      const now = await this.view.entry(target);
      if (changed(before, now)) {
        return halted('stale', `${target} changed while the new version was being written`);
      }
      await fs.rename(tempAbs, this.view.abs(target));
      renamed = true;
    } finally {
      if (!renamed) await fs.rm(tempAbs, { force: true }).catch(() => undefined);
    }
    await this.directories.sync(this.view.abs(parentPath(target)));
    return COMPLETED;
  }

  private async checkTarget(
    target: string,
    entry: DiskEntry,
    expected: string | null | undefined,
    type: 'write' | 'conflictCopy',
  ): Promise<ActionOutcome | undefined> {
    if (entry.kind === 'symlink') {
      return halted('symlink', `${target} is a symbolic link: not replaced (links are skipped)`);
    }
    if (entry.kind === 'dir') return halted('is_directory', `${target} is a directory`);
    if (entry.kind === 'other')
      return halted('not_regular_file', `${target} is not a regular file`);
    if (expected === null && entry.kind === 'file') {
      return type === 'conflictCopy'
        ? halted('target_exists', `${target} already exists`)
        : halted('stale', `${target} was created here since the plan was made`);
    }
    if (typeof expected === 'string') {
      const hash = await this.view.fileHash(target);
      if (hash === undefined) {
        return halted('stale', `${target} was deleted here since the plan was made`);
      }
      if (hash !== expected) {
        return halted('stale', `${target} changed here since the plan was made`);
      }
    }
    return undefined;
  }

  private async delete(action: DeleteAction): Promise<ActionOutcome> {
    const parentHalt = await this.view.checkParents(action.path);
    if (parentHalt !== undefined) return halted(parentHalt.code, parentHalt.message);
    const entry = await this.view.entry(action.path);
    switch (entry.kind) {
      case 'absent':
        return COMPLETED; // already gone: the goal holds
      case 'symlink':
        return halted(
          'symlink',
          `${action.path} is a symbolic link: not deleted (links are skipped)`,
        );
      case 'other':
        return halted('not_regular_file', `${action.path} is not a regular file`);
      case 'dir':
        try {
          await fs.rmdir(this.view.abs(action.path));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOTEMPTY' || code === 'EEXIST') {
            return halted('not_empty', `${action.path} is not empty: kept`);
          }
          throw error;
        }
        break;
      case 'file': {
        if (action.expectedHash !== undefined) {
          const hash = await this.view.fileHash(action.path);
          if (hash !== action.expectedHash) {
            return halted('stale', `${action.path} changed here since the plan was made: kept`);
          }
        }
        await fs.unlink(this.view.abs(action.path));
        break;
      }
    }
    await this.directories.sync(this.view.abs(parentPath(action.path)));
    return COMPLETED;
  }

  private async mkdir(action: MkdirAction): Promise<ActionOutcome> {
    const parentHalt = await this.view.checkParents(action.path);
    if (parentHalt !== undefined) return halted(parentHalt.code, parentHalt.message);
    const entry = await this.view.entry(action.path);
    if (entry.kind === 'dir') return COMPLETED;
    if (entry.kind === 'symlink') {
      return halted('symlink', `${action.path} is a symbolic link (links are skipped)`);
    }
    if (entry.kind !== 'absent')
      return halted('not_directory', `${action.path} is not a directory`);
    try {
      await fs.mkdir(this.view.abs(action.path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const again = await this.view.entry(action.path);
      if (again.kind !== 'dir') return halted('not_directory', `${action.path} is not a directory`);
    }
    await this.directories.sync(this.view.abs(parentPath(action.path)));
    return COMPLETED;
  }

  private async rename(action: RenameAction): Promise<ActionOutcome> {
    for (const p of [action.from, action.to]) {
      const parentHalt = await this.view.checkParents(p);
      if (parentHalt !== undefined) return halted(parentHalt.code, parentHalt.message);
    }
    const source = await this.view.entry(action.from);
    if (source.kind === 'absent') {
      return halted('stale', `${action.from} no longer exists here`);
    }
    if (source.kind === 'symlink') {
      return halted('symlink', `${action.from} is a symbolic link (links are skipped)`);
    }
    if (source.kind === 'other') {
      return halted('not_regular_file', `${action.from} is not a regular file`);
    }
    if (source.kind === 'file' && action.expectedHash !== undefined) {
      const hash = await this.view.fileHash(action.from);
      if (hash !== action.expectedHash) {
        return halted('stale', `${action.from} changed here since the plan was made`);
      }
    }
    const target = await this.view.entry(action.to);
    const sameFile =
      target.kind !== 'absent' &&
      'stat' in target &&
      target.stat.ino === source.stat.ino &&
      target.stat.dev === source.stat.dev &&
      foldPath(action.from, true) === foldPath(action.to, true);
    if (target.kind !== 'absent' && !sameFile) {
      return halted('target_exists', `${action.to} already exists: nothing moved`);
    }
    await fs.rename(this.view.abs(action.from), this.view.abs(action.to));
    const fromDir = parentPath(action.from);
    const toDir = parentPath(action.to);
    await this.directories.sync(this.view.abs(toDir));
    if (fromDir !== toDir) await this.directories.sync(this.view.abs(fromDir));
    return COMPLETED;
  }
}

/** True when the entry at a path is no longer the one seen before (conservative). */
function changed(before: DiskEntry, now: DiskEntry): boolean {
  if (before.kind !== now.kind) return true;
  if (before.kind !== 'file' || now.kind !== 'file') return false;
  return !sameStat(before.stat, now.stat);
}

function sameStat(a: Stats, b: Stats): boolean {
  return (
    a.ino === b.ino &&
    a.dev === b.dev &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs
  );
}
