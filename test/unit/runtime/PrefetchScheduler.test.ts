import { strict as assert } from 'node:assert';
import type FakeTimers from '@sinonjs/fake-timers';
import type { MemoryPressure, NodeKind } from '../../../src/core/intents';
import { defaultLifecyclePolicy, type LifecyclePolicy } from '../../../src/core/lifecyclePolicy';
import type { PrefetchEdge } from '../../../src/core/prefetchPolicy';
import { ControlPanel } from '../../../src/runtime/ControlPanel';
import { Diagnostics } from '../../../src/runtime/Diagnostics';
import {
  PrefetchScheduler,
  type DocumentWarmer,
  type PrefetchSchedulerOptions,
} from '../../../src/runtime/PrefetchScheduler';
import { WatchChannel } from '../../../src/runtime/Watch';
import type { WorkerContext } from '../../../src/runtime/Worker';
import { fakeClock } from '../support/fakeClock';

const kinds: Record<string, NodeKind> = { sel: 'file', a: 'file', b: 'file', c: 'file', d: 'file' };
const edges: PrefetchEdge[] = [
  { from: 'sel', to: 'a', count: 4 },
  { from: 'sel', to: 'b', count: 3 },
  { from: 'c', to: 'sel', count: 2 },
  { from: 'sel', to: 'd', count: 1 },
  { from: 'other', to: 'd', count: 9 },
];

class FakeWarmer implements DocumentWarmer {
  readonly calls: { path: string; at: number }[] = [];
  readonly warmSet = new Set<string>();
  /** Paths whose warm rejects. */
  readonly broken = new Set<string>();
  /** When set, warm() waits for this before resolving. */
  gate: Promise<void> | undefined;
  constructor(private readonly now: () => number) {}
  async warm(path: string): Promise<void> {
    this.calls.push({ path, at: this.now() });
    if (this.gate) await this.gate;
    if (this.broken.has(path)) throw new Error(`cannot open ${path}`);
    this.warmSet.add(path);
  }
  isWarm(path: string): boolean {
    return this.warmSet.has(path);
  }
}

interface Harness {
  fake: FakeTimers.Clock;
  scheduler: PrefetchScheduler;
  warmer: FakeWarmer;
  queue: { depth: number; capacity: number };
  policy: WatchChannel<LifecyclePolicy>;
  pressure: WatchChannel<MemoryPressure>;
  selection: WatchChannel<string | undefined>;
  controller: AbortController;
  run: Promise<void>;
}

function start(overrides: Partial<PrefetchSchedulerOptions> = {}): Harness {
  const { fake, clock } = fakeClock(0);
  const diagnostics = new Diagnostics({ clock });
  const warmer = new FakeWarmer(() => fake.now);
  const queue = { depth: 0, capacity: 10 };
  const policy = new WatchChannel<LifecyclePolicy>({
    ...defaultLifecyclePolicy,
    prefetchBudget: 3,
  });
  const pressure = new WatchChannel<MemoryPressure>('normal');
  const selection = new WatchChannel<string | undefined>(undefined);
  const scheduler = new PrefetchScheduler({
    policy,
    pressure,
    selection,
    graph: () => ({ edges, kindOf: (id) => kinds[id] }),
    warmer,
    queue,
    random: () => 1,
    ...overrides,
  });
  const ctx: WorkerContext = {
    name: scheduler.spec.name,
    clock,
    diagnostics,
    send: () => Promise.reject(new Error('unexpected send')),
    trySend: () => {
      throw new Error('unexpected trySend');
    },
  };
  const controller = new AbortController();
  const run = scheduler.spec.run(controller.signal, ctx);
  return { fake, scheduler, warmer, queue, policy, pressure, selection, controller, run };
}

async function stop(h: Harness): Promise<void> {
  h.controller.abort(new Error('shutdown'));
  await h.run;
}

const warmed = (h: Harness): string[] => h.warmer.calls.map((c) => c.path);

describe('prefetch scheduler', () => {
  it('is the prefetch-scheduler worker and waits for a selection', async () => {
    const h = start();
    assert.equal(h.scheduler.spec.name, 'prefetch-scheduler');
    await h.fake.tickAsync(60_000);
    assert.deepEqual(warmed(h), []);
    assert.equal(h.scheduler.stats().activity, 'idle');
    await stop(h);
  });

  it('warms the best neighbours of the selected node within the budget, once', async () => {
    const h = start();
    h.selection.set('sel');
    await h.fake.tickAsync(0);
    assert.deepEqual(warmed(h), ['a', 'b', 'c']);
    assert.equal(h.scheduler.stats().warmed, 3);
    await h.fake.tickAsync(60_000);
    assert.equal(h.warmer.calls.length, 3, 'nothing warmed twice, no polling');
    // A bigger budget warms the next one.
    h.policy.set({ ...h.policy.get(), prefetchBudget: 4 });
    await h.fake.tickAsync(0);
    assert.deepEqual(warmed(h), ['a', 'b', 'c', 'd']);
    await stop(h);
  });

  it('backs off 2, 4, 8, 16, 30, 30 s while the queue is congested, then resumes', async () => {
    const h = start();
    h.queue.depth = 5; // capacity 10: half full is congested
    h.selection.set('sel');
    await h.fake.tickAsync(0);
    assert.equal(h.scheduler.stats().activity, 'backoff');
    assert.equal(h.scheduler.stats().retryAt, 2_000);
    await h.fake.tickAsync(1_999);
    assert.deepEqual(h.scheduler.stats().recentDelaysMs, [2_000]);
    await h.fake.tickAsync(1);
    assert.deepEqual(h.scheduler.stats().recentDelaysMs, [2_000, 4_000]);
    // 2 + 4 + 8 + 16 + 30 = 60 s: the sixth wait starts at 60 s.
    await h.fake.tickAsync(58_000);
    assert.deepEqual(
      h.scheduler.stats().recentDelaysMs,
      [2_000, 4_000, 8_000, 16_000, 30_000, 30_000],
    );
    assert.deepEqual(warmed(h), [], 'nothing warmed while congested');
    // Congestion clears at 70 s, but the scheduler only looks again when the wait ends (90 s).
    await h.fake.tickAsync(10_000);
    h.queue.depth = 4;
    await h.fake.tickAsync(19_999);
    assert.deepEqual(warmed(h), []);
    await h.fake.tickAsync(1);
    assert.deepEqual(warmed(h), ['a', 'b', 'c']);
    assert.ok(h.warmer.calls.every((c) => c.at === 90_000));
    assert.equal(h.scheduler.stats().backoffs, 6);
    // The attempt count reset: a new congestion starts again at 2 s.
    h.queue.depth = 10;
    h.policy.set({ ...h.policy.get(), prefetchBudget: 4 });
    await h.fake.tickAsync(0);
    assert.equal(h.scheduler.stats().recentDelaysMs.at(-1), 2_000);
    await stop(h);
  });

  it('jitters each delay within [base/2, base]', async () => {
    const h = start({ random: () => 0 });
    h.queue.depth = 10;
    h.selection.set('sel');
    await h.fake.tickAsync(1_000 + 2_000 + 4_000 + 8_000 + 15_000);
    assert.deepEqual(
      h.scheduler.stats().recentDelaysMs,
      [1_000, 2_000, 4_000, 8_000, 15_000, 15_000],
    );
    await stop(h);
  });

  it('stays idle while memory pressure is elevated or critical, and resumes after', async () => {
    const h = start();
    h.pressure.set('elevated');
    h.selection.set('sel');
    await h.fake.tickAsync(60_000);
    assert.deepEqual(warmed(h), []);
    assert.equal(h.scheduler.stats().activity, 'pressure');
    h.pressure.set('critical');
    await h.fake.tickAsync(60_000);
    assert.deepEqual(warmed(h), []);
    h.pressure.set('normal');
    await h.fake.tickAsync(0);
    assert.deepEqual(warmed(h), ['a', 'b', 'c']);
    await stop(h);
  });

  it('stops a plan before the next document when pressure rises', async () => {
    const h = start();
    let release: () => void = () => undefined;
    h.warmer.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    h.selection.set('sel');
    await h.fake.tickAsync(0);
    assert.deepEqual(warmed(h), ['a']);
    h.pressure.set('elevated');
    release();
    await h.fake.tickAsync(0);
    assert.deepEqual(warmed(h), ['a'], 'b and c not warmed under pressure');
    assert.equal(h.scheduler.stats().activity, 'pressure');
    await stop(h);
  });

  it('does not retry a failed warm for the same selection, and keeps running', async () => {
    const h = start();
    h.warmer.broken.add('a');
    h.selection.set('sel');
    await h.fake.tickAsync(0);
    // a failed: its slot goes to the next neighbour, d.
    assert.deepEqual(warmed(h), ['a', 'b', 'c', 'd']);
    assert.deepEqual(
      { warmed: h.scheduler.stats().warmed, failed: h.scheduler.stats().failed },
      { warmed: 3, failed: 1 },
    );
    await h.fake.tickAsync(60_000);
    assert.equal(h.warmer.calls.length, 4, 'a is not retried');
    // A new selection starts afresh: its neighbours are sel and other (not a file node).
    h.selection.set('d');
    await h.fake.tickAsync(0);
    assert.deepEqual(warmed(h).slice(4), ['sel']);
    await stop(h);
  });

  it('returns promptly when aborted in the middle of a warm', async () => {
    const h = start();
    h.warmer.gate = new Promise<void>(() => undefined); // never resolves
    h.selection.set('sel');
    await h.fake.tickAsync(0);
    await stop(h); // would hang if the worker waited for the warm
    assert.deepEqual(warmed(h), ['a']);
  });

  it('reads congestion from the ControlPanel queue depth when supervised by it', async () => {
    const { fake, clock } = fakeClock(0);
    const diagnostics = new Diagnostics({ clock });
    const panel = new ControlPanel({ diagnostics, clock, capacity: 8 });
    const warmer = new FakeWarmer(() => fake.now);
    const selection = new WatchChannel<string | undefined>(undefined);
    const scheduler = new PrefetchScheduler({
      policy: new WatchChannel<LifecyclePolicy>(defaultLifecyclePolicy),
      pressure: new WatchChannel<MemoryPressure>('normal'),
      selection,
      graph: () => ({ edges, kindOf: (id) => kinds[id] }),
      warmer,
      queue: panel,
      random: () => 1,
    });
    panel.startWorker(scheduler.spec);
    // Nobody drains: the worker's health intent plus three memory samples fill half the queue.
    for (let i = 0; i < 3; i++) {
      assert.ok(
        panel.trySend({ type: 'PeerWentOffline', peerId: `p${i}`, reason: 'test' }, 'PeerSync'),
      );
    }
    assert.ok(panel.depth >= 4);
    selection.set('sel');
    await fake.tickAsync(0);
    assert.equal(scheduler.stats().activity, 'backoff');
    assert.deepEqual(warmer.calls, []);
    panel.drain();
    await fake.tickAsync(2_000);
    assert.equal(warmer.calls.length, 4);
    assert.equal(panel.workers()[0]?.status, 'running');
    await panel.shutdown(1_000);
    assert.equal(panel.workers()[0]?.status, 'stopped');
  });
});
