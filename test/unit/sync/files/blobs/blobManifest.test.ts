import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { TwinspaceError } from '../../../../../src/core/errors';
import {
  chunkRange,
  DEFAULT_CHUNK_SIZE,
  manifestOf,
  manifestOfFile,
  readChunkFromFile,
  validateManifest,
  verifyChunk,
} from '../../../../../src/sync/files/blobs/blobManifest';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed;
  for (let i = 0; i < size; i += 1) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = s & 0xff;
  }
  return out;
}

const isCode = (code: string) => (e: unknown) => e instanceof TwinspaceError && e.code === code;

describe('blobManifest', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'twinspace-manifest-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('cuts content into fixed chunks with their hashes; the blob hash is the content hash', () => {
    const bytes = pattern(10_000);
    const m = manifestOf(bytes, 4096);
    assert.equal(m.hash, sha(bytes));
    assert.equal(m.size, 10_000);
    assert.deepEqual(m.chunks, [
      sha(bytes.subarray(0, 4096)),
      sha(bytes.subarray(4096, 8192)),
      sha(bytes.subarray(8192)),
    ]);
    assert.deepEqual(chunkRange(m, 2), { start: 8192, end: 10_000 });
    assert.ok(verifyChunk(m, 2, bytes.subarray(8192)));
    assert.ok(!verifyChunk(m, 1, bytes.subarray(8192)), 'wrong chunk');
    assert.ok(!verifyChunk(m, 3, bytes.subarray(8192)), 'no such chunk');
    assert.equal(manifestOf(new Uint8Array(0)).chunks.length, 0);
    assert.equal(manifestOf(new Uint8Array(0)).hash, sha(new Uint8Array(0)));
    assert.equal(manifestOf(bytes).chunkSize, DEFAULT_CHUNK_SIZE);
  });

  it('property: the manifest of a file equals the manifest of its bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.constantFrom(4096, 5000, 8192),
        async (size, chunkSize) => {
          const bytes = pattern(size, size + 7);
          const file = path.join(dir, 'f.bin');
          await fs.writeFile(file, bytes);
          assert.deepEqual(await manifestOfFile(file, chunkSize), manifestOf(bytes, chunkSize));
        },
      ),
      { seed: 0xb10b01, numRuns: 25 },
    );
  });

  it('serves a chunk from a file and refuses when the file changed', async () => {
    const bytes = pattern(9000);
    const file = path.join(dir, 'f.bin');
    await fs.writeFile(file, bytes);
    const m = manifestOf(bytes, 4096);
    assert.deepEqual(await readChunkFromFile(file, m, 1), bytes.subarray(4096, 8192));
    assert.deepEqual(await readChunkFromFile(file, m, 2), bytes.subarray(8192));
    await assert.rejects(readChunkFromFile(file, m, 3), isCode('validation'));
    bytes[5000] = (bytes[5000] ?? 0) ^ 1;
    await fs.writeFile(file, bytes);
    await assert.rejects(readChunkFromFile(file, m, 1), isCode('version_conflict'));
    await fs.writeFile(file, bytes.subarray(0, 8500));
    await assert.rejects(readChunkFromFile(file, m, 2), isCode('version_conflict'));
  });

  it('validates manifests received from peers', () => {
    const good = manifestOf(pattern(10_000), 4096);
    assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(good))), good);
    const cases: unknown[] = [
      null,
      'x',
      { ...good, hash: '../../etc/passwd' },
      { ...good, hash: good.hash.toUpperCase() },
      { ...good, size: -1 },
      { ...good, size: 1.5 },
      { ...good, chunkSize: 10 },
      { ...good, chunkSize: 64 * 1024 * 1024 },
      { ...good, chunks: good.chunks.slice(1) },
      { ...good, chunks: [...good.chunks.slice(1), 'zz'] },
      { ...good, chunks: 'abc' },
    ];
    for (const bad of cases) {
      assert.throws(() => validateManifest(bad), isCode('validation'), JSON.stringify(bad));
    }
    assert.throws(() => validateManifest(good, { maxBytes: 9999 }), isCode('validation'));
  });
});
