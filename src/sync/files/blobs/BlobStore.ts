/**
 * The content-addressed store of binary blobs in the Twinspace state folder (never inside the
 * synced folder):
 *
 *   <stateDir>/blobs/chunks/<2 hex>/<chunk sha256>    chunks received from peers
 *   <stateDir>/blobs/objects/<2 hex>/<blob sha256>    assembled, verified blobs
 *
 * Every chunk is verified against the manifest before it is written; a blob is assembled from
 * its chunks into a temp file, verified as a whole (size and SHA-256), then renamed into place:
 * whatever is under `objects/` is complete and correct, and only then used (copied into the
 * folder by the orchestrator). Writes are atomic (temp + fsync + rename), so a crash leaves at
 * most a stray temp file, which `open` removes. File names are only ever SHA-256 hex, so a peer
 * cannot make the store write anywhere else.
 */
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { TwinspaceError } from '../../../core/errors';
import { atomicWriteFile, syncDirectory } from '../../../runtime/atomicWriteFile';
import {
  chunkRange,
  isSha256Hex,
  manifestOf,
  sha256Hex,
  verifyChunk,
  type BlobManifest,
} from './blobManifest';

export const BLOBS_SUBDIR = 'blobs';
const TEMP_SUFFIX = '.tmp';

export interface BlobStoreStats {
  readonly objects: number;
  readonly objectBytes: number;
  readonly chunks: number;
  readonly chunkBytes: number;
}

export class BlobStore {
  private constructor(readonly dir: string) {}

  /** Opens (creating if needed) the store under `stateDir`, removing leftover temp files. */
  static async open(stateDir: string): Promise<BlobStore> {
    const store = new BlobStore(path.join(stateDir, BLOBS_SUBDIR));
    await fs.mkdir(path.join(store.dir, 'chunks'), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(store.dir, 'objects'), { recursive: true, mode: 0o700 });
    await store.removeTempFiles();
    return store;
  }

  chunkPath(hash: string): string {
    return this.pathFor('chunks', hash);
  }

  objectPath(hash: string): string {
    return this.pathFor('objects', hash);
  }

  // ---- chunks ----

  /**
   * Stores chunk `index` of `manifest` after checking its length and hash (`validation` if they
   * do not match: nothing is written). Storing a chunk again is a no-op.
   */
  async putChunk(manifest: BlobManifest, index: number, bytes: Uint8Array): Promise<void> {
    const hash = manifest.chunks[index];
    if (hash === undefined || !verifyChunk(manifest, index, bytes)) {
      throw new TwinspaceError(
        'validation',
        `chunk ${index} of blob ${manifest.hash} does not match its manifest`,
      );
    }
    const file = this.chunkPath(hash);
    if (await exists(file)) return;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await atomicWriteFile(file, bytes, { mode: 0o600 });
  }

  async hasChunk(hash: string): Promise<boolean> {
    return exists(this.chunkPath(hash));
  }

  /** A stored chunk, verified; a corrupt one is deleted and reported as absent. */
  async readChunk(hash: string): Promise<Uint8Array | undefined> {
    const file = this.chunkPath(hash);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (sha256Hex(bytes) !== hash) {
      await fs.rm(file, { force: true });
      return undefined;
    }
    return bytes;
  }

  /** Indexes of the chunks of `manifest` still to fetch (none once the blob is assembled). */
  async missingChunks(manifest: BlobManifest): Promise<number[]> {
    if (await this.hasBlob(manifest.hash)) return [];
    const missing: number[] = [];
    for (let i = 0; i < manifest.chunks.length; i += 1) {
      const hash = manifest.chunks[i];
      if (hash === undefined || !(await this.hasChunk(hash))) missing.push(i);
    }
    return missing;
  }

  /** Removes the chunk files of `manifest` (after assembly; chunks shared with others go too). */
  async releaseChunks(manifest: BlobManifest): Promise<void> {
    for (const hash of new Set(manifest.chunks)) await fs.rm(this.chunkPath(hash), { force: true });
  }

  // ---- blobs ----

  async hasBlob(hash: string): Promise<boolean> {
    return exists(this.objectPath(hash));
  }

  /**
   * Assembles the blob of `manifest` from its stored chunks, verifies size and whole hash, and
   * returns the path of the verified object. Throws `not_found` when chunks are missing (the
   * list says which), `validation` when they do not add up to the blob (a corrupt chunk is
   * deleted so it is fetched again). An already assembled blob is returned at once.
   */
  async assemble(manifest: BlobManifest): Promise<string> {
    const target = this.objectPath(manifest.hash);
    if (await exists(target)) return target;
    const missing: number[] = [];
    for (let i = 0; i < manifest.chunks.length; i += 1) {
      if (!(await this.hasChunk(manifest.chunks[i] ?? ''))) missing.push(i);
    }
    if (missing.length > 0) {
      throw new TwinspaceError(
        'not_found',
        `blob ${manifest.hash}: ${missing.length} chunk(s) missing (${missing.slice(0, 8).join(', ')})`,
      );
    }
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${target}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    let renamed = false;
    try {
      const whole = createHash('sha256');
      let size = 0;
      const handle = await fs.open(temp, 'wx', 0o600);
      try {
        for (let i = 0; i < manifest.chunks.length; i += 1) {
          const hash = manifest.chunks[i] ?? '';
          const bytes = await this.readChunk(hash);
          const { start, end } = chunkRange(manifest, i);
          if (bytes?.length !== end - start) {
            throw new TwinspaceError(
              'validation',
              `chunk ${i} of blob ${manifest.hash} is corrupt`,
            );
          }
          whole.update(bytes);
          size += bytes.length;
          await handle.write(bytes);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (size !== manifest.size || whole.digest('hex') !== manifest.hash) {
        throw new TwinspaceError(
          'validation',
          `blob ${manifest.hash}: the chunks do not add up to the blob (manifest inconsistent)`,
        );
      }
      await fs.rename(temp, target);
      renamed = true;
      await syncDirectory(path.dirname(target));
      return target;
    } finally {
      if (!renamed) await fs.rm(temp, { force: true });
    }
  }

  /** Stores local content as a blob at once (no chunks), returning its manifest. */
  async putBlob(bytes: Uint8Array, chunkSize?: number): Promise<BlobManifest> {
    const manifest = manifestOf(bytes, chunkSize);
    const target = this.objectPath(manifest.hash);
    if (!(await exists(target))) {
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await atomicWriteFile(target, bytes, { mode: 0o600 });
    }
    return manifest;
  }

  /** A blob's content, verified (`not_found` if absent; a corrupt object is deleted, `validation`). */
  async readBlob(hash: string): Promise<Uint8Array> {
    const file = this.objectPath(hash);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch (error) {
      if (isNotFound(error)) throw new TwinspaceError('not_found', `no blob ${hash}`);
      throw error;
    }
    if (sha256Hex(bytes) !== hash) {
      await fs.rm(file, { force: true });
      throw new TwinspaceError('validation', `blob ${hash} was corrupt and has been removed`);
    }
    return bytes;
  }

  async removeBlob(hash: string): Promise<void> {
    await fs.rm(this.objectPath(hash), { force: true });
  }

  /**
   * Removes every object whose hash is not in `keepBlobs` and every chunk not in `keepChunks`
   * (default: none kept). Returns how many files went.
   */
  async prune(
    keepBlobs: ReadonlySet<string>,
    keepChunks: ReadonlySet<string> = new Set(),
  ): Promise<number> {
    let removed = 0;
    for (const [kind, keep] of [
      ['objects', keepBlobs],
      ['chunks', keepChunks],
    ] as const) {
      for (const { hash, file } of await this.list(kind)) {
        if (keep.has(hash)) continue;
        await fs.rm(file, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  async stats(): Promise<BlobStoreStats> {
    const sum = async (kind: 'objects' | 'chunks'): Promise<[number, number]> => {
      let count = 0;
      let bytes = 0;
      for (const { file } of await this.list(kind)) {
        count += 1;
        bytes += (await fs.stat(file)).size;
      }
      return [count, bytes];
    };
    const [objects, objectBytes] = await sum('objects');
    const [chunks, chunkBytes] = await sum('chunks');
    return { objects, objectBytes, chunks, chunkBytes };
  }

  // ---- internals ----

  private pathFor(kind: 'chunks' | 'objects', hash: string): string {
    if (!isSha256Hex(hash)) {
      throw new TwinspaceError('validation', `not a SHA-256 hex name: ${JSON.stringify(hash)}`);
    }
    return path.join(this.dir, kind, hash.slice(0, 2), hash);
  }

  private async list(kind: 'chunks' | 'objects'): Promise<{ hash: string; file: string }[]> {
    const out: { hash: string; file: string }[] = [];
    const base = path.join(this.dir, kind);
    for (const prefix of await readdirOrEmpty(base)) {
      for (const name of await readdirOrEmpty(path.join(base, prefix))) {
        if (isSha256Hex(name)) out.push({ hash: name, file: path.join(base, prefix, name) });
      }
    }
    return out;
  }

  private async removeTempFiles(): Promise<void> {
    for (const kind of ['chunks', 'objects']) {
      const base = path.join(this.dir, kind);
      for (const prefix of await readdirOrEmpty(base)) {
        for (const name of await readdirOrEmpty(path.join(base, prefix))) {
          if (name.endsWith(TEMP_SUFFIX)) {
            await fs.rm(path.join(base, prefix, name), { force: true });
          }
        }
      }
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
