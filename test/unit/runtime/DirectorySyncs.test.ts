import { strict as assert } from 'node:assert';
import { DirectorySyncs } from '../../../src/runtime/DirectorySyncs';

/** A fake directory sync that records when each sync starts and finishes on demand. */
function fakeSyncs(): {
  syncs: DirectorySyncs;
  started: string[];
  finish: (error?: Error) => void;
} {
  const started: string[] = [];
  const pending: ((error?: Error) => void)[] = [];
  const syncs = new DirectorySyncs((dir) => {
    started.push(dir);
    return new Promise<void>((resolve, reject) => {
      pending.push((error) => {
        error ? reject(error) : resolve();
      });
    });
  });
  return {
    syncs,
    started,
    finish: (error) => {
      pending.shift()?.(error);
    },
  };
}

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DirectorySyncs', () => {
  it('callers during a running sync share the next one, which starts after it', async () => {
    const { syncs, started, finish } = fakeSyncs();
    let first = false;
    let later = 0;
    void syncs.sync('/d').then(() => (first = true));
    const joins = [syncs.sync('/d'), syncs.sync('/d'), syncs.sync('/d')];
    for (const join of joins) void join.then(() => later++);
    assert.deepEqual(started, ['/d']);
    finish();
    await settled();
    assert.equal(first, true);
    // The running sync may have started before their change: they wait for a new one.
    assert.equal(later, 0);
    assert.deepEqual(started, ['/d', '/d']);
    finish();
    await Promise.all(joins);
    assert.equal(later, 3);
  });

  it('different directories sync independently', async () => {
    const { syncs, started, finish } = fakeSyncs();
    const a = syncs.sync('/a');
    const b = syncs.sync('/b');
    assert.deepEqual(started, ['/a', '/b']);
    finish();
    finish();
    await Promise.all([a, b]);
  });

  it('a failed sync fails its callers; the next caller gets a fresh sync', async () => {
    const { syncs, started, finish } = fakeSyncs();
    const failing = syncs.sync('/d');
    finish(new Error('EIO'));
    await assert.rejects(failing, /EIO/);
    const again = syncs.sync('/d');
    assert.equal(started.length, 2);
    finish();
    await again;
  });
});
