/**
 * The workload of the kill -9 trials: a deterministic folder and an endless series of
 * generations of remote changes, each applied as one wet plan by the orchestrator.
 *
 * Every file's content says what it is: `TWS|<key>|<gen>|<filler>|END`, where the filler is a
 * deterministic function of key and generation (1-48 KiB). A file whose bytes are not exactly the
 * content its header names is partial or foreign: the trial fails.
 *
 * Generation g (g >= 1), against the folder as scanned just before:
 *  - update f00..f07.txt and d/g00..g03.bin to generation g (expectedHash guards),
 *  - create new-g.txt, remove new-(g-1).txt,
 *  - mkdir dir-g with dir-g/inner.txt, remove dir-(g-1)/inner.txt and dir-(g-1),
 *  - rename the r-*.txt file to r-g.txt,
 *  - every 3rd generation: a conflict copy of f00.txt,
 *  - hostile (added to the plan as raw actions): a write and a mkdir through `escape` (a link to
 *    a directory outside the folder) and a `../` write: all must halt, every time.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildPlan } from '../../src/core/files/plan';
import type {
  CurrentIndex,
  FileAction,
  IndexEntry,
  PlannedAction,
  RemoteChange,
} from '../../src/core/files/plan';
import { contentHash } from '../../src/sync/files/orchestrator/contentHash';

export const ROOT_FILES = Array.from({ length: 8 }, (_, i) => `f${String(i).padStart(2, '0')}.txt`);
export const SUB_FILES = Array.from(
  { length: 4 },
  (_, i) => `d/g${String(i).padStart(2, '0')}.bin`,
);
export const ESCAPE_LINK = 'escape';
export const OUTSIDE_SENTINEL = 'sentinel.txt';
export const OUTSIDE_SENTINEL_CONTENT = 'outside the folder: must never change';

const encoder = new TextEncoder();

/** The content of `key` at generation `gen`. */
export function workloadContent(key: string, gen: number): Uint8Array {
  const seed = createHash('sha256').update(`${key}|${gen}`).digest();
  const size = 1024 + (seed.readUInt32LE(0) % (47 * 1024));
  const filler = Buffer.alloc(size);
  for (let i = 0; i < size; i++) filler[i] = 0x61 + ((seed[i % 32]! + i) % 26);
  return Buffer.concat([encoder.encode(`TWS|${key}|${gen}|`), filler, encoder.encode('|END')]);
}

/** The key and generation a workload content names, or undefined when it is not one (intact). */
export function parseWorkloadContent(bytes: Uint8Array): { key: string; gen: number } | undefined {
  const text = Buffer.from(bytes).toString('latin1');
  const match = /^TWS\|([^|]+)\|(\d+)\|/.exec(text);
  if (match === null) return undefined;
  const key = match[1]!;
  const gen = Number(match[2]);
  const expected = workloadContent(key, gen);
  return Buffer.from(bytes).equals(Buffer.from(expected)) ? { key, gen } : undefined;
}

/** Creates the initial folder (generation 0), the outside directory and the escaping link. */
export async function createInitialFolder(folder: string, outside: string): Promise<void> {
  await fs.mkdir(path.join(folder, 'd'), { recursive: true });
  await fs.mkdir(outside, { recursive: true });
  for (const rel of [...ROOT_FILES, ...SUB_FILES]) {
    await fs.writeFile(path.join(folder, rel), workloadContent(rel, 0));
  }
  await fs.writeFile(path.join(folder, 'r-0.txt'), workloadContent('r', 0));
  await fs.writeFile(path.join(folder, 'new-0.txt'), workloadContent('new', 0));
  await fs.mkdir(path.join(folder, 'dir-0'));
  await fs.writeFile(path.join(folder, 'dir-0', 'inner.txt'), workloadContent('inner', 0));
  await fs.writeFile(path.join(outside, OUTSIDE_SENTINEL), OUTSIDE_SENTINEL_CONTENT);
  await fs.symlink(outside, path.join(folder, ESCAPE_LINK));
}

export interface ScannedEntry extends IndexEntry {
  readonly bytes?: Uint8Array;
}

/** The folder as an index (symbolic links left out), with each file's bytes. */
export async function scanFolder(folder: string): Promise<Map<string, ScannedEntry>> {
  const out = new Map<string, ScannedEntry>();
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(folder, rel), { withFileTypes: true });
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        out.set(child, { kind: 'dir' });
        await walk(child);
      } else if (entry.isFile()) {
        const bytes = await fs.readFile(path.join(folder, child));
        out.set(child, { kind: 'file', hash: contentHash(bytes), bytes });
      }
    }
  };
  await walk('');
  return out;
}

/** The remote changes of generation `gen` against `index`. */
export function generationChanges(gen: number, index: CurrentIndex): RemoteChange[] {
  const put = (p: string, key: string): RemoteChange => {
    const content = workloadContent(key, gen);
    return { type: 'put', path: p, content, hash: contentHash(content) };
  };
  const changes: RemoteChange[] = [];
  for (const rel of [...ROOT_FILES, ...SUB_FILES]) changes.push(put(rel, rel));
  changes.push(put(`new-${gen}.txt`, 'new'));
  changes.push({ type: 'remove', path: `new-${gen - 1}.txt` });
  changes.push({ type: 'mkdir', path: `dir-${gen}` });
  changes.push(put(`dir-${gen}/inner.txt`, 'inner'));
  changes.push({ type: 'remove', path: `dir-${gen - 1}/inner.txt` });
  changes.push({ type: 'remove', path: `dir-${gen - 1}` });
  const r = [...index.keys()].find((p) => /^r-\d+\.txt$/.test(p));
  if (r !== undefined) changes.push({ type: 'rename', from: r, to: `r-${gen}.txt` });
  if (gen % 3 === 0) {
    changes.push({
      type: 'conflict',
      path: 'f00.txt',
      content: workloadContent('conflict', gen),
      deviceShortId: 'peer',
      at: Date.UTC(2024, 0, 1) + gen * 1000,
    });
  }
  return changes;
}

/** Actions that must halt every time: through the escaping link, and a `../` path. */
export function hostileActions(gen: number): FileAction[] {
  const content = workloadContent('evil', gen);
  return [
    { type: 'write', path: `${ESCAPE_LINK}/evil-${gen}.txt`, content },
    { type: 'mkdir', path: `${ESCAPE_LINK}/evil-dir-${gen}` },
    { type: 'write', path: `../outside/evil-${gen}.txt`, content },
  ];
}

/** The plan of generation `gen`: the built plan, then the hostile actions. */
export function generationPlan(gen: number, index: CurrentIndex): PlannedAction[] {
  const plan = buildPlan(generationChanges(gen, index), index);
  const actions = [...plan.actions];
  for (const action of hostileActions(gen))
    actions.push({ id: String(actions.length + 1), action });
  return actions;
}
