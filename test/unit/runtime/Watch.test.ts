import { strict as assert } from 'node:assert';
import { TwinspaceError } from '../../../src/core/errors';
import { WatchChannel } from '../../../src/runtime/Watch';

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): {
  state: () => 'pending' | 'resolved' | 'rejected';
  value: () => T | undefined;
  error: () => unknown;
} {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => {
      state = 'resolved';
      value = v;
    },
    (e: unknown) => {
      state = 'rejected';
      error = e;
    },
  );
  return { state: () => state, value: () => value, error: () => error };
}

describe('WatchChannel', () => {
  it('holds a value and bumps the version only on a change', () => {
    const ch = new WatchChannel(1);
    assert.equal(ch.get(), 1);
    assert.equal(ch.version, 0);
    assert.equal(ch.set(1), false);
    assert.equal(ch.version, 0);
    assert.equal(ch.set(2), true);
    assert.equal(ch.get(), 2);
    assert.equal(ch.version, 1);
    ch.set(3);
    ch.set(4);
    assert.equal(ch.version, 3, 'a reader at version 1 can tell it missed two changes');
  });

  it('uses Object.is by default and a supplied equality when given', () => {
    const byIdentity = new WatchChannel({ n: 1 });
    assert.equal(byIdentity.set({ n: 1 }), true);
    const nan = new WatchChannel(Number.NaN);
    assert.equal(nan.set(Number.NaN), false);

    const byValue = new WatchChannel({ n: 1 }, { equals: (a, b) => a.n === b.n });
    const calls: number[] = [];
    byValue.subscribe((v) => calls.push(v.n));
    assert.equal(byValue.set({ n: 1 }), false);
    assert.equal(byValue.set({ n: 2 }), true);
    assert.deepEqual(calls, [2]);
    assert.equal(byValue.version, 1);
  });

  it('changed() resolves at the next change after the call, not an earlier one', async () => {
    const ch = new WatchChannel('a');
    ch.set('b'); // before the call: must not count
    const next = track(ch.changed());
    await flush();
    assert.equal(next.state(), 'pending');
    ch.set('b'); // not a change
    await flush();
    assert.equal(next.state(), 'pending');
    ch.set('c');
    await flush();
    assert.equal(next.state(), 'resolved');
    assert.equal(next.value(), 'c');
  });

  it('changedSince() resolves at once when the reader already missed a change', async () => {
    const ch = new WatchChannel(0);
    const seen = ch.version;
    ch.set(1);
    ch.set(2);
    assert.equal(await ch.changedSince(seen), 2);
    const later = track(ch.changedSince(ch.version));
    await flush();
    assert.equal(later.state(), 'pending');
    ch.set(3);
    await flush();
    assert.equal(later.state(), 'resolved');
    assert.equal(later.value(), 3);
  });

  it('changed() rejects with the abort reason and forgets the waiter', async () => {
    const ch = new WatchChannel(0);
    const controller = new AbortController();
    const reason = new Error('stop waiting');
    const waiting = track(ch.changed(controller.signal));
    controller.abort(reason);
    await flush();
    assert.equal(waiting.state(), 'rejected');
    assert.equal(waiting.error(), reason);
    ch.set(1); // must not touch the aborted waiter
    await flush();
    assert.equal(waiting.state(), 'rejected');

    await assert.rejects(ch.changed(AbortSignal.abort()), { name: 'AbortError' });
  });

  it('subscribe() gets value and version on each change until unsubscribed', () => {
    const ch = new WatchChannel(0);
    const calls: [number, number][] = [];
    const off = ch.subscribe((value, version) => calls.push([value, version]));
    ch.set(5);
    ch.set(5);
    ch.set(6);
    off();
    ch.set(7);
    assert.deepEqual(calls, [
      [5, 1],
      [6, 2],
    ]);
  });

  it('a throwing subscriber does not stop the others; set() keeps the value', () => {
    const ch = new WatchChannel(0);
    const seen: number[] = [];
    ch.subscribe(() => {
      throw new Error('bad listener');
    });
    ch.subscribe((v) => seen.push(v));
    assert.throws(() => ch.set(1), /bad listener/);
    assert.equal(ch.get(), 1);
    assert.deepEqual(seen, [1]);

    const errors: unknown[] = [];
    const quiet = new WatchChannel(0, { onSubscriberError: (e) => errors.push(e) });
    quiet.subscribe(() => {
      throw new Error('reported');
    });
    assert.equal(quiet.set(1), true);
    assert.equal(errors.length, 1);
  });

  it('close() rejects waiters with a closed error and refuses new values', async () => {
    const ch = new WatchChannel(0);
    const waiting = ch.changed();
    ch.close();
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof TwinspaceError && e.code === 'closed',
    );
    await assert.rejects(ch.changed(), { code: 'closed' });
    assert.throws(() => ch.set(1), { code: 'closed' });
    assert.equal(ch.get(), 0);
    assert.ok(ch.closed);
  });
});
