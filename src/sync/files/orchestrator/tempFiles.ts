/**
 * The orchestrator's temp files: `.twinspace-<12 hex>.tmp`, created next to the file they will
 * replace (same directory, so the rename is atomic) and never anywhere else. The fixed-length name
 * does not depend on the target's name, so it can never exceed the name-length limit, and it is
 * specific enough that recovery may delete any file named so.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Dirent } from 'node:fs';
import * as path from 'node:path';

const TEMP_NAME = /^\.twinspace-[0-9a-f]{12}\.tmp$/;

/** A fresh temp name (a name, not a path). */
export function newTempName(): string {
  return `.twinspace-${randomBytes(6).toString('hex')}.tmp`;
}

/** True for a name produced by {@link newTempName}. */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Directory names the leftover-temp walk does not enter (we never write there). */
const SKIPPED_DIRS = new Set(['.git', 'node_modules']);

export interface TempSweep {
  /** Removed temp files, relative to the folder, `/`-separated. */
  readonly removed: string[];
  /** The walk stopped at `maxEntries` before seeing everything. */
  readonly truncated: boolean;
}

/**
 * Removes every temp file of ours under `folderReal` (a real path). Does not follow symbolic
 * links, skips `.git` and `node_modules`, and looks at no more than `maxEntries` entries.
 */
export async function sweepTempFiles(folderReal: string, maxEntries = 500_000): Promise<TempSweep> {
  const removed: string[] = [];
  let seen = 0;
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() ?? '';
    let entries: Dirent[];
    try {
      entries = await fs.readdir(path.join(folderReal, ...splitRel(rel)), { withFileTypes: true });
    } catch {
      continue; // gone or unreadable: nothing of ours we could remove there
    }
    for (const entry of entries) {
      if (++seen > maxEntries) return { removed, truncated: true };
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) stack.push(childRel);
      } else if (entry.isFile() && isTempName(entry.name)) {
        await fs.rm(path.join(folderReal, ...splitRel(childRel)), { force: true });
        removed.push(childRel);
      }
    }
  }
  removed.sort();
  return { removed, truncated: false };
}

function splitRel(rel: string): string[] {
  return rel === '' ? [] : rel.split('/');
}
