/**
 * Unlinks a folder from file sync: the orchestrator's teardown (journal, lock, our temp files in
 * the folder) plus FolderSync's own state (text documents, known state, conflict list). The
 * user's files are kept, and so are the versions the first sync replaced (`replaced/`). Fails
 * fast with code 'busy' while a FolderSync (any process) has the folder open.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { teardown, type TeardownReport } from './orchestrator/teardown';

export interface UnlinkReport extends TeardownReport {
  /** FolderSync state entries removed (relative to the file state folder). */
  readonly removedState: readonly string[];
}

export async function unlinkFolder(folder: string, filesStateDir: string): Promise<UnlinkReport> {
  const report = await teardown(folder, filesStateDir);
  const removedState: string[] = [];
  for (const name of ['docs', 'known.json', 'conflicts.json']) {
    const target = path.join(filesStateDir, name);
    const exists = await fs
      .access(target)
      .then(() => true)
      .catch(() => false);
    if (!exists) continue;
    await fs.rm(target, { recursive: true, force: true });
    removedState.push(name);
  }
  return { ...report, removedState };
}
