import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { MemoryPressure } from '../../../src/core/intents';
import {
  classifyMemory,
  defaultLifecyclePolicy,
  MEMORY_HYSTERESIS,
  pressureRank,
  validateLifecyclePolicy,
  type LifecyclePolicy,
  type MemorySample,
} from '../../../src/core/lifecyclePolicy';

const policy: LifecyclePolicy = {
  sampleIntervalMs: 1000,
  elevatedRssBytes: 1000,
  criticalRssBytes: 2000,
  elevatedSystemFreeRatio: 0.2,
  criticalSystemFreeRatio: 0.1,
  tabBudget: 10,
  prefetchBudget: 4,
};

function sample(rssBytes: number, freeRatio = 0.5): MemorySample {
  return {
    rssBytes,
    heapUsedBytes: Math.floor(rssBytes / 2),
    systemFreeBytes: Math.round(freeRatio * 10_000),
    systemTotalBytes: 10_000,
  };
}

function expectInvalid(value: unknown, ...patterns: RegExp[]): string {
  const result = validateLifecyclePolicy(value);
  assert.equal(result.ok, false, `expected ${JSON.stringify(value)} to be rejected`);
  assert.equal(result.code, 'validation');
  for (const pattern of patterns) assert.match(result.message, pattern);
  return result.message;
}

describe('validateLifecyclePolicy', () => {
  it('accepts the default policy and returns a frozen copy', () => {
    const result = validateLifecyclePolicy({ ...defaultLifecyclePolicy });
    assert.ok(result.ok);
    assert.deepEqual(result.value, defaultLifecyclePolicy);
    assert.ok(Object.isFrozen(result.value));
  });

  it('rejects what is not an object', () => {
    expectInvalid(null, /lifecyclePolicy must be an object \(got null\)/);
    expectInvalid([1], /must be an object/);
    expectInvalid('fast', /must be an object \(got "fast"\)/);
  });

  it('rejects bad numbers, naming the field, the rule and the value', () => {
    expectInvalid(
      { ...policy, sampleIntervalMs: 10 },
      /lifecyclePolicy\.sampleIntervalMs must be an integer between 50 and 3600000 \(got 10\)/,
    );
    expectInvalid({ ...policy, sampleIntervalMs: Number.NaN }, /sampleIntervalMs .*\(got NaN\)/);
    expectInvalid(
      { ...policy, elevatedRssBytes: -5 },
      /lifecyclePolicy\.elevatedRssBytes must be a positive integer \(got -5\)/,
    );
    expectInvalid(
      { ...policy, elevatedSystemFreeRatio: 1.5 },
      /elevatedSystemFreeRatio must be a number between 0 and 1 \(got 1\.5\)/,
    );
    expectInvalid({ ...policy, tabBudget: 0 }, /tabBudget must be an integer >= 1 \(got 0\)/);
    expectInvalid({ ...policy, prefetchBudget: 2.5 }, /prefetchBudget must be an integer >= 0/);
    expectInvalid({ ...policy, criticalRssBytes: '2000' }, /criticalRssBytes .*\(got "2000"\)/);
  });

  it('rejects a missing field', () => {
    const { tabBudget: _omit, ...rest } = policy;
    expectInvalid(rest, /lifecyclePolicy\.tabBudget must be an integer >= 1 \(got undefined\)/);
  });

  it('rejects thresholds in the wrong order', () => {
    expectInvalid(
      { ...policy, criticalRssBytes: 1000 },
      /criticalRssBytes must be greater than elevatedRssBytes \(got 1000 <= 1000\)/,
    );
    expectInvalid(
      { ...policy, criticalSystemFreeRatio: 0.3 },
      /criticalSystemFreeRatio must be less than elevatedSystemFreeRatio \(got 0\.3 >= 0\.2\)/,
    );
  });

  it('rejects unknown fields and lists every problem at once', () => {
    const message = expectInvalid(
      { ...policy, tabbudget: 3, prefetchBudget: -1 },
      /unknown field "tabbudget"/,
      /prefetchBudget must be an integer >= 0 \(got -1\)/,
    );
    assert.equal(message.split('; ').length, 2);
  });
});

describe('classifyMemory', () => {
  it('is normal below every threshold', () => {
    assert.equal(classifyMemory(sample(999, 0.21), policy), 'normal');
  });

  it('uses the RSS thresholds (inclusive)', () => {
    assert.equal(classifyMemory(sample(1000), policy), 'elevated');
    assert.equal(classifyMemory(sample(1999), policy), 'elevated');
    assert.equal(classifyMemory(sample(2000), policy), 'critical');
  });

  it('uses the system free ratio thresholds (inclusive), either one is enough', () => {
    assert.equal(classifyMemory(sample(10, 0.2), policy), 'elevated');
    assert.equal(classifyMemory(sample(10, 0.11), policy), 'elevated');
    assert.equal(classifyMemory(sample(10, 0.1), policy), 'critical');
    assert.equal(classifyMemory(sample(1500, 0.05), policy), 'critical');
  });

  it('ignores the system ratio when the total is unknown', () => {
    const s: MemorySample = {
      rssBytes: 10,
      heapUsedBytes: 5,
      systemFreeBytes: 0,
      systemTotalBytes: 0,
    };
    assert.equal(classifyMemory(s, policy), 'normal');
  });

  it('holds a level until the sample clears it by the hysteresis margin', () => {
    assert.equal(MEMORY_HYSTERESIS, 0.1);
    // Just below the elevated RSS threshold: normal when coming from normal, held otherwise.
    assert.equal(classifyMemory(sample(950), policy, 'normal'), 'normal');
    assert.equal(classifyMemory(sample(950), policy, 'elevated'), 'elevated');
    assert.equal(classifyMemory(sample(900), policy, 'elevated'), 'elevated');
    assert.equal(classifyMemory(sample(899), policy, 'elevated'), 'normal');
    // From critical: held just below, drops one level when clearly below.
    assert.equal(classifyMemory(sample(1850), policy, 'critical'), 'critical');
    assert.equal(classifyMemory(sample(1799), policy, 'critical'), 'elevated');
    assert.equal(classifyMemory(sample(100), policy, 'critical'), 'normal');
    // The same on the system free ratio (threshold 0.2, must rise above 0.22).
    assert.equal(classifyMemory(sample(10, 0.21), policy, 'elevated'), 'elevated');
    assert.equal(classifyMemory(sample(10, 0.23), policy, 'elevated'), 'normal');
    assert.equal(classifyMemory(sample(10, 0.105), policy, 'critical'), 'critical');
    assert.equal(classifyMemory(sample(10, 0.115), policy, 'critical'), 'elevated');
  });

  it('does not flap on a value oscillating around a threshold', () => {
    let pressure: MemoryPressure = 'normal';
    const seen: MemoryPressure[] = [];
    for (const rss of [1001, 990, 1002, 980, 1000, 960, 999]) {
      pressure = classifyMemory(sample(rss), policy, pressure);
      seen.push(pressure);
    }
    assert.deepEqual(new Set(seen), new Set(['elevated']));
  });

  it('never goes below the raw level nor above max(raw, previous)', () => {
    const levels: MemoryPressure[] = ['normal', 'elevated', 'critical'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(...levels),
        (rss, ratio, previous) => {
          const raw = classifyMemory(sample(rss, ratio), policy);
          const held = classifyMemory(sample(rss, ratio), policy, previous);
          assert.ok(pressureRank(held) >= pressureRank(raw));
          assert.ok(pressureRank(held) <= Math.max(pressureRank(raw), pressureRank(previous)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
