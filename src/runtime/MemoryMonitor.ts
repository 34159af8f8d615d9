/**
 * The memory monitor: a supervised worker that samples process and system memory every
 * `policy.sampleIntervalMs`, classifies the sample against the current LifecyclePolicy (read from
 * a watch channel the host updates), and sends advisory MemorySampled intents.
 */
import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import type { MemoryPressure } from '../core/intents';
import {
  classifyMemory,
  pressureRank,
  systemFreeRatio,
  type LifecyclePolicy,
  type MemorySample,
} from '../core/lifecyclePolicy';
import { sleep, type Clock } from './Clock';
import type { WatchChannel } from './Watch';
import type { WorkerContext, WorkerSpec } from './Worker';

export interface MemoryMonitorOptions {
  readonly policy: WatchChannel<LifecyclePolicy>;
  /** Takes one sample. Default: sampleMemory (the real process and system figures). */
  readonly sample?: () => MemorySample;
}

/** The `MemAvailable` line of /proc/meminfo, in bytes; undefined when absent or malformed. */
export function parseMemAvailable(meminfo: string): number | undefined {
  const match = /^MemAvailable:\s+(\d+)\s*kB\s*$/m.exec(meminfo);
  if (!match?.[1]) return undefined;
  const kib = Number(match[1]);
  return Number.isSafeInteger(kib) ? kib * 1024 : undefined;
}

function linuxAvailableBytes(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return parseMemAvailable(readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A real sample: RSS and used heap of this process (process.memoryUsage()), and the system's
 * free and total memory (os.freemem()/os.totalmem()). On Linux, free is MemAvailable from
 * /proc/meminfo when readable (it counts reclaimable page cache, which MemFree does not).
 */
export function sampleMemory(): MemorySample {
  const usage = process.memoryUsage();
  const systemTotalBytes = totalmem();
  const available = linuxAvailableBytes() ?? freemem();
  return {
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    systemFreeBytes: Math.min(available, systemTotalBytes),
    systemTotalBytes,
  };
}

/**
 * Waits `ms` on the clock, or until the watch channel moves past `version`, or until `signal`
 * aborts. A closed channel just means no more early wake-ups.
 */
async function waitForTickOrChange(
  clock: Clock,
  ms: number,
  policy: WatchChannel<LifecyclePolicy>,
  version: number,
  signal: AbortSignal,
): Promise<'tick' | 'changed' | 'aborted'> {
  if (signal.aborted) return 'aborted';
  const inner = new AbortController();
  const onAbort = (): void => {
    inner.abort(signal.reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      sleep(clock, ms, inner.signal).then(() => 'tick' as const),
      policy.changedSince(version, inner.signal).then(
        () => 'changed' as const,
        (error: unknown) => {
          if (inner.signal.aborted) throw error;
          return new Promise<never>(() => undefined); // closed: wait for the tick only
        },
      ),
    ]);
  } catch (error) {
    // Only our own abort (which follows the outer signal) rejects the race.
    if (inner.signal.aborted) return 'aborted';
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
    inner.abort();
  }
}

function sampleOnce(
  ctx: WorkerContext,
  sample: MemorySample,
  policy: LifecyclePolicy,
  previous: MemoryPressure | undefined,
): MemoryPressure {
  const pressure = classifyMemory(sample, policy, previous ?? 'normal');
  if (previous === undefined || pressure !== 'normal' || pressure !== previous) {
    // Advisory: a full queue just loses this sample (trySend emits the backpressure diagnostic).
    ctx.trySend(
      {
        type: 'MemorySampled',
        rssBytes: sample.rssBytes,
        heapUsedBytes: sample.heapUsedBytes,
        systemFreeBytes: sample.systemFreeBytes,
        systemTotalBytes: sample.systemTotalBytes,
        pressure,
      },
      'MemoryMonitor',
    );
  }
  if (pressureRank(pressure) > pressureRank(previous ?? 'normal')) {
    ctx.diagnostics.emit(
      'memory.pressure',
      `memory pressure ${pressure}`,
      {
        pressure,
        previous: previous ?? 'normal',
        rssBytes: sample.rssBytes,
        heapUsedBytes: sample.heapUsedBytes,
        systemFreeBytes: sample.systemFreeBytes,
        systemTotalBytes: sample.systemTotalBytes,
        systemFreeRatio: systemFreeRatio(sample),
      },
      pressure === 'critical' ? 'error' : 'warn',
    );
  }
  return pressure;
}

/**
 * The 'memory-monitor' worker. Each round it re-reads the policy, takes a sample, classifies it
 * (with hysteresis from the previous round) and sends a MemorySampled intent with trySend on the
 * first round, whenever pressure is not normal, and whenever pressure changed. Rising pressure
 * also emits a 'memory.pressure' diagnostic (warn for elevated, error for critical). Then it
 * sleeps `sampleIntervalMs` on ctx.clock; a policy change wakes it at once for a new round. It
 * returns when `signal` aborts. A throwing sampler fails the worker (the supervisor restarts it).
 */
export function createMemoryMonitor(options: MemoryMonitorOptions): WorkerSpec {
  const takeSample = options.sample ?? sampleMemory;
  return {
    name: 'memory-monitor',
    async run(signal: AbortSignal, ctx: WorkerContext): Promise<void> {
      let previous: MemoryPressure | undefined;
      while (!signal.aborted) {
        const version = options.policy.version;
        const policy = options.policy.get();
        previous = sampleOnce(ctx, takeSample(), policy, previous);
        const woke = await waitForTickOrChange(
          ctx.clock,
          policy.sampleIntervalMs,
          options.policy,
          version,
          signal,
        );
        if (woke === 'aborted') return;
      }
    },
  };
}
