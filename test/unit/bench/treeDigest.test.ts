import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  compareDigests,
  describeDifference,
  digestTree,
  listTree,
  sameListing,
} from '../../../bench/files/treeDigest';

describe('bench: treeDigest', () => {
  let root: string;
  let n = 0;

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'twinspace-digest-test-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  function tree(files: Record<string, string>): string {
    const dir = path.join(root, `t${n++}`);
    mkdirSync(dir, { recursive: true });
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  }

  const base = { 'a.txt': 'alpha', 'sub/b.bin': 'beta', 'sub/deep/c.md': 'gamma' };

  it('equal trees have equal digests, whatever the creation order', async () => {
    const x = tree(base);
    const y = tree({ 'sub/deep/c.md': 'gamma', 'a.txt': 'alpha', 'sub/b.bin': 'beta' });
    const dx = await digestTree(x);
    const dy = await digestTree(y);
    assert.equal(dx.digest, dy.digest);
    assert.equal(dx.files, 3);
    assert.equal(dx.bytes, 14);
    assert.ok(compareDigests(dx, dy).identical);
  });

  it('one changed byte, a missing file, an extra file or a rename each change the digest', async () => {
    const d0 = await digestTree(tree(base));
    const changed = await digestTree(tree({ ...base, 'sub/b.bin': 'betA' }));
    const missing = await digestTree(tree({ 'a.txt': 'alpha', 'sub/b.bin': 'beta' }));
    const extra = await digestTree(tree({ ...base, 'z.txt': '' }));
    const renamed = await digestTree(
      tree({ 'a.txt': 'alpha', 'sub/b2.bin': 'beta', 'sub/deep/c.md': 'gamma' }),
    );
    for (const d of [changed, missing, extra, renamed]) assert.notEqual(d.digest, d0.digest);
    assert.deepEqual(compareDigests(d0, changed).changed, ['sub/b.bin']);
    assert.deepEqual(compareDigests(d0, missing).missing, ['sub/deep/c.md']);
    assert.deepEqual(compareDigests(d0, extra).extra, ['z.txt']);
    const r = compareDigests(d0, renamed);
    assert.deepEqual([r.missing, r.extra], [['sub/b.bin'], ['sub/b2.bin']]);
    assert.match(describeDifference(r), /1 missing: sub\/b\.bin; 1 extra: sub\/b2\.bin/);
  });

  it('leaves out node_modules and Syncthing markers by default, at any depth', async () => {
    const d0 = await digestTree(tree(base));
    const withIgnored = tree({
      ...base,
      'node_modules/x/index.js': 'x',
      'sub/node_modules/y.js': 'y',
      '.stignore': 'node_modules\n',
      '.stfolder/.keep': '',
    });
    assert.equal((await digestTree(withIgnored)).digest, d0.digest);
    // With no ignores they count.
    assert.equal((await digestTree(withIgnored, [])).files, 7);
  });

  it('empty folders do not count; symbolic links count by their target', async () => {
    const x = tree(base);
    const d0 = await digestTree(x);
    mkdirSync(path.join(x, 'empty/inner'), { recursive: true });
    assert.equal((await digestTree(x)).digest, d0.digest);
    symlinkSync('a.txt', path.join(x, 'link'));
    const withLink = await digestTree(x);
    assert.equal(withLink.files, 4);
    rmSync(path.join(x, 'link'));
    symlinkSync('sub/b.bin', path.join(x, 'link'));
    assert.notEqual((await digestTree(x)).digest, withLink.digest);
  });

  it('listTree sorts bytewise and sameListing compares paths and sizes', async () => {
    const x = tree({ B: '1', a: '22', c: '' });
    const listing = await listTree(x);
    assert.deepEqual(
      listing.map((e) => e.path),
      ['B', 'a', 'c'],
    );
    const y = tree({ B: '1', a: '23', c: '' });
    assert.ok(sameListing(listing, await listTree(y)), 'same sizes, other bytes');
    const z = tree({ B: '1', a: '2', c: '' });
    assert.ok(!sameListing(listing, await listTree(z)));
  });
});
