import { strict as assert } from 'node:assert';
import { forEachConcurrently } from '../../../src/runtime/forEachConcurrently';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('forEachConcurrently', () => {
  it('runs every item once, never more than `limit` at a time', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachConcurrently([...Array(20).keys()], 3, async (item) => {
      running++;
      most = Math.max(most, running);
      await tick();
      seen.push(item);
      running--;
    });
    assert.equal(most, 3);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [...Array(20).keys()],
    );
  });

  it('rejects with the first error and starts nothing after it', async () => {
    const started: number[] = [];
    await assert.rejects(
      forEachConcurrently([...Array(10).keys()], 2, async (item) => {
        started.push(item);
        await tick();
        if (item === 1) throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(started.length < 10, `started ${started.length}`);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await forEachConcurrently([], 4, () => {
      calls++;
      return Promise.resolve();
    });
    assert.equal(calls, 0);
  });
});
