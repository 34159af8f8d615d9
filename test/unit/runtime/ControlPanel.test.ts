import { strict as assert } from 'node:assert';
import FakeTimers from '@sinonjs/fake-timers';
import fc from 'fast-check';
import { TwinspaceError } from '../../../src/core/errors';
import { SOURCE_PRIORITY } from '../../../src/core/intents';
import type { Intent, IntentSource, QueuedIntent } from '../../../src/core/intents';
import { sleep } from '../../../src/runtime/Clock';
import type { Clock } from '../../../src/runtime/Clock';
import { ControlPanel } from '../../../src/runtime/ControlPanel';
import type {
  ControlPanelOptions,
  ShutdownReport,
  WorkerHealthView,
} from '../../../src/runtime/ControlPanel';
import { Diagnostics } from '../../../src/runtime/Diagnostics';
import type { DiagnosticChannel, DiagnosticEvent } from '../../../src/runtime/Diagnostics';
import { fakeClock } from '../support/fakeClock';

interface Setup {
  panel: ControlPanel;
  diagnostics: Diagnostics;
  fake: FakeTimers.Clock;
  clock: Clock;
}

function setup(opts: Partial<Omit<ControlPanelOptions, 'diagnostics' | 'clock'>> = {}): Setup {
  const { fake, clock } = fakeClock();
  const diagnostics = new Diagnostics({ clock });
  const panel = new ControlPanel({ diagnostics, clock, random: () => 0.5, ...opts });
  return { panel, diagnostics, fake, clock };
}

/** Diagnostic entries on a channel, and how many events they stand for (repeats are folded). */
function onChannel(d: Diagnostics, channel: DiagnosticChannel): DiagnosticEvent[] {
  return d.recent().filter((e) => e.channel === channel);
}
function countOn(d: Diagnostics, channel: DiagnosticChannel): number {
  return onChannel(d, channel).reduce((n, e) => n + e.count, 0);
}

function pin(nodeId: string, pinned = true): Intent {
  return { type: 'PinNode', nodeId, pinned };
}
function ids(batch: readonly QueuedIntent[]): string[] {
  return batch.map((q) => (q.intent.type === 'PinNode' ? q.intent.nodeId : q.intent.type));
}
function userIntents(batch: readonly QueuedIntent[]): QueuedIntent[] {
  return batch.filter((q) => q.source !== 'Supervisor');
}

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof TwinspaceError && e.code === code;
}

/** Settles pending promise callbacks without moving the clock. */
async function flush(fake: FakeTimers.Clock): Promise<void> {
  await fake.tickAsync(0);
}

/** A worker that runs until aborted, then returns. */
function cooperative(name: string): { name: string; run: (signal: AbortSignal) => Promise<void> } {
  return {
    name,
    run: (signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => {
          resolve();
        });
      }),
  };
}

describe('ControlPanel', () => {
  describe('construction', () => {
    it('starts with no workers, an empty queue and the default capacity', () => {
      const { panel } = setup();
      assert.deepEqual(panel.workers(), []);
      assert.equal(panel.depth, 0);
      assert.equal(panel.capacity, 256);
      assert.deepEqual(panel.drain(), []);
    });

    it('refuses a non-positive capacity', () => {
      assert.throws(() => setup({ capacity: 0 }), isCode('validation'));
      assert.throws(() => setup({ capacity: 1.5 }), isCode('validation'));
    });
  });

  describe('queue', () => {
    it('stamps queued intents with source, clock time, increasing seq and expectedVersion', () => {
      const { panel, fake } = setup();
      fake.tick(42);
      assert.equal(panel.trySend(pin('a'), 'LocalUI', { expectedVersion: 7 }), true);
      fake.tick(1);
      assert.equal(panel.trySend(pin('b'), 'LocalUI'), true);
      assert.equal(panel.depth, 2);
      const [a, b] = panel.drain();
      assert.ok(a && b);
      assert.deepEqual(
        { source: a.source, queuedAt: a.queuedAt, expectedVersion: a.expectedVersion },
        { source: 'LocalUI', queuedAt: 42, expectedVersion: 7 },
      );
      assert.ok(!('expectedVersion' in b), 'no expectedVersion key when none was given');
      assert.ok(b.seq > a.seq);
      assert.equal(panel.depth, 0);
    });

    it('drains by source priority, then queue time, then sequence', () => {
      const { panel, fake } = setup();
      panel.trySend(pin('hint-early'), 'PrefetchScheduler');
      fake.tick(5);
      panel.trySend(pin('peer-late'), 'PeerSync');
      panel.trySend(pin('ui-late-1'), 'LocalUI');
      panel.trySend(pin('ui-late-2'), 'LocalUI');
      fake.tick(5);
      panel.trySend(pin('restore'), 'Restore');
      assert.deepEqual(ids(panel.drain()), [
        'restore',
        'ui-late-1',
        'ui-late-2',
        'peer-late',
        'hint-early',
      ]);
    });

    it('trySend on a full queue returns false and emits backpressure (folded on repeat)', () => {
      const { panel, diagnostics } = setup({ capacity: 2 });
      assert.equal(panel.trySend(pin('a'), 'PrefetchScheduler'), true);
      assert.equal(panel.trySend(pin('b'), 'PrefetchScheduler'), true);
      assert.equal(countOn(diagnostics, 'control_panel.queue.backpressure'), 0);
      assert.equal(panel.trySend(pin('c'), 'PrefetchScheduler'), false);
      assert.equal(panel.trySend(pin('c'), 'PrefetchScheduler'), false);
      assert.equal(panel.trySend(pin('c'), 'PrefetchScheduler'), false);
      const events = onChannel(diagnostics, 'control_panel.queue.backpressure');
      assert.equal(events.length, 1, 'identical repeats fold into one entry');
      assert.equal(events[0]?.count, 3);
      assert.equal(events[0].severity, 'warn');
      assert.deepEqual(ids(panel.drain()), ['a', 'b'], 'the refused intent was not queued');
    });

    it('send on a full queue waits, then delivers after a drain; waiters are served FIFO', async () => {
      const { panel, fake } = setup({ capacity: 2 });
      panel.trySend(pin('q1'), 'LocalUI');
      panel.trySend(pin('q2'), 'LocalUI');
      const delivered: string[] = [];
      const sends = ['w1', 'w2', 'w3'].map((id) =>
        panel.send(pin(id), 'PeerSync').then(() => delivered.push(id)),
      );
      await flush(fake);
      assert.deepEqual(delivered, [], 'nothing is delivered while the queue is full');
      assert.equal(panel.depth, 2);

      assert.deepEqual(ids(panel.drain()), ['q1', 'q2']);
      await flush(fake);
      assert.deepEqual(delivered, ['w1', 'w2'], 'the first two waiters got the freed space');
      assert.equal(panel.depth, 2);
      assert.equal(
        panel.trySend(pin('late'), 'Restore'),
        false,
        'a later trySend does not jump ahead of a waiting send',
      );
      const late = panel.send(pin('late-send'), 'Restore');

      assert.deepEqual(ids(panel.drain()), ['w1', 'w2']);
      await flush(fake);
      assert.deepEqual(delivered, ['w1', 'w2', 'w3']);
      assert.deepEqual(ids(panel.drain()), ['late-send', 'w3'], 'both admitted, then sorted');
      await Promise.all([...sends, late]);
    });

    it('a waiting send rejects with the abort reason and is never queued', async () => {
      const { panel } = setup({ capacity: 1 });
      panel.trySend(pin('full'), 'LocalUI');
      const ac = new AbortController();
      const waiting = panel.send(pin('aborted'), 'PeerSync', { signal: ac.signal });
      const reason = new Error('gave up');
      ac.abort(reason);
      await assert.rejects(waiting, (e: unknown) => e === reason);
      assert.deepEqual(ids(panel.drain()), ['full']);
      assert.deepEqual(ids(panel.drain()), [], 'the aborted intent never entered the queue');
      const pre = new AbortController();
      pre.abort(reason);
      await assert.rejects(
        panel.send(pin('x'), 'LocalUI', { signal: pre.signal }),
        (e) => e === reason,
      );
      assert.equal(panel.depth, 0);
    });

    it('emits control_panel.queue.depth only when a drain takes more than capacity/2', () => {
      const { panel, diagnostics } = setup({ capacity: 4 });
      panel.trySend(pin('a'), 'LocalUI');
      panel.trySend(pin('b'), 'LocalUI');
      panel.drain();
      assert.equal(
        countOn(diagnostics, 'control_panel.queue.depth'),
        0,
        '2 of 4 is not more than half',
      );
      panel.trySend(pin('a'), 'LocalUI');
      panel.trySend(pin('b'), 'LocalUI');
      panel.trySend(pin('c'), 'LocalUI');
      panel.drain();
      assert.equal(countOn(diagnostics, 'control_panel.queue.depth'), 1);
    });

    it('calls onEnqueued for every enqueue until unsubscribed; a throwing listener is isolated', () => {
      const { panel, diagnostics } = setup();
      let calls = 0;
      panel.onEnqueued(() => {
        throw new Error('bad listener');
      });
      const off = panel.onEnqueued(() => {
        calls += 1;
      });
      panel.trySend(pin('a'), 'LocalUI');
      void panel.send(pin('b'), 'LocalUI');
      assert.equal(calls, 2);
      off();
      panel.trySend(pin('c'), 'LocalUI');
      assert.equal(calls, 2);
      assert.equal(panel.depth, 3, 'the throwing listener did not stop the enqueue');
      assert.ok(countOn(diagnostics, 'register.signal_routing.dead_letter') >= 1);
    });

    describe('deterministic drain order under concurrent producers (fast-check)', () => {
      const sources = Object.keys(SOURCE_PRIORITY) as IntentSource[];
      const stepArb = fc.record({
        advance: fc.nat({ max: 3 }),
        items: fc.array(fc.record({ source: fc.constantFrom(...sources), pinned: fc.boolean() }), {
          maxLength: 8,
        }),
      });
      const scenarioArb = fc.array(stepArb, { maxLength: 6 }).map((steps) => {
        let n = 0;
        return steps.map((s) => ({
          advance: s.advance,
          items: s.items.map((i) => ({ source: i.source, intent: pin(`n${n++}`, i.pinned) })),
        }));
      });
      type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

      /**
       * One producer per source per clock step (each keeps its own order); the scheduler picks any
       * interleaving among them. Without a scheduler they run one after another.
       */
      async function run(scenario: Scenario, s?: fc.Scheduler): Promise<QueuedIntent[]> {
        const { fake, clock } = fakeClock(1_000);
        const panel = new ControlPanel({
          diagnostics: new Diagnostics({ clock }),
          clock,
          capacity: 1_000,
        });
        for (const step of scenario) {
          fake.tick(step.advance);
          const bySource = new Map<IntentSource, Intent[]>();
          for (const { source, intent } of step.items) {
            bySource.set(source, [...(bySource.get(source) ?? []), intent]);
          }
          const producers = [...bySource].map(async ([source, intents]) => {
            for (const intent of intents) {
              if (s) await s.schedule(Promise.resolve(), source);
              await panel.send(intent, source);
            }
          });
          const all = Promise.all(producers);
          await (s ? s.waitFor(all) : all);
        }
        return panel.drain();
      }

      it('same multiset of (intent, source, queuedAt) in any interleaving gives the same order', async () => {
        await fc.assert(
          fc.asyncProperty(scenarioArb, fc.scheduler(), async (scenario, s) => {
            const reference = await run(scenario);
            const interleaved = await run(scenario, s);
            const key = (q: QueuedIntent): string =>
              `${q.source}@${q.queuedAt}:${ids([q])[0] ?? ''}`;
            assert.deepEqual(
              [...interleaved.map(key)].sort(),
              [...reference.map(key)].sort(),
              'same multiset',
            );
            assert.deepEqual(ids(interleaved), ids(reference));
            // And that order is the documented one: source priority first, then time, then each
            // producer's own order.
            const expected = [...sources]
              .sort((a, b) => SOURCE_PRIORITY[a] - SOURCE_PRIORITY[b])
              .flatMap((src) =>
                scenario.flatMap((step) =>
                  step.items.filter((i) => i.source === src).map((i) => ids([wrap(i.intent)])[0]),
                ),
              );
            assert.deepEqual(ids(interleaved), expected);
          }),
          { numRuns: 60 },
        );
      });

      function wrap(intent: Intent): QueuedIntent {
        return { intent, source: 'LocalUI', queuedAt: 0, seq: 0 };
      }
    });
  });

  describe('supervision', () => {
    it('gives each worker a context bound to the panel and its own abort signal', async () => {
      const { panel, fake, clock, diagnostics } = setup();
      const signals: AbortSignal[] = [];
      for (const name of ['a', 'b']) {
        panel.startWorker({
          name,
          run: async (signal, ctx) => {
            signals.push(signal);
            assert.equal(ctx.name, name);
            assert.equal(ctx.clock, clock);
            assert.equal(ctx.diagnostics, diagnostics);
            await ctx.send(pin(`${name}-sent`), 'FileWatcher');
            ctx.trySend(pin(`${name}-tried`), 'PrefetchScheduler');
          },
        });
      }
      await flush(fake);
      assert.equal(signals.length, 2);
      assert.notEqual(signals[0], signals[1]);
      assert.deepEqual(ids(userIntents(panel.drain())), ['a-sent', 'b-sent', 'a-tried', 'b-tried']);
    });

    it('throws a validation error on a duplicate worker name', () => {
      const { panel } = setup();
      panel.startWorker(cooperative('dup'));
      assert.throws(() => {
        panel.startWorker(cooperative('dup'));
      }, isCode('validation'));
      assert.equal(panel.workers().length, 1);
    });

    it('restarts a throwing worker with growing jittered delays, then fails it past the intensity limit with one Error diagnostic', async () => {
      const { panel, fake, diagnostics } = setup({ random: () => 0.5 });
      const starts: number[] = [];
      const health: WorkerHealthView[] = [];
      panel.onWorkerHealth((h) => health.push(h));
      panel.startWorker({
        name: 'crashy',
        run: () => {
          starts.push(fake.now);
          return Promise.reject(new Error('boom'));
        },
      });
      await flush(fake);
      const firstBackoff = health.find((h) => h.status === 'backoff');
      assert.equal(firstBackoff?.nextRestartAt, 75, 'first restart after 100 ms * 0.75');

      await fake.tickAsync(74);
      assert.deepEqual(starts, [0], 'not restarted before the delay');
      await fake.tickAsync(1);
      assert.deepEqual(starts, [0, 75]);

      await fake.tickAsync(10 * 60_000);
      // Equal jitter with random() = 0.5: 0.75 * 100, 200, 400, 800, 1600 ms.
      const gaps = starts.slice(1).map((t, i) => t - (starts[i] ?? 0));
      assert.deepEqual(gaps, [75, 150, 300, 600, 1_200]);
      assert.equal(
        starts.length,
        6,
        'the sixth failure within a minute exceeds 5: no more restarts',
      );

      const [view] = panel.workers();
      assert.equal(view?.status, 'failed');
      assert.equal(view.restarts, 5);
      assert.equal(view.totalFailures, 6);
      assert.equal(view.lastError, 'boom');
      assert.equal(view.nextRestartAt, undefined);
      const failed = onChannel(diagnostics, 'control_panel.worker.failed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]?.count, 1, 'exactly one Error diagnostic');
      assert.equal(failed[0].severity, 'error');
      assert.equal(countOn(diagnostics, 'control_panel.worker.restarted'), 5, 'one per restart');
      assert.ok(
        onChannel(diagnostics, 'control_panel.worker.restarted').every(
          (e) => e.severity === 'warn',
        ),
      );
      assert.equal(health.filter((h) => h.status === 'failed').length, 1);

      // Health also reached the queue as Supervisor intents, ending with 'failed'.
      const supervisor = panel.drain().filter((q) => q.source === 'Supervisor');
      const statuses = supervisor.map((q) =>
        q.intent.type === 'WorkerHealthChanged' ? q.intent.status : '?',
      );
      assert.equal(statuses[0], 'running');
      assert.equal(statuses.at(-1), 'failed');
      assert.equal(statuses.filter((s) => s === 'backoff').length, 5);
      const last = supervisor.at(-1)?.intent;
      assert.ok(
        last?.type === 'WorkerHealthChanged' &&
          last.worker === 'crashy' &&
          last.lastError === 'boom',
      );
    });

    it('never fails a worker that fails slowly (once every 2 minutes): the failure count decays', async () => {
      const { panel, fake, clock, diagnostics } = setup({ random: () => 0.5 });
      const starts: number[] = [];
      panel.startWorker({
        name: 'slow',
        run: async (signal) => {
          starts.push(fake.now);
          await sleep(clock, 120_000, signal);
          throw new Error('flaky');
        },
      });
      await fake.tickAsync(2 * 60 * 60_000);
      assert.ok(starts.length >= 59, `ran ${starts.length} times`);
      const gaps = new Set(starts.slice(1).map((t, i) => t - (starts[i] ?? 0)));
      assert.deepEqual([...gaps], [120_075], 'backoff stays at the initial delay');
      const [view] = panel.workers();
      assert.notEqual(view?.status, 'failed');
      assert.equal(view?.totalFailures, starts.length - 1 + (view?.status === 'backoff' ? 1 : 0));
      assert.ok(view.failures < 1.5, `decayed failure count ${view.failures}`);
      assert.equal(countOn(diagnostics, 'control_panel.worker.failed'), 0);
    });

    it('forgets a burst of failures after a quiet period (decay, not a lifetime count)', async () => {
      const { panel, fake, clock } = setup({ random: () => 0.5 });
      let runs = 0;
      panel.startWorker({
        name: 'bursty',
        run: async (signal) => {
          runs += 1;
          // Runs 1-5 and 7-9 crash at once; run 6 crashes after 10 quiet minutes; run 10 keeps going.
          if (runs === 6) await sleep(clock, 10 * 60_000, signal);
          if (runs === 10) await sleep(clock, 24 * 60 * 60_000, signal);
          throw new Error(`crash ${runs}`);
        },
      });
      await fake.tickAsync(30 * 60_000);
      const [view] = panel.workers();
      assert.equal(runs, 10);
      assert.equal(view?.status, 'running');
      assert.equal(view.totalFailures, 9, 'nine failures in total, more than the limit of 5');
      assert.ok(view.failures < 5);
    });

    it('uses intensity and failureDecayMs options', async () => {
      const { panel, fake } = setup({
        intensity: { maxFailures: 1, windowMs: 1_000 },
        backoff: { initialMs: 10, maxMs: 10, factor: 1 },
      });
      let runs = 0;
      panel.startWorker({
        name: 'strict',
        run: () => {
          runs += 1;
          return Promise.reject(new Error('x'));
        },
      });
      await fake.tickAsync(60_000);
      assert.equal(runs, 2, 'the second quick failure exceeds maxFailures 1');
      assert.equal(panel.workers()[0]?.status, 'failed');
    });

    it("does not restart a restart:'never' worker: stopped on return, failed on throw", async () => {
      const { panel, fake, diagnostics } = setup();
      let returnsRuns = 0;
      let throwsRuns = 0;
      panel.startWorker({
        name: 'returns',
        restart: 'never',
        run: () => {
          returnsRuns += 1;
          return Promise.resolve();
        },
      });
      panel.startWorker({
        name: 'throws',
        restart: 'never',
        run: () => {
          throwsRuns += 1;
          throw new Error('sync throw');
        },
      });
      await fake.tickAsync(10 * 60_000);
      assert.equal(returnsRuns, 1);
      assert.equal(throwsRuns, 1);
      const byName = new Map(panel.workers().map((w) => [w.name, w]));
      assert.equal(byName.get('returns')?.status, 'stopped');
      assert.equal(byName.get('throws')?.status, 'failed');
      assert.equal(byName.get('throws')?.lastError, 'sync throw');
      assert.equal(byName.get('throws')?.restarts, 0);
      assert.equal(countOn(diagnostics, 'control_panel.worker.failed'), 1);
      assert.equal(countOn(diagnostics, 'control_panel.worker.restarted'), 0);
    });

    it("treats a normal return of an 'on-failure' worker as done", async () => {
      const { panel, fake, diagnostics } = setup();
      let runs = 0;
      panel.startWorker({
        name: 'oneshot',
        run: () => {
          runs += 1;
          return Promise.resolve();
        },
      });
      await fake.tickAsync(60_000);
      assert.equal(runs, 1);
      assert.equal(panel.workers()[0]?.status, 'stopped');
      assert.equal(countOn(diagnostics, 'control_panel.worker.failed'), 0);
    });

    it("restarts a restart:'always' worker after a normal return, with backoff", async () => {
      const { panel, fake, diagnostics } = setup({ random: () => 0.5 });
      const starts: number[] = [];
      panel.startWorker({
        name: 'loop',
        restart: 'always',
        run: () => {
          starts.push(fake.now);
          return Promise.resolve();
        },
      });
      await fake.tickAsync(3_000);
      const gaps = starts.slice(1).map((t, i) => t - (starts[i] ?? 0));
      assert.deepEqual(gaps.slice(0, 4), [75, 150, 300, 600], 'a hot loop is slowed down');
      const [view] = panel.workers();
      assert.notEqual(view?.status, 'failed', 'normal returns are not failures');
      assert.equal(view?.totalFailures, 0);
      assert.equal(countOn(diagnostics, 'control_panel.worker.failed'), 0);
    });

    it('keeps the latest health of a worker when the queue is full and offers it after a drain', async () => {
      const { panel, fake } = setup({ capacity: 1 });
      panel.trySend(pin('filler'), 'LocalUI');
      panel.startWorker({ name: 'w', restart: 'never', run: () => Promise.resolve() });
      await flush(fake);
      assert.equal(panel.workers()[0]?.status, 'stopped');
      assert.deepEqual(ids(panel.drain()), ['filler']);
      const after = panel.drain();
      assert.equal(after.length, 1);
      const intent = after[0]?.intent;
      assert.ok(intent?.type === 'WorkerHealthChanged');
      assert.equal(intent.status, 'stopped', 'only the latest status, not the stale running one');
      assert.equal(after[0]?.source, 'Supervisor');
    });
  });

  describe('shutdown', () => {
    it('stops all workers within its bound and reports leftover intents without discarding them', async () => {
      const { panel, fake, diagnostics } = setup({ capacity: 3, random: () => 0.5 });
      const aborted: string[] = [];
      for (const name of ['a', 'b']) {
        const w = cooperative(name);
        panel.startWorker({
          name,
          run: async (signal) => {
            signal.addEventListener('abort', () => aborted.push(name));
            await w.run(signal);
          },
        });
      }
      let crashes = 0;
      panel.startWorker({
        name: 'backing-off',
        run: () => {
          crashes += 1;
          return Promise.reject(new Error('down'));
        },
      });
      await flush(fake);
      assert.equal(panel.workers().find((w) => w.name === 'backing-off')?.status, 'backoff');
      panel.drain();
      panel.drain(); // health intents deferred by the small capacity

      panel.trySend(pin('q1'), 'LocalUI');
      panel.trySend(pin('q2'), 'PeerSync');
      panel.trySend(pin('q3'), 'FileWatcher');
      let pendingError: unknown;
      const pending = panel.send(pin('pending'), 'PeerSync').catch((e: unknown) => {
        pendingError = e;
      });

      const started = fake.now;
      const report = await panel.shutdown(5_000);
      assert.equal(fake.now, started, 'cooperative workers stop without waiting for the bound');
      assert.deepEqual(aborted.sort(), ['a', 'b']);
      assert.deepEqual(report.stopped.sort(), ['a', 'b', 'backing-off']);
      assert.deepEqual(report.timedOut, []);
      // 'pending' asked at the same time as q2, so it sorts after q2 (it gets a later seq).
      assert.deepEqual(ids(report.leftover), ['q1', 'q2', 'pending', 'q3']);
      assert.deepEqual(ids(report.rejected), ['pending']);
      await pending;
      assert.ok(pendingError instanceof TwinspaceError && pendingError.code === 'closed');
      assert.ok(panel.workers().every((w) => w.status === 'stopped'));

      // The queued intents are still there for the Engine's final tick; the refused one is not.
      assert.deepEqual(ids(panel.drain()), ['q1', 'q2', 'q3']);

      // The backing-off worker was not restarted after shutdown.
      await fake.tickAsync(60_000);
      assert.equal(crashes, 1);
      assert.equal(countOn(diagnostics, 'control_panel.shutdown'), 1);
      assert.equal(countOn(diagnostics, 'control_panel.shutdown.leftover'), 1);
    });

    it('returns on time when a worker ignores its abort signal, reporting it as timed out', async () => {
      const { panel, fake } = setup();
      let stubbornSignal: AbortSignal | undefined;
      panel.startWorker(cooperative('good'));
      panel.startWorker({
        name: 'stubborn',
        run: (signal) => {
          stubbornSignal = signal;
          return new Promise<void>(() => undefined);
        },
      });
      const box: { report?: ShutdownReport } = {};
      const done = panel.shutdown(1_000).then((r) => {
        box.report = r;
      });
      await fake.tickAsync(999);
      assert.equal(box.report, undefined, 'still waiting within the bound');
      assert.equal(stubbornSignal?.aborted, true);
      await fake.tickAsync(1);
      await done;
      assert.equal(fake.now, 1_000, 'returned exactly at the bound');
      const report = box.report as ShutdownReport | undefined;
      assert.deepEqual(report?.stopped, ['good']);
      assert.deepEqual(report.timedOut, ['stubborn']);
      assert.equal(panel.workers().find((w) => w.name === 'stubborn')?.status, 'running');
    });

    it('rejects send with code closed after shutdown, and refuses trySend and startWorker', async () => {
      const { panel } = setup();
      await panel.shutdown(100);
      await assert.rejects(panel.send(pin('late'), 'LocalUI'), isCode('closed'));
      assert.equal(panel.trySend(pin('late'), 'LocalUI'), false);
      assert.throws(() => {
        panel.startWorker(cooperative('late'));
      }, isCode('closed'));
      assert.equal(panel.depth, 0);
    });

    it('lets workers flush intents while they stop, and returns the same report when called twice', async () => {
      const { panel, fake } = setup();
      panel.startWorker({
        name: 'flusher',
        run: async (signal, ctx) => {
          await new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              resolve();
            });
          });
          await ctx.send(pin('final-flush'), 'FileWatcher');
        },
      });
      await flush(fake);
      panel.drain();
      const first = panel.shutdown(1_000);
      const second = panel.shutdown(50);
      assert.equal(first, second);
      const report = await first;
      assert.deepEqual(report.stopped, ['flusher']);
      assert.deepEqual(ids(report.leftover), ['final-flush']);
      assert.deepEqual(ids(panel.drain()), ['final-flush']);
    });
  });
});
