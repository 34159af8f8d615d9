import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { TwinspaceError } from '../core/errors';

/**
 * An exclusive lock on a state folder (the WAL has a single writer). The lock file holds the
 * owner's pid; a lock whose process is gone is stale and is taken over. A live owner makes
 * `acquire` fail fast with code `busy`.
 */
export class StateDirLock {
  /** Folders locked by this process (the pid in the file cannot tell two owners in one process). */
  private static readonly heldHere = new Set<string>();

  private constructor(
    readonly file: string,
    private released = false,
  ) {}

  static async acquire(dir: string): Promise<StateDirLock> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(await fs.realpath(dir), 'lock');
    if (StateDirLock.heldHere.has(file)) {
      throw new TwinspaceError('busy', `${dir} is in use by this process`);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await fs.open(file, 'wx', 0o600);
        try {
          await handle.writeFile(`${process.pid}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        StateDirLock.heldHere.add(file);
        return new StateDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new TwinspaceError('busy', `${dir} is in use by process ${owner}`);
      }
      // Stale (dead owner, unreadable, or our own leftover): remove and retry.
      await fs.rm(file, { force: true });
    }
    throw new TwinspaceError('busy', `could not lock ${dir}`);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    StateDirLock.heldHere.delete(this.file);
    await fs.rm(this.file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
