import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { TwinspaceError } from '../../../core/errors';

/**
 * Layout of the orchestrator's state for one synced folder, inside the Twinspace state folder
 * (the extension's storage, or the CLI's --state-dir), never inside the synced folder:
 *
 *   <stateDir>/orchestrator/<key>/events.jsonl   the journal
 *   <stateDir>/orchestrator/<key>/lock           the per-folder lock (StateDirLock: owner pid)
 *   <stateDir>/orchestrator/<key>/folder.json    {"folder": "<real path>"} (for people and tools)
 *
 * `key` is the first 16 hex digits of SHA-256 of the folder's real path.
 */
export const ORCHESTRATOR_STATE_SUBDIR = 'orchestrator';

export function folderStateKey(folderReal: string): string {
  return createHash('sha256').update(folderReal).digest('hex').slice(0, 16);
}

export function folderStateDir(stateDir: string, folderReal: string): string {
  return path.join(stateDir, ORCHESTRATOR_STATE_SUBDIR, folderStateKey(folderReal));
}

/** The folder's real path, or its resolved path if it no longer exists. */
export async function realFolder(folder: string): Promise<string> {
  try {
    return await fs.realpath(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return path.resolve(folder);
    throw error;
  }
}

/** Throws `validation` when `stateDir` is the synced folder or lies inside it. */
export async function assertStateOutsideFolder(
  folderReal: string,
  stateDir: string,
): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const stateReal = await fs.realpath(stateDir);
  const relative = path.relative(folderReal, stateReal);
  const inside =
    relative === '' ||
    (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
  if (inside) {
    throw new TwinspaceError(
      'validation',
      `the Twinspace state folder ${stateDir} must not be inside the synced folder ${folderReal}`,
    );
  }
}
