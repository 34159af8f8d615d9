import { strict as assert } from 'node:assert';
import { ExpectedWrites } from '../../../../../src/sync/files/scan/ExpectedWrites';
import type { ScanDelta, ScanEntry } from '../../../../../src/sync/files/scan/scanFolder';
import { fakeClock } from '../../../support/fakeClock';

function entry(path: string, hash: string): ScanEntry {
  return { path, hash, size: 1, mtimeMs: 0, mode: 0o644, executable: false, kind: 'text' };
}

describe('ExpectedWrites', () => {
  it('recognises the echo of our own write once, and nothing else', () => {
    const { clock } = fakeClock();
    const expected = new ExpectedWrites(clock, 1000);
    expected.expect('a.txt', 'h1');
    assert.ok(!expected.isEcho('a.txt', 'other'), 'different content is a real change');
    assert.ok(!expected.isEcho('b.txt', 'h1'), 'another path is a real change');
    assert.ok(expected.isEcho('a.txt', 'h1'));
    assert.ok(!expected.isEcho('a.txt', 'h1'), 'consumed');
  });

  it('expires expectations after the ttl', () => {
    const { clock, fake } = fakeClock();
    const expected = new ExpectedWrites(clock, 1000);
    expected.expect('a.txt', 'h1');
    fake.tick(1000);
    assert.ok(!expected.isEcho('a.txt', 'h1'));
    expected.prune();
    assert.equal(expected.size, 0);
  });

  it('prune forgets exactly the expired expectations, over thousands of writes', () => {
    const { clock, fake } = fakeClock();
    const expected = new ExpectedWrites(clock, 1000);
    for (let i = 0; i < 3000; i += 1) {
      expected.expect(`f${String(i % 1500)}.txt`, `h${String(i)}`);
      fake.tick(1);
    }
    // Now 3000 ms: the writes at 0..2000 ms have expired (expiry <= now); f0..f500 were written
    // again at 1500..2000 (expired too), f501..f1499 at 2001..2999 (alive).
    expected.prune();
    assert.equal(expected.size, 999);
    assert.ok(!expected.isEcho('f0.txt', 'h1500'));
    assert.ok(!expected.isEcho('f500.txt', 'h2000'));
    assert.ok(expected.isEcho('f501.txt', 'h2001'));
    assert.ok(expected.isEcho('f1499.txt', 'h2999'));
    fake.tick(1000);
    expected.prune();
    assert.equal(expected.size, 0);
  });

  it('a later write supersedes earlier ones; deletions are expected with null', () => {
    const { clock } = fakeClock();
    const expected = new ExpectedWrites(clock);
    expected.expect('a.txt', 'h1');
    expected.expect('a.txt', 'h2');
    assert.ok(expected.isEcho('a.txt', 'h2'));
    assert.ok(!expected.isEcho('a.txt', 'h1'), 'h1 was superseded by h2');
    expected.expect('gone.txt', null);
    assert.ok(!expected.isEcho('gone.txt', 'h'));
    assert.ok(expected.isEcho('gone.txt', null));
    expected.expect('c.txt', 'h3');
    expected.cancel('c.txt', 'h3');
    assert.ok(!expected.isEcho('c.txt', 'h3'));
    assert.equal(expected.size, 0);
  });

  it('filters a scan delta', () => {
    const { clock } = fakeClock();
    const expected = new ExpectedWrites(clock);
    expected.expect('ours.txt', 'h');
    expected.expect('deleted-by-us.txt', null);
    const delta: ScanDelta = {
      upserted: [entry('ours.txt', 'h'), entry('theirs.txt', 'x')],
      removed: ['deleted-by-us.txt', 'deleted-by-user.txt'],
      excluded: [],
      dirsAdded: [],
      dirsRemoved: [],
      symlinks: [],
      skipped: [],
      rulesChanged: false,
      stats: { hashed: 2, reused: 0, ignored: 0 },
    };
    const filtered = expected.filter(delta);
    assert.deepEqual(
      filtered.upserted.map((e) => e.path),
      ['theirs.txt'],
    );
    assert.deepEqual(filtered.removed, ['deleted-by-user.txt']);
  });
});
