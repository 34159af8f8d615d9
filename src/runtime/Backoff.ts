/**
 * Restart pacing for supervised workers.
 *
 * - `Backoff`: jittered exponential backoff with EQUAL jitter. The base delay of attempt n (n >= 1)
 *   is `min(maxMs, initialMs * factor^(n-1))`; the delay actually used is
 *   `base * (0.5 + 0.5 * random())`, i.e. uniformly in [base/2, base]. Equal jitter (rather than
 *   full jitter) keeps a floor of half the base delay, so a crash loop can never spin at ~0 ms,
 *   while restarts of many workers that failed together still spread out.
 * - `DecayingCounter`: a count that decays exponentially with a half-life (suture-style failure
 *   accounting): every event adds 1, and the total halves every `halfLifeMs` of clock time.
 *
 * Both are pure given their inputs: time and randomness come in as arguments.
 */
import { TwinspaceError } from '../core/errors';

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({
  initialMs: 100,
  maxMs: 30_000,
  factor: 2,
});

export class Backoff {
  readonly policy: BackoffPolicy;
  private readonly random: () => number;

  constructor(policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random) {
    const { initialMs, maxMs, factor } = policy;
    if (!(Number.isFinite(initialMs) && initialMs > 0)) {
      throw new TwinspaceError('validation', `backoff initialMs must be > 0, got ${initialMs}`);
    }
    if (!(Number.isFinite(maxMs) && maxMs >= initialMs)) {
      throw new TwinspaceError('validation', `backoff maxMs must be >= initialMs, got ${maxMs}`);
    }
    if (!(Number.isFinite(factor) && factor >= 1)) {
      throw new TwinspaceError('validation', `backoff factor must be >= 1, got ${factor}`);
    }
    this.policy = Object.freeze({ initialMs, maxMs, factor });
    this.random = random;
  }

  /** The un-jittered delay of attempt `attempt` (1 = first restart). */
  baseDelay(attempt: number): number {
    const n = Math.max(1, Math.floor(attempt));
    const { initialMs, maxMs, factor } = this.policy;
    return Math.min(maxMs, initialMs * factor ** (n - 1));
  }

  /** The jittered delay of attempt `attempt`: uniformly in [base/2, base] (equal jitter). */
  delay(attempt: number): number {
    const r = this.random();
    const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
    return this.baseDelay(attempt) * (0.5 + 0.5 * unit);
  }
}

/** A count that halves every `halfLifeMs`: value(t) = sum over events of 2^(-(t - t_event)/halfLife). */
export class DecayingCounter {
  private total = 0;
  private at = 0;

  constructor(readonly halfLifeMs: number) {
    if (!(Number.isFinite(halfLifeMs) && halfLifeMs > 0)) {
      throw new TwinspaceError('validation', `half-life must be > 0, got ${halfLifeMs}`);
    }
  }

  /** The decayed count at `now` (clock ms). Time going backwards is treated as no time passing. */
  valueAt(now: number): number {
    const elapsed = Math.max(0, now - this.at);
    return this.total * 2 ** (-elapsed / this.halfLifeMs);
  }

  /** Records `amount` events at `now`; returns the new decayed count. */
  add(now: number, amount = 1): number {
    this.total = this.valueAt(now) + amount;
    this.at = Math.max(now, this.at);
    return this.total;
  }
}
