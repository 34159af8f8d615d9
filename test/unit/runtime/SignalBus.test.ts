import { strict as assert } from 'node:assert';
import FakeTimers from '@sinonjs/fake-timers';
import { Diagnostics } from '../../../src/runtime/Diagnostics';
import { SignalBus } from '../../../src/runtime/SignalBus';
import type { SignalEnvelope } from '../../../src/runtime/signals';
import { fakeClock } from '../support/fakeClock';

function setup(deadLetterCapacity?: number): {
  bus: SignalBus;
  diagnostics: Diagnostics;
  fake: FakeTimers.Clock;
} {
  const { fake, clock } = fakeClock(1_000);
  const diagnostics = new Diagnostics({ clock });
  const bus = new SignalBus({
    diagnostics,
    clock,
    ...(deadLetterCapacity !== undefined ? { deadLetterCapacity } : {}),
  });
  return { bus, diagnostics, fake };
}

type Connected = SignalEnvelope<'sync:peer:connected'>;

function connected(peerId: string): { peerId: string; transport: string } {
  return { peerId, transport: 'tcp' };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

describe('SignalBus', () => {
  it('delivers a frozen envelope with name, source, clock time and payload', () => {
    const { bus, fake } = setup();
    fake.tick(234);
    const got: Connected[] = [];
    bus.subscribe('sync:peer:connected', (env) => got.push(env));
    bus.subscribe('sync:peer:disconnected', () => assert.fail('wrong signal delivered'));
    bus.publish('sync:peer:connected', connected('p1'), 'SyncWorker');
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], {
      name: 'sync:peer:connected',
      source: 'SyncWorker',
      at: 1_234,
      payload: connected('p1'),
    });
    assert.ok(Object.isFrozen(got[0]));
  });

  it('a throwing subscriber is dead-lettered; publisher and other subscribers carry on', () => {
    const { bus, diagnostics } = setup();
    const before: string[] = [];
    const after: string[] = [];
    bus.subscribe('sync:peer:connected', (env) => before.push(env.payload.peerId));
    bus.subscribe(
      'sync:peer:connected',
      () => {
        throw new Error('observer exploded');
      },
      { label: 'bad-observer' },
    );
    bus.subscribe('sync:peer:connected', (env) => after.push(env.payload.peerId));

    assert.doesNotThrow(() => {
      bus.publish('sync:peer:connected', connected('p1'), 'test');
    });
    bus.publish('sync:peer:connected', connected('p2'), 'test');

    assert.deepEqual(before, ['p1', 'p2']);
    assert.deepEqual(after, ['p1', 'p2']);
    const dead = bus.deadLetters();
    assert.equal(dead.length, 2);
    assert.equal(dead[0]!.subscriber, 'bad-observer');
    assert.equal(dead[0]!.mode, 'sync');
    assert.equal(dead[0]!.error, 'observer exploded');
    assert.equal(dead[0]!.envelope.name, 'sync:peer:connected');
    assert.deepEqual(dead[0]!.envelope.payload, connected('p1'));
    assert.deepEqual(dead[1]!.envelope.payload, connected('p2'));

    const diag = diagnostics
      .recent()
      .filter((e) => e.channel === 'register.signal_routing.dead_letter');
    assert.equal(diag.length, 1, 'identical failures fold into one entry');
    assert.equal(diag[0]!.severity, 'error');
    assert.equal(diag[0]!.count, 2);
    assert.match(diag[0]!.message, /bad-observer.*sync:peer:connected.*observer exploded/);
  });

  it('keeps the dead-letter ring bounded, newest last', () => {
    const { bus } = setup(2);
    bus.subscribe('sync:peer:connected', () => {
      throw new Error('no');
    });
    for (const id of ['a', 'b', 'c']) bus.publish('sync:peer:connected', connected(id), 't');
    assert.deepEqual(
      bus.deadLetters().map((d) => (d.envelope as Connected).payload.peerId),
      ['b', 'c'],
    );
  });

  it('calls async subscribers outside publish, in order, one at a time', async () => {
    const { bus } = setup();
    const got: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    bus.subscribeAsync('sync:peer:connected', async (env) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await flush();
      got.push(env.payload.peerId);
      inFlight -= 1;
    });
    for (const id of ['a', 'b', 'c', 'd']) bus.publish('sync:peer:connected', connected(id), 't');
    assert.deepEqual(got, [], 'nothing delivered inside publish');
    await bus.idle();
    assert.deepEqual(got, ['a', 'b', 'c', 'd']);
    assert.equal(maxInFlight, 1);
    assert.deepEqual(bus.lag()[0], {
      subscriber: 'sync:peer:connected#1',
      signal: 'sync:peer:connected',
      bufferSize: 64,
      pending: 0,
      dropped: 0,
      lagged: false,
    });
  });

  it('a rejecting async subscriber is dead-lettered and still gets later signals', async () => {
    const { bus, diagnostics } = setup();
    const got: string[] = [];
    bus.subscribeAsync(
      'sync:peer:connected',
      async (env) => {
        await Promise.resolve();
        got.push(env.payload.peerId);
        if (env.payload.peerId === 'bad') throw new Error('async observer failed');
      },
      { label: 'slow-ui' },
    );
    for (const id of ['a', 'bad', 'c']) bus.publish('sync:peer:connected', connected(id), 'src');
    await bus.idle();
    assert.deepEqual(got, ['a', 'bad', 'c']);
    const dead = bus.deadLetters();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.mode, 'async');
    assert.equal(dead[0]!.subscriber, 'slow-ui');
    assert.equal(dead[0]!.error, 'async observer failed');
    assert.equal(dead[0]!.envelope.source, 'src');
    assert.ok(
      diagnostics
        .recent()
        .some(
          (e) =>
            e.channel === 'register.signal_routing.dead_letter' &&
            /slow-ui/.test(e.message) &&
            e.severity === 'error',
        ),
    );
  });

  it('reports a slow async subscriber as lagged, dropping the oldest buffered signals', async () => {
    const { bus, diagnostics } = setup();
    const gate = deferred();
    const got: string[] = [];
    bus.subscribeAsync(
      'sync:peer:connected',
      async (env) => {
        got.push(env.payload.peerId);
        await gate.promise;
      },
      { bufferSize: 2, label: 'slow' },
    );
    bus.publish('sync:peer:connected', connected('1'), 't');
    await flush(); // '1' is now in progress, blocked on the gate
    assert.deepEqual(got, ['1']);
    for (const id of ['2', '3', '4', '5', '6'])
      bus.publish('sync:peer:connected', connected(id), 't');

    const [lag] = bus.lag();
    assert.deepEqual(lag, {
      subscriber: 'slow',
      signal: 'sync:peer:connected',
      bufferSize: 2,
      pending: 2,
      dropped: 3,
      lagged: true,
    });
    const lagged = diagnostics
      .recent()
      .filter((e) => e.channel === 'register.signal_routing.lagged');
    assert.equal(lagged.length, 1);
    assert.equal(lagged[0]!.severity, 'warn');
    assert.equal(lagged[0]!.count, 3);
    assert.match(lagged[0]!.message, /slow.*sync:peer:connected/);

    gate.resolve();
    await bus.idle();
    assert.deepEqual(got, ['1', '5', '6'], 'what it receives stays in publish order');
    assert.equal(bus.lag()[0]!.pending, 0);
    assert.equal(bus.lag()[0]!.dropped, 3);
  });

  it('a fast subscriber is not affected by a lagging one', async () => {
    const { bus } = setup();
    const gate = deferred();
    const fast: string[] = [];
    bus.subscribeAsync('sync:peer:connected', () => gate.promise, { bufferSize: 1 });
    bus.subscribeAsync('sync:peer:connected', (env) => {
      fast.push(env.payload.peerId);
      return Promise.resolve();
    });
    for (const id of ['a', 'b', 'c']) bus.publish('sync:peer:connected', connected(id), 't');
    await flush();
    assert.deepEqual(fast, ['a', 'b', 'c']);
    assert.deepEqual(
      bus.lag().map((l) => l.dropped),
      [2, 0],
    );
    gate.resolve();
    await bus.idle();
  });

  it('unsubscribe and dispose stop delivery', async () => {
    const { bus } = setup();
    const sync: string[] = [];
    const asyncGot: string[] = [];
    const off = bus.subscribe('sync:peer:connected', (env) => sync.push(env.payload.peerId));
    bus.subscribeAsync('sync:peer:connected', (env) => {
      asyncGot.push(env.payload.peerId);
      return Promise.resolve();
    });
    bus.publish('sync:peer:connected', connected('a'), 't');
    off();
    bus.publish('sync:peer:connected', connected('b'), 't');
    bus.dispose(); // 'a' and 'b' were still buffered for the async subscriber
    bus.publish('sync:peer:connected', connected('c'), 't');
    await bus.idle();
    await flush();
    assert.deepEqual(sync, ['a']);
    assert.deepEqual(asyncGot, []);
    assert.deepEqual(bus.lag(), []);
  });

  it('does not recurse when a diagnostics sink republishes to a failing subscriber', () => {
    const { bus, diagnostics } = setup();
    diagnostics.addSink((event) => {
      bus.publish('register:diagnostic:emitted', { event }, 'Diagnostics');
    });
    bus.subscribe('register:diagnostic:emitted', () => {
      throw new Error('ui gone');
    });
    bus.subscribe('sync:peer:connected', () => {
      throw new Error('first');
    });
    bus.publish('sync:peer:connected', connected('a'), 't');
    const dead = bus.deadLetters();
    assert.deepEqual(
      dead.map((d) => d.error),
      ['first', 'ui gone'],
    );
  });
});
