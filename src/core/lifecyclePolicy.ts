/**
 * The lifecycle policy read by the memory monitor and the prefetch scheduler, and the pure memory
 * classification the memory monitor applies to each sample. The host owns the policy and updates
 * it while the workers run (through a watch-style channel in src/runtime).
 */
import { fail, ok, type Result } from './errors';
import type { MemoryPressure } from './intents';

export interface LifecyclePolicy {
  /** How often the memory monitor samples, in ms. */
  readonly sampleIntervalMs: number;
  /** Process RSS at or above which pressure is at least 'elevated'. */
  readonly elevatedRssBytes: number;
  /** Process RSS at or above which pressure is 'critical'. Greater than elevatedRssBytes. */
  readonly criticalRssBytes: number;
  /** System free/total ratio at or below which pressure is at least 'elevated'. */
  readonly elevatedSystemFreeRatio: number;
  /** System free/total ratio at or below which pressure is 'critical'. Below the elevated ratio. */
  readonly criticalSystemFreeRatio: number;
  /** How many background (Warm) documents/tabs may stay open before the LRU ones are demoted. */
  readonly tabBudget: number;
  /** How many neighbours the prefetch scheduler may warm at once. */
  readonly prefetchBudget: number;
}

/** One sample of process and system memory (the fields of the MemorySampled intent). */
export interface MemorySample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly systemFreeBytes: number;
  readonly systemTotalBytes: number;
}

const MIB = 1024 * 1024;

export const defaultLifecyclePolicy: LifecyclePolicy = Object.freeze({
  sampleIntervalMs: 5_000,
  elevatedRssBytes: 1024 * MIB,
  criticalRssBytes: 2048 * MIB,
  elevatedSystemFreeRatio: 0.1,
  criticalSystemFreeRatio: 0.05,
  tabBudget: 20,
  prefetchBudget: 8,
});

/** Bounds of sampleIntervalMs: no busier than 50 ms, no lazier than an hour. */
export const MIN_SAMPLE_INTERVAL_MS = 50;
export const MAX_SAMPLE_INTERVAL_MS = 3_600_000;

/**
 * Hysteresis of classifyMemory: once at a level, a sample must clear that level's thresholds by
 * this fraction before pressure drops (RSS below threshold × (1 − h), free ratio above
 * threshold × (1 + h)), so a value hovering at a threshold does not flap.
 */
export const MEMORY_HYSTERESIS = 0.1;

const POLICY_KEYS: readonly (keyof LifecyclePolicy)[] = [
  'sampleIntervalMs',
  'elevatedRssBytes',
  'criticalRssBytes',
  'elevatedSystemFreeRatio',
  'criticalSystemFreeRatio',
  'tabBudget',
  'prefetchBudget',
];

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (value === undefined) return 'undefined';
  return typeof value;
}

/**
 * Checks an untrusted value (settings, a webview message) and returns a frozen LifecyclePolicy,
 * or a 'validation' failure whose message lists every problem
 * (`lifecyclePolicy.criticalRssBytes must be greater than elevatedRssBytes (…)`).
 */
export function validateLifecyclePolicy(x: unknown): Result<LifecyclePolicy> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    return fail('validation', `lifecyclePolicy must be an object (got ${describeValue(x)})`);
  }
  const record = x as Record<string, unknown>;
  const problems: string[] = [];

  for (const key of Object.keys(record)) {
    if (!(POLICY_KEYS as readonly string[]).includes(key)) {
      problems.push(`lifecyclePolicy has an unknown field "${key}"`);
    }
  }

  const num = (
    key: keyof LifecyclePolicy,
    check: (n: number) => boolean,
    rule: string,
  ): number | undefined => {
    const value = record[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
      problems.push(`lifecyclePolicy.${key} must be ${rule} (got ${describeValue(value)})`);
      return undefined;
    }
    return value;
  };
  const isInt = (n: number): boolean => Number.isInteger(n);

  const sampleIntervalMs = num(
    'sampleIntervalMs',
    (n) => isInt(n) && n >= MIN_SAMPLE_INTERVAL_MS && n <= MAX_SAMPLE_INTERVAL_MS,
    `an integer between ${MIN_SAMPLE_INTERVAL_MS} and ${MAX_SAMPLE_INTERVAL_MS}`,
  );
  const elevatedRssBytes = num('elevatedRssBytes', (n) => isInt(n) && n > 0, 'a positive integer');
  const criticalRssBytes = num('criticalRssBytes', (n) => isInt(n) && n > 0, 'a positive integer');
  const elevatedSystemFreeRatio = num(
    'elevatedSystemFreeRatio',
    (n) => n >= 0 && n <= 1,
    'a number between 0 and 1',
  );
  const criticalSystemFreeRatio = num(
    'criticalSystemFreeRatio',
    (n) => n >= 0 && n <= 1,
    'a number between 0 and 1',
  );
  const tabBudget = num('tabBudget', (n) => isInt(n) && n >= 1, 'an integer >= 1');
  const prefetchBudget = num('prefetchBudget', (n) => isInt(n) && n >= 0, 'an integer >= 0');

  if (
    elevatedRssBytes !== undefined &&
    criticalRssBytes !== undefined &&
    criticalRssBytes <= elevatedRssBytes
  ) {
    problems.push(
      `lifecyclePolicy.criticalRssBytes must be greater than elevatedRssBytes ` +
        `(got ${criticalRssBytes} <= ${elevatedRssBytes})`,
    );
  }
  if (
    elevatedSystemFreeRatio !== undefined &&
    criticalSystemFreeRatio !== undefined &&
    criticalSystemFreeRatio >= elevatedSystemFreeRatio
  ) {
    problems.push(
      `lifecyclePolicy.criticalSystemFreeRatio must be less than elevatedSystemFreeRatio ` +
        `(got ${criticalSystemFreeRatio} >= ${elevatedSystemFreeRatio})`,
    );
  }

  if (
    problems.length > 0 ||
    sampleIntervalMs === undefined ||
    elevatedRssBytes === undefined ||
    criticalRssBytes === undefined ||
    elevatedSystemFreeRatio === undefined ||
    criticalSystemFreeRatio === undefined ||
    tabBudget === undefined ||
    prefetchBudget === undefined
  ) {
    return fail('validation', problems.join('; '));
  }
  return ok(
    Object.freeze({
      sampleIntervalMs,
      elevatedRssBytes,
      criticalRssBytes,
      elevatedSystemFreeRatio,
      criticalSystemFreeRatio,
      tabBudget,
      prefetchBudget,
    }),
  );
}

const RANK: Readonly<Record<MemoryPressure, number>> = { normal: 0, elevated: 1, critical: 2 };

/** 'normal' < 'elevated' < 'critical'. */
export function pressureRank(pressure: MemoryPressure): number {
  return RANK[pressure];
}

/** Free/total of the system; 1 (no pressure) when the total is unknown (0 or not finite). */
export function systemFreeRatio(sample: MemorySample): number {
  const { systemFreeBytes, systemTotalBytes } = sample;
  if (!(systemTotalBytes > 0) || !Number.isFinite(systemTotalBytes)) return 1;
  return Math.min(1, Math.max(0, systemFreeBytes / systemTotalBytes));
}

function atLeast(
  sample: MemorySample,
  rssThreshold: number,
  ratioThreshold: number,
  slack: number,
): boolean {
  return (
    sample.rssBytes >= rssThreshold * (1 - slack) ||
    systemFreeRatio(sample) <= ratioThreshold * (1 + slack)
  );
}

/**
 * Classifies a sample against the policy. Entering a level uses the thresholds as they are
 * (RSS >= threshold, or system free ratio <= threshold: either is enough). With `previous` given,
 * pressure never drops below a level the sample still holds within MEMORY_HYSTERESIS of that
 * level's thresholds, so it only falls once the sample has clearly cleared them.
 */
export function classifyMemory(
  sample: MemorySample,
  policy: LifecyclePolicy,
  previous: MemoryPressure = 'normal',
): MemoryPressure {
  const levels: readonly [MemoryPressure, number, number][] = [
    ['critical', policy.criticalRssBytes, policy.criticalSystemFreeRatio],
    ['elevated', policy.elevatedRssBytes, policy.elevatedSystemFreeRatio],
  ];
  for (const [level, rss, ratio] of levels) {
    if (atLeast(sample, rss, ratio, 0)) return level;
    if (RANK[previous] >= RANK[level] && atLeast(sample, rss, ratio, MEMORY_HYSTERESIS)) {
      return level;
    }
  }
  return 'normal';
}
