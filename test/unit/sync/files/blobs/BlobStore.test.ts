import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { TwinspaceError } from '../../../../../src/core/errors';
import { BlobStore } from '../../../../../src/sync/files/blobs/BlobStore';
import { manifestOf, type BlobManifest } from '../../../../../src/sync/files/blobs/blobManifest';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const isCode = (code: string) => (e: unknown) => e instanceof TwinspaceError && e.code === code;
const CHUNK = 4096;

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed;
  for (let i = 0; i < size; i += 1) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = s & 0xff;
  }
  return out;
}

function chunk(bytes: Uint8Array, m: BlobManifest, i: number): Uint8Array {
  return bytes.subarray(i * m.chunkSize, Math.min(bytes.length, (i + 1) * m.chunkSize));
}

describe('BlobStore', function () {
  this.timeout(20_000);
  let stateDir: string;
  let store: BlobStore;

  beforeEach(async () => {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'twinspace-blobs-'));
    store = await BlobStore.open(stateDir);
  });
  afterEach(async () => {
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('stores verified chunks, assembles and verifies the blob', async () => {
    const bytes = pattern(10_000);
    const m = manifestOf(bytes, CHUNK);
    assert.deepEqual(await store.missingChunks(m), [0, 1, 2]);
    await store.putChunk(m, 2, chunk(bytes, m, 2));
    await store.putChunk(m, 0, chunk(bytes, m, 0));
    assert.deepEqual(await store.missingChunks(m), [1]);
    await assert.rejects(store.assemble(m), isCode('not_found'));
    await store.putChunk(m, 1, chunk(bytes, m, 1));
    await store.putChunk(m, 1, chunk(bytes, m, 1)); // again: a no-op
    const file = await store.assemble(m);
    assert.equal(file, store.objectPath(m.hash));
    assert.ok(file.startsWith(path.join(stateDir, 'blobs', 'objects')));
    assert.deepEqual(new Uint8Array(await fs.readFile(file)), bytes);
    assert.deepEqual(new Uint8Array(await store.readBlob(m.hash)), bytes);
    assert.deepEqual(await store.missingChunks(m), []);
    assert.equal(await store.assemble(m), file, 'assembling twice returns the object');
    await store.releaseChunks(m);
    assert.deepEqual(await store.stats(), {
      objects: 1,
      objectBytes: 10_000,
      chunks: 0,
      chunkBytes: 0,
    });
  });

  it('refuses a chunk that does not match its manifest, and writes nothing', async () => {
    const bytes = pattern(10_000);
    const m = manifestOf(bytes, CHUNK);
    const bad = new Uint8Array(chunk(bytes, m, 0));
    bad[10] = (bad[10] ?? 0) ^ 0xff;
    await assert.rejects(store.putChunk(m, 0, bad), isCode('validation'));
    await assert.rejects(store.putChunk(m, 0, chunk(bytes, m, 1)), isCode('validation'));
    await assert.rejects(store.putChunk(m, 7, chunk(bytes, m, 0)), isCode('validation'));
    assert.equal((await store.stats()).chunks, 0);
  });

  it('a chunk corrupted on disk is dropped and fetched again, never assembled', async () => {
    const bytes = pattern(9000);
    const m = manifestOf(bytes, CHUNK);
    for (let i = 0; i < m.chunks.length; i += 1) await store.putChunk(m, i, chunk(bytes, m, i));
    await fs.writeFile(store.chunkPath(m.chunks[1] ?? ''), new Uint8Array(CHUNK));
    await assert.rejects(store.assemble(m), isCode('validation'));
    assert.equal(await store.hasBlob(m.hash), false);
    assert.deepEqual(await store.missingChunks(m), [1]);
    await store.putChunk(m, 1, chunk(bytes, m, 1));
    assert.deepEqual(new Uint8Array(await fs.readFile(await store.assemble(m))), bytes);
  });

  it('rejects a manifest whose chunks do not add up to its hash', async () => {
    const bytes = pattern(9000);
    const real = manifestOf(bytes, CHUNK);
    const lying: BlobManifest = { ...real, hash: sha(new Uint8Array([1])) };
    for (let i = 0; i < real.chunks.length; i += 1) {
      await store.putChunk(lying, i, chunk(bytes, lying, i));
    }
    await assert.rejects(store.assemble(lying), isCode('validation'));
    assert.equal(await store.hasBlob(lying.hash), false);
    const names = await fs.readdir(path.dirname(store.objectPath(lying.hash))).catch(() => []);
    assert.deepEqual(names, [], 'no temp file left behind');
  });

  it('a corrupt object is detected on read and removed', async () => {
    const m = await store.putBlob(pattern(5000));
    await fs.writeFile(store.objectPath(m.hash), new Uint8Array(5000));
    await assert.rejects(store.readBlob(m.hash), isCode('validation'));
    assert.equal(await store.hasBlob(m.hash), false);
    await assert.rejects(store.readBlob(m.hash), isCode('not_found'));
  });

  it('accepts only SHA-256 names, so a peer cannot make it write elsewhere', () => {
    assert.throws(() => store.chunkPath('../../../etc/passwd'), isCode('validation'));
    assert.throws(() => store.objectPath('A'.repeat(64)), isCode('validation'));
  });

  it('removes leftover temp files on open and prunes what is not kept', async () => {
    const keep = await store.putBlob(pattern(100, 1));
    const drop = await store.putBlob(pattern(100, 2));
    const bytes = pattern(5000, 3);
    const m = manifestOf(bytes, CHUNK);
    await store.putChunk(m, 0, chunk(bytes, m, 0));
    const stray = `${store.objectPath(keep.hash)}.0123456789ab.tmp`;
    await fs.writeFile(stray, 'partial');
    store = await BlobStore.open(stateDir);
    await assert.rejects(fs.access(stray));
    assert.equal(await store.prune(new Set([keep.hash])), 2);
    assert.ok(await store.hasBlob(keep.hash));
    assert.ok(!(await store.hasBlob(drop.hash)));
    assert.equal((await store.stats()).chunks, 0);
  });

  it('property: chunks arriving in any order, with duplicates, assemble to the content', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30_000 }),
        fc.array(fc.nat(100), { maxLength: 20 }),
        async (size, order) => {
          const bytes = pattern(size, size + 3);
          const m = manifestOf(bytes, CHUNK);
          const n = m.chunks.length;
          for (const i of [...order.map((o) => (n === 0 ? 0 : o % n)), ...m.chunks.keys()]) {
            if (i < n) await store.putChunk(m, i, chunk(bytes, m, i));
          }
          const file = await store.assemble(m);
          assert.deepEqual(new Uint8Array(await fs.readFile(file)), bytes);
          await store.releaseChunks(m);
          await store.removeBlob(m.hash);
        },
      ),
      { seed: 0xb10b02, numRuns: 20 },
    );
  });
});
