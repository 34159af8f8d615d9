/**
 * Tree digests for the file-sync benchmark: a source and a destination tree are identical when
 * their sorted relative paths and the SHA-256 of every file are equal. Names in `ignore` (matched
 * against every path segment: `node_modules`, Syncthing's `.stfolder`, …) are left out. Only
 * regular files count (a symbolic link counts as its target text); empty folders do not.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import * as path from 'node:path';

/** What no tool's tree comparison looks at: the ignored tree and Syncthing's own markers. */
export const DEFAULT_IGNORES: readonly string[] = [
  'node_modules',
  '.stfolder',
  '.stignore',
  '.stversions',
];

export interface TreeEntry {
  /** Relative, '/'-separated. */
  readonly path: string;
  readonly size: number;
}

export interface TreeDigest {
  /** SHA-256 (hex) over "path\0sha256\n" for every file, sorted by path. */
  readonly digest: string;
  readonly files: number;
  readonly bytes: number;
  /** Path → SHA-256 (hex) of its content. */
  readonly hashes: ReadonlyMap<string, string>;
}

export interface TreeDifference {
  readonly identical: boolean;
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly changed: readonly string[];
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The files under `root` with their sizes, sorted by path (bytewise). */
export async function listTree(
  root: string,
  ignore: readonly string[] = DEFAULT_IGNORES,
): Promise<TreeEntry[]> {
  const ignored = new Set(ignore);
  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dir = rel === '' ? root : path.join(root, rel);
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (ignored.has(entry.name)) continue;
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        await walk(childRel);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        const st = await lstat(path.join(root, childRel));
        out.push({ path: childRel, size: st.size });
      }
    }
  };
  await walk('');
  return out.sort((a, b) => compareBytes(a.path, b.path));
}

async function hashFile(file: string): Promise<string> {
  const st = await lstat(file);
  if (st.isSymbolicLink()) {
    return createHash('sha256')
      .update(`symlink:${await readlink(file)}`)
      .digest('hex');
  }
  if (st.size <= 8 * 1024 * 1024) {
    return createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Digest of the tree under `root` (files hashed `concurrency` at a time). */
export async function digestTree(
  root: string,
  ignore: readonly string[] = DEFAULT_IGNORES,
  concurrency = 8,
): Promise<TreeDigest> {
  const entries = await listTree(root, ignore);
  const hashes: string[] = new Array<string>(entries.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const entry = entries[i];
      if (entry === undefined) return;
      hashes[i] = await hashFile(path.join(root, entry.path));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  const total = createHash('sha256');
  const map = new Map<string, string>();
  let bytes = 0;
  entries.forEach((entry, i) => {
    const h = hashes[i] ?? '';
    total.update(`${entry.path}\0${h}\n`);
    map.set(entry.path, h);
    bytes += entry.size;
  });
  return { digest: total.digest('hex'), files: entries.length, bytes, hashes: map };
}

/** Which paths differ between two digests (each list sorted). */
export function compareDigests(source: TreeDigest, dest: TreeDigest): TreeDifference {
  const missing: string[] = [];
  const changed: string[] = [];
  const extra: string[] = [];
  for (const [p, h] of source.hashes) {
    const other = dest.hashes.get(p);
    if (other === undefined) missing.push(p);
    else if (other !== h) changed.push(p);
  }
  for (const p of dest.hashes.keys()) if (!source.hashes.has(p)) extra.push(p);
  return {
    identical: source.digest === dest.digest,
    missing: missing.sort(compareBytes),
    extra: extra.sort(compareBytes),
    changed: changed.sort(compareBytes),
  };
}

/** True when both listings have the same paths and sizes (a cheap check before hashing). */
export function sameListing(a: readonly TreeEntry[], b: readonly TreeEntry[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((e, i) => e.path === b[i]?.path && e.size === b[i].size);
}

/** One line saying how two trees differ, for a loud failure. */
export function describeDifference(d: TreeDifference): string {
  if (d.identical) return 'identical';
  const few = (xs: readonly string[]): string =>
    xs.slice(0, 3).join(', ') + (xs.length > 3 ? `, … (${xs.length})` : '');
  const parts: string[] = [];
  if (d.missing.length > 0) parts.push(`${d.missing.length} missing: ${few(d.missing)}`);
  if (d.extra.length > 0) parts.push(`${d.extra.length} extra: ${few(d.extra)}`);
  if (d.changed.length > 0) parts.push(`${d.changed.length} differ: ${few(d.changed)}`);
  return parts.join('; ');
}
