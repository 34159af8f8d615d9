import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  generateWorkspace,
  makeBinary,
  SeededRandom,
  type GeneratedWorkspace,
} from '../../../bench/files/generateWorkspace';
import { digestTree, listTree } from '../../../bench/files/treeDigest';

describe('bench: generateWorkspace', function () {
  this.timeout(30_000);
  let root: string;
  // Small sizes keep the test fast; the counts and the layout are what is checked.
  const small = { textBytes: [200, 4_000], binaryBytes: [2_000, 30_000] } as const;

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'twinspace-gen-test-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  async function gen(name: string, seed: number, files = 200): Promise<GeneratedWorkspace> {
    return generateWorkspace(path.join(root, name), { files, seed, ...small });
  }

  it('the same seed gives byte-identical trees, ignored files included', async () => {
    const a = await gen('a', 7);
    const b = await gen('b', 7);
    assert.deepEqual(a.files, b.files);
    const da = await digestTree(a.root, []);
    const db = await digestTree(b.root, []);
    assert.equal(da.digest, db.digest);
    assert.equal(da.files, a.files.length);
  });

  it('another seed gives other paths, sizes or bytes', async () => {
    const a = await gen('c', 7);
    const b = await gen('d', 8);
    assert.notEqual((await digestTree(a.root)).digest, (await digestTree(b.root)).digest);
  });

  it('writes the requested counts: 90% text, 10% binary, .gitignore, ignored node_modules/', async () => {
    const w = await gen('e', 3, 500);
    assert.equal(w.textCount + w.binaryCount + 1, 500);
    assert.equal(w.binaryCount, Math.round(499 * 0.1));
    assert.equal(w.textFiles.length, w.textCount);
    assert.equal(readFileSync(path.join(w.root, '.gitignore'), 'utf8'), 'node_modules/\n');
    const ignored = w.files.filter((f) => f.kind === 'ignored');
    assert.equal(ignored.length, w.ignoredCount);
    assert.ok(ignored.length >= 10);
    assert.ok(ignored.every((f) => f.path.startsWith('node_modules/')));
    assert.ok(
      w.files.filter((f) => f.kind !== 'ignored').every((f) => !f.path.includes('node_modules')),
    );
    // The digest's default ignores leave exactly the non-ignored files.
    const listing = await listTree(w.root);
    assert.equal(listing.length, 500);
    assert.ok(w.folders > 10, 'nested folders');
    assert.ok(
      listing.some((e) => e.path.split('/').length === 4),
      'three levels deep',
    );
  });

  it('sizes stay within their ranges and match the files on disk', async () => {
    const w = await gen('f', 11, 300);
    for (const f of w.files) {
      assert.equal(statSync(path.join(w.root, f.path)).size, f.size, f.path);
      if (f.kind === 'text') assert.ok(f.size >= 200 && f.size <= 4_000, `${f.path} ${f.size}`);
      if (f.kind === 'binary')
        assert.ok(f.size >= 2_000 && f.size <= 30_000, `${f.path} ${f.size}`);
    }
    const text = w.files.filter((f) => f.kind === 'text');
    const bytes = text.reduce((s, f) => s + f.size, 0);
    assert.equal(bytes, w.textBytes);
    // Text files are printable lines ending in a newline.
    const sample = readFileSync(path.join(w.root, text[0]!.path));
    assert.equal(sample[sample.length - 1], 0x0a);
    assert.ok(sample.every((c) => c === 0x0a || (c >= 0x20 && c < 0x7f)));
  });

  it('default sizes: text 200 B-50 KB and binary 20 KB-1 MB', async () => {
    const w = await generateWorkspace(path.join(root, 'g'), { files: 60, seed: 5 });
    for (const f of w.files) {
      if (f.kind === 'text') assert.ok(f.size >= 200 && f.size <= 50_000);
      if (f.kind === 'binary') assert.ok(f.size >= 20_000 && f.size <= 1_000_000);
    }
  });

  it('binary content depends on seed and index only', () => {
    assert.ok(makeBinary(1, 2, 1000).equals(makeBinary(1, 2, 1000)));
    assert.ok(!makeBinary(1, 2, 1000).equals(makeBinary(1, 3, 1000)));
    assert.ok(!makeBinary(1, 2, 1000).equals(makeBinary(2, 2, 1000)));
    assert.ok(
      makeBinary(1, 2, 2000)
        .subarray(0, 1000)
        .equals(makeBinary(1, 2, 1000)),
    );
  });

  it('SeededRandom repeats its sequence and stays in range', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const x = a.next();
      assert.equal(x, b.next());
      assert.ok(x >= 0 && x < 1);
      const n = a.logUniform(200, 50_000);
      b.logUniform(200, 50_000);
      assert.ok(n >= 200 && n <= 50_000);
    }
  });
});
