/**
 * The prefetch scheduler: a supervised worker ('prefetch-scheduler') that warms the neighbours of
 * the selected graph node (loads their documents in the background: Cold → Warm) within
 * `policy.prefetchBudget`, as planned by the pure `planPrefetch` (src/core/prefetchPolicy.ts).
 *
 * - It waits (no timer, no polling) until the selection, the memory pressure or the policy changes.
 * - While memory pressure is 'elevated' or 'critical' it warms nothing and stays idle until the
 *   pressure (or the policy or selection) changes; a pressure rise in the middle of a plan stops it
 *   before the next document.
 * - When the intent queue is congested (depth >= capacity × `congestedAt`, default 1/2: where the
 *   ControlPanel starts reporting `control_panel.queue.depth`) it backs off: attempt n waits
 *   `Backoff.delay(n)` with PREFETCH_BACKOFF (2 s doubling to 30 s, equal jitter: uniformly in
 *   [base/2, base]); it only looks again when that delay is over. The attempt count resets once a
 *   round finds the queue uncongested.
 * - Documents are warmed one at a time. A warm that fails (file gone, too big) is not retried for
 *   the same selection, gives its slot to the next neighbour and does not fail the worker; each
 *   node is tried at most once per selection.
 * - It runs until its signal aborts (then returns promptly, even in the middle of a warm).
 */
import type { MemoryPressure } from '../core/intents';
import { pressureRank, type LifecyclePolicy } from '../core/lifecyclePolicy';
import { planPrefetch, type PrefetchEdge } from '../core/prefetchPolicy';
import type { NodeKind } from '../core/intents';
import { Backoff, type BackoffPolicy } from './Backoff';
import type { Clock } from './Clock';
import type { WatchChannel } from './Watch';
import type { WorkerContext, WorkerSpec } from './Worker';

/** Loads documents in the background (the host implements it on the vscode API). */
export interface DocumentWarmer {
  warm(path: string): Promise<void>;
  isWarm(path: string): boolean;
}

/** The part of the workspace graph the scheduler reads. */
export interface PrefetchGraph {
  readonly edges: readonly PrefetchEdge[];
  kindOf(nodeId: string): NodeKind | undefined;
}

/** How full the intent queue is (the ControlPanel has both). */
export interface QueueGauge {
  readonly depth: number;
  readonly capacity: number;
}

export const PREFETCH_BACKOFF: BackoffPolicy = Object.freeze({
  initialMs: 2_000,
  maxMs: 30_000,
  factor: 2,
});

export interface PrefetchSchedulerOptions {
  readonly policy: WatchChannel<LifecyclePolicy>;
  /** The current memory pressure (the host feeds it from the Engine's snapshots). */
  readonly pressure: WatchChannel<MemoryPressure>;
  /** The selected node id (the active editor's file, or the graph's selection). */
  readonly selection: WatchChannel<string | undefined>;
  readonly graph: () => PrefetchGraph;
  readonly warmer: DocumentWarmer;
  readonly queue: QueueGauge;
  /** The path to warm for a node; undefined skips it. Default: the node id (file ids are paths). */
  readonly pathOf?: (nodeId: string) => string | undefined;
  /** Fraction of the capacity at or above which the queue counts as congested; default 0.5. */
  readonly congestedAt?: number;
  readonly backoff?: BackoffPolicy;
  /** Jitter randomness; default Math.random. */
  readonly random?: () => number;
}

export type PrefetchActivity = 'idle' | 'warming' | 'backoff' | 'pressure';

export interface PrefetchStats {
  readonly activity: PrefetchActivity;
  /** Documents warmed since start. */
  readonly warmed: number;
  /** Warms that failed since start. */
  readonly failed: number;
  /** Backoff waits since start, and the delays used (ms), newest last (at most 32 kept). */
  readonly backoffs: number;
  readonly recentDelaysMs: readonly number[];
  /** Clock time the current backoff ends, while activity is 'backoff'. */
  readonly retryAt?: number;
}

type Wake = 'tick' | 'changed' | 'aborted';

/** What waitForWake needs of a watch channel (any WatchChannel<T> is one). */
export interface Watched {
  readonly version: number;
  subscribe(fn: () => void): () => void;
}

/**
 * Resolves when `ms` have passed on the clock (never when `ms` is undefined), when one of the
 * channels moves past the version given with it, or when the signal aborts.
 */
export function waitForWake(
  clock: Clock,
  ms: number | undefined,
  channels: readonly (readonly [Watched, number])[],
  signal: AbortSignal,
): Promise<Wake> {
  if (signal.aborted) return Promise.resolve('aborted');
  for (const [channel, version] of channels) {
    if (channel.version > version) return Promise.resolve('changed');
  }
  return new Promise<Wake>((resolve) => {
    const cleanups: (() => void)[] = [];
    const done = (why: Wake): void => {
      for (const cleanup of cleanups.splice(0)) cleanup();
      resolve(why);
    };
    const onAbort = (): void => {
      done('aborted');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => {
      signal.removeEventListener('abort', onAbort);
    });
    for (const [channel] of channels) {
      cleanups.push(
        channel.subscribe(() => {
          done('changed');
        }),
      );
    }
    if (ms !== undefined) {
      const handle = clock.setTimeout(() => {
        done('tick');
      }, ms);
      cleanups.push(() => {
        clock.clearTimeout(handle);
      });
    }
  });
}

/** Read through a call: the compiler would otherwise keep a narrowing from an earlier check. */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Resolves with `promise`'s outcome, or with 'aborted' as soon as the signal aborts. */
async function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | 'aborted'> {
  if (signal.aborted) return 'aborted';
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => {
      resolve('aborted');
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export class PrefetchScheduler {
  readonly spec: WorkerSpec;
  private readonly options: PrefetchSchedulerOptions;
  private readonly backoff: Backoff;
  private readonly pathOf: (nodeId: string) => string | undefined;
  private activity: PrefetchActivity = 'idle';
  private warmed = 0;
  private failed = 0;
  private backoffs = 0;
  private readonly delays: number[] = [];
  private retryAt: number | undefined;

  constructor(options: PrefetchSchedulerOptions) {
    this.options = options;
    this.backoff = new Backoff(options.backoff ?? PREFETCH_BACKOFF, options.random);
    this.pathOf = options.pathOf ?? ((id) => id);
    this.spec = {
      name: 'prefetch-scheduler',
      run: (signal, ctx) => this.run(signal, ctx),
    };
  }

  stats(): PrefetchStats {
    return {
      activity: this.activity,
      warmed: this.warmed,
      failed: this.failed,
      backoffs: this.backoffs,
      recentDelaysMs: [...this.delays],
      ...(this.retryAt !== undefined ? { retryAt: this.retryAt } : {}),
    };
  }

  private congested(): boolean {
    const { depth, capacity } = this.options.queue;
    return depth >= capacity * (this.options.congestedAt ?? 0.5);
  }

  private underPressure(): boolean {
    return pressureRank(this.options.pressure.get()) > 0;
  }

  private async run(signal: AbortSignal, ctx: WorkerContext): Promise<void> {
    const { policy, pressure, selection } = this.options;
    let attempt = 0;
    let lastSelected: string | undefined;
    /** Nodes warmed, and nodes whose warm failed, for the current selection. */
    const warmedNow = new Set<string>();
    const failedNow = new Set<string>();
    try {
      while (!signal.aborted) {
        const seen: [Watched, number][] = [
          [policy, policy.version],
          [pressure, pressure.version],
          [selection, selection.version],
        ];
        if (this.underPressure()) {
          this.activity = 'pressure';
          attempt = 0;
          if ((await waitForWake(ctx.clock, undefined, seen, signal)) === 'aborted') return;
          continue;
        }
        const selected = selection.get();
        if (selected !== lastSelected) {
          warmedNow.clear();
          failedNow.clear();
          lastSelected = selected;
        }
        const graph = this.options.graph();
        const plan = planPrefetch({
          selected,
          edges: graph.edges,
          kindOf: (id) => graph.kindOf(id),
          isWarm: (id) => {
            const path = this.pathOf(id);
            return path === undefined || this.options.warmer.isWarm(path);
          },
          budget: policy.get().prefetchBudget,
          pressure: pressure.get(),
          // A failed node gives its slot to the next one; a warmed node keeps its slot and is
          // not warmed again for this selection even if the host has let it go meanwhile.
          exclude: failedNow,
        }).filter((id) => !warmedNow.has(id));
        if (plan.length === 0) {
          this.activity = 'idle';
          attempt = 0;
          if ((await waitForWake(ctx.clock, undefined, seen, signal)) === 'aborted') return;
          continue;
        }
        if (this.congested()) {
          attempt += 1;
          const delay = this.backoff.delay(attempt);
          this.backoffs += 1;
          this.delays.push(delay);
          if (this.delays.length > 32) this.delays.shift();
          this.activity = 'backoff';
          this.retryAt = ctx.clock.now() + delay;
          const woke = await waitForWake(ctx.clock, delay, [], signal);
          this.retryAt = undefined;
          if (woke === 'aborted') return;
          continue;
        }
        attempt = 0;
        this.activity = 'warming';
        for (const nodeId of plan) {
          if (isAborted(signal)) return;
          // Stop early when something the plan depended on changed; the next round replans.
          if (this.underPressure() || selection.get() !== selected || this.congested()) break;
          const path = this.pathOf(nodeId);
          if (path === undefined) {
            failedNow.add(nodeId);
            continue;
          }
          const outcome = await unlessAborted(
            this.options.warmer.warm(path).then(
              () => true,
              () => false,
            ),
            signal,
          );
          if (outcome === 'aborted') return;
          if (outcome) {
            warmedNow.add(nodeId);
            this.warmed += 1;
          } else {
            failedNow.add(nodeId);
            this.failed += 1;
          }
        }
      }
    } finally {
      this.activity = 'idle';
      this.retryAt = undefined;
    }
  }
}
