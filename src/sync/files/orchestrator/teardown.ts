/**
 * Unlinks a folder from Twinspace: removes the orchestrator's state for it (journal, lock, folder
 * record) and any temp file of ours left in the folder, and keeps every file of the user's.
 * Fails fast with code 'busy' while an orchestrator has the folder open (in any process).
 */
import { promises as fs } from 'node:fs';
import { StateDirLock } from '../../../runtime/StateDirLock';
import { folderStateDir, realFolder } from './folderStateDir';
import { sweepTempFiles } from './tempFiles';

export interface TeardownReport {
  /** The state directory that was removed, or undefined when there was none. */
  readonly removedStateDir?: string;
  /** Temp files of ours removed from the folder (plan paths). */
  readonly removedTempFiles: readonly string[];
}

export async function teardown(folder: string, stateDir: string): Promise<TeardownReport> {
  const folderReal = await realFolder(folder);
  const dir = folderStateDir(stateDir, folderReal);
  let exists = true;
  try {
    await fs.access(dir);
  } catch {
    exists = false;
  }
  if (!exists) return { removedTempFiles: [] };
  const lock = await StateDirLock.acquire(dir);
  try {
    let removedTempFiles: readonly string[] = [];
    const folderExists = await fs
      .stat(folderReal)
      .then((s) => s.isDirectory())
      .catch(() => false);
    if (folderExists) removedTempFiles = (await sweepTempFiles(folderReal)).removed;
    await fs.rm(dir, { recursive: true, force: true });
    return { removedStateDir: dir, removedTempFiles };
  } finally {
    await lock.release();
  }
}
