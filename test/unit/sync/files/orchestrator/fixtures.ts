import { mkdtempSync, promises as fs, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { FileAction, PlannedAction } from '../../../../../src/core/files/plan';
import type { FolderRules } from '../../../../../src/core/files/validators';
import { contentHash } from '../../../../../src/sync/files/orchestrator/contentHash';

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const hashOf = (s: string): string => contentHash(bytes(s));

export interface Sandbox {
  /** Parent of everything: holds folder/, state/ and outside/. */
  readonly root: string;
  readonly folder: string;
  readonly stateDir: string;
  readonly outside: string;
  cleanup(): Promise<void>;
}

const sandboxes: Sandbox[] = [];

export async function sandbox(): Promise<Sandbox> {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'tw-orch-')));
  const box: Sandbox = {
    root,
    folder: path.join(root, 'folder'),
    stateDir: path.join(root, 'state'),
    outside: path.join(root, 'outside'),
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
  await fs.mkdir(box.folder);
  await fs.mkdir(box.outside);
  sandboxes.push(box);
  return box;
}

/** Removes every sandbox made so far (call from an `after` hook). */
export async function cleanupSandboxes(): Promise<void> {
  for (const box of sandboxes.splice(0)) await box.cleanup();
}

export function rules(over: Partial<FolderRules> = {}): FolderRules {
  return {
    pathStyle: 'posix',
    caseInsensitive: false,
    isIgnored: () => false,
    dirtyPaths: new Set<string>(),
    maxFileBytes: 1 << 20,
    ...over,
  };
}

export function planOf(...actions: FileAction[]): PlannedAction[] {
  return actions.map((action, i) => ({ id: String(i + 1), action }));
}

/** Every entry under `dir`, relative, sorted: files as `path=content`, dirs as `path/`. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isSymbolicLink()) out.push(`${r}@`);
      else if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(r);
      } else out.push(`${r}=${await fs.readFile(path.join(dir, r), 'utf8')}`);
    }
  };
  await walk('');
  return out.sort();
}
