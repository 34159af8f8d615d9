import { strict as assert } from 'node:assert';
import FakeTimers from '@sinonjs/fake-timers';
import type { Intent, IntentSource } from '../../../src/core/intents';
import type { LifecyclePolicy, MemorySample } from '../../../src/core/lifecyclePolicy';
import type { Clock } from '../../../src/runtime/Clock';
import { Diagnostics } from '../../../src/runtime/Diagnostics';
import {
  createMemoryMonitor,
  parseMemAvailable,
  sampleMemory,
} from '../../../src/runtime/MemoryMonitor';
import { WatchChannel } from '../../../src/runtime/Watch';
import type { WorkerContext } from '../../../src/runtime/Worker';
import { fakeClock } from '../support/fakeClock';

type Sampled = Extract<Intent, { type: 'MemorySampled' }>;

const policy: LifecyclePolicy = {
  sampleIntervalMs: 1_000,
  elevatedRssBytes: 1_000,
  criticalRssBytes: 2_000,
  elevatedSystemFreeRatio: 0.2,
  criticalSystemFreeRatio: 0.1,
  tabBudget: 10,
  prefetchBudget: 4,
};

interface Harness {
  fake: FakeTimers.Clock;
  ctx: WorkerContext;
  diagnostics: Diagnostics;
  sent: { intent: Sampled; source: IntentSource; at: number }[];
  /** What trySend answers (false = queue full). */
  accept: { value: boolean };
  samples: { count: number };
  current: { sample: MemorySample };
  channel: WatchChannel<LifecyclePolicy>;
  controller: AbortController;
  run: Promise<void>;
}

function start(initial: LifecyclePolicy = policy, sampler?: () => MemorySample): Harness {
  const { fake, clock } = fakeClock(0);
  const diagnostics = new Diagnostics({ clock });
  const sent: Harness['sent'] = [];
  const accept = { value: true };
  const ctx: WorkerContext = {
    name: 'memory-monitor',
    clock,
    diagnostics,
    send: () => Promise.reject(new Error('the memory monitor must not use send()')),
    trySend: (intent, source) => {
      if (intent.type !== 'MemorySampled') throw new Error(`unexpected ${intent.type}`);
      sent.push({ intent, source, at: fake.now });
      return accept.value;
    },
  };
  const samples = { count: 0 };
  const current = {
    sample: { rssBytes: 100, heapUsedBytes: 50, systemFreeBytes: 5_000, systemTotalBytes: 10_000 },
  };
  const channel = new WatchChannel(initial);
  const controller = new AbortController();
  const spec = createMemoryMonitor({
    policy: channel,
    sample:
      sampler ??
      (() => {
        samples.count += 1;
        return current.sample;
      }),
  });
  assert.equal(spec.name, 'memory-monitor');
  const run = spec.run(controller.signal, ctx);
  return { fake, ctx, diagnostics, sent, accept, samples, current, channel, controller, run };
}

function setRss(h: Harness, rssBytes: number): void {
  h.current.sample = { ...h.current.sample, rssBytes };
}

function pressureDiagnostics(h: Harness): { message: string; severity: string }[] {
  return h.diagnostics
    .recent()
    .filter((e) => e.channel === 'memory.pressure')
    .map((e) => ({ message: e.message, severity: e.severity }));
}

async function stop(h: Harness): Promise<void> {
  h.controller.abort(new Error('shutdown'));
  await h.run;
}

describe('memory monitor', () => {
  it('samples on the clock and emits under pressure or on change', async () => {
    const h = start();
    await h.fake.tickAsync(0);
    assert.equal(h.samples.count, 1);
    assert.equal(h.sent.length, 1, 'the first sample is always sent');
    assert.deepEqual(h.sent[0], {
      intent: {
        type: 'MemorySampled',
        rssBytes: 100,
        heapUsedBytes: 50,
        systemFreeBytes: 5_000,
        systemTotalBytes: 10_000,
        pressure: 'normal',
      },
      source: 'MemoryMonitor',
      at: 0,
    });

    await h.fake.tickAsync(999);
    assert.equal(h.samples.count, 1, 'no sample before the interval');
    await h.fake.tickAsync(1);
    assert.equal(h.samples.count, 2);
    assert.equal(h.sent.length, 1, 'normal and unchanged: nothing sent');

    setRss(h, 1_500);
    await h.fake.tickAsync(1_000);
    assert.equal(h.sent.length, 2);
    assert.equal(h.sent[1]!.intent.pressure, 'elevated');
    assert.equal(h.sent[1]!.at, 2_000);
    assert.deepEqual(pressureDiagnostics(h), [
      { message: 'memory pressure elevated', severity: 'warn' },
    ]);

    await h.fake.tickAsync(1_000);
    assert.equal(h.sent.length, 3, 'still elevated: sent every sample');
    assert.equal(h.sent[2]!.intent.pressure, 'elevated');
    assert.equal(pressureDiagnostics(h).length, 1, 'no diagnostic while pressure does not rise');

    setRss(h, 2_500);
    await h.fake.tickAsync(1_000);
    assert.equal(h.sent[3]!.intent.pressure, 'critical');
    assert.deepEqual(pressureDiagnostics(h)[1], {
      message: 'memory pressure critical',
      severity: 'error',
    });

    setRss(h, 1_900); // within the hysteresis margin of critical: held
    await h.fake.tickAsync(1_000);
    assert.equal(h.sent[4]!.intent.pressure, 'critical');

    setRss(h, 100);
    await h.fake.tickAsync(1_000);
    assert.equal(h.sent.length, 6);
    assert.equal(h.sent[5]!.intent.pressure, 'normal', 'the drop back to normal is sent');
    await h.fake.tickAsync(3_000);
    assert.equal(h.sent.length, 6, 'then quiet again');
    assert.equal(h.samples.count, 10);
    await stop(h);
  });

  it('is advisory: a full queue does not block sampling', async () => {
    const h = start();
    h.accept.value = false;
    setRss(h, 1_500);
    await h.fake.tickAsync(5_000);
    assert.equal(h.samples.count, 6);
    assert.equal(h.sent.length, 6, 'tried every round, never waited');
    await stop(h);
  });

  it('picks up a policy update while running, at once, without waiting for the interval', async () => {
    const h = start({ ...policy, sampleIntervalMs: 60_000 });
    setRss(h, 800);
    await h.fake.tickAsync(100);
    assert.equal(h.samples.count, 1);
    assert.equal(h.sent[0]!.intent.pressure, 'normal');

    h.channel.set({ ...policy, elevatedRssBytes: 500, sampleIntervalMs: 500 });
    await h.fake.tickAsync(0);
    assert.equal(h.samples.count, 2, 'woken by the change, not by the 60 s timer');
    assert.equal(h.sent[1]!.intent.pressure, 'elevated');
    assert.equal(h.sent[1]!.at, 100);

    await h.fake.tickAsync(499);
    assert.equal(h.samples.count, 2);
    await h.fake.tickAsync(1);
    assert.equal(h.samples.count, 3, 'the new interval is in force');
    assert.equal(h.fake.countTimers(), 1, 'the old 60 s timer was cleared');
    await stop(h);
  });

  it('stops on abort and leaves no timer behind', async () => {
    const h = start();
    await h.fake.tickAsync(2_500);
    assert.equal(h.samples.count, 3);
    h.controller.abort(new Error('shutdown'));
    await h.run; // resolves: a normal return, not a failure
    assert.equal(h.fake.countTimers(), 0);
    await h.fake.tickAsync(10_000);
    assert.equal(h.samples.count, 3);
    h.channel.set({ ...policy, sampleIntervalMs: 100 });
    await h.fake.tickAsync(1_000);
    assert.equal(h.samples.count, 3);
  });

  it('fails (for the supervisor to restart) when the sampler throws', async () => {
    const h = start(policy, () => {
      throw new Error('sampler broke');
    });
    await assert.rejects(h.run, /sampler broke/);
  });

  it('keeps sampling on its interval after the policy channel is closed', async () => {
    const h = start();
    await h.fake.tickAsync(0);
    h.channel.close();
    await h.fake.tickAsync(2_000);
    assert.equal(h.samples.count, 3);
    await stop(h);
  });
});

describe('default memory sampler', () => {
  it('parses MemAvailable from /proc/meminfo text', () => {
    const text =
      'MemTotal:       16314980 kB\nMemFree:         1021344 kB\nMemAvailable:    9001234 kB\n';
    assert.equal(parseMemAvailable(text), 9001234 * 1024);
    assert.equal(parseMemAvailable('MemTotal: 1 kB\n'), undefined);
    assert.equal(parseMemAvailable('MemAvailable: lots\n'), undefined);
  });

  it('really samples process and system memory', () => {
    const s = sampleMemory();
    assert.ok(Number.isSafeInteger(s.rssBytes) && s.rssBytes > 0, `rss ${s.rssBytes}`);
    assert.ok(s.heapUsedBytes > 0 && s.heapUsedBytes <= s.rssBytes * 4, `heap ${s.heapUsedBytes}`);
    assert.ok(s.systemFreeBytes > 0, `free ${s.systemFreeBytes}`);
    assert.ok(s.systemTotalBytes >= s.systemFreeBytes, `total ${s.systemTotalBytes}`);
    assert.ok(s.rssBytes < s.systemTotalBytes, 'this process fits in the machine');
  });

  it('is what the worker uses when no sampler is given', async () => {
    const fake = FakeTimers.createClock(0);
    const clock: Clock = {
      now: () => fake.now,
      setTimeout: (cb, ms) => fake.setTimeout(cb, ms),
      clearTimeout: (h) => {
        fake.clearTimeout(h as never);
      },
    };
    const sent: Sampled[] = [];
    const ctx: WorkerContext = {
      name: 'memory-monitor',
      clock,
      diagnostics: new Diagnostics({ clock }),
      send: () => Promise.resolve(),
      trySend: (intent) => {
        if (intent.type === 'MemorySampled') sent.push(intent);
        return true;
      },
    };
    const controller = new AbortController();
    const run = createMemoryMonitor({ policy: new WatchChannel(policy) }).run(
      controller.signal,
      ctx,
    );
    await fake.tickAsync(0);
    controller.abort();
    await run;
    assert.equal(sent.length, 1);
    const s = sent[0]!;
    assert.ok(s.rssBytes > 0 && s.systemTotalBytes >= s.systemFreeBytes && s.systemFreeBytes > 0);
    // With a 1000-byte elevated threshold any real process is under pressure.
    assert.notEqual(s.pressure, 'normal');
  });
});
