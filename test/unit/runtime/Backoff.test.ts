import { strict as assert } from 'node:assert';
import { TwinspaceError } from '../../../src/core/errors';
import { Backoff, DEFAULT_BACKOFF, DecayingCounter } from '../../../src/runtime/Backoff';

describe('Backoff', () => {
  it('grows the base delay by the factor and caps it at maxMs', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, factor: 2 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 50].map((n) => b.baseDelay(n)),
      [100, 200, 400, 800, 1_000, 1_000, 1_000],
    );
    assert.equal(b.baseDelay(0), 100, 'attempts below 1 count as the first');
  });

  it('uses equal jitter: the delay is in [base/2, base]', () => {
    const low = new Backoff(DEFAULT_BACKOFF, () => 0);
    const mid = new Backoff(DEFAULT_BACKOFF, () => 0.5);
    const high = new Backoff(DEFAULT_BACKOFF, () => 0.999_999);
    assert.equal(low.delay(3), 200);
    assert.equal(mid.delay(3), 300);
    assert.ok(high.delay(3) < 400 && high.delay(3) > 399.99);
    // A misbehaving random source cannot push the delay out of range.
    assert.equal(new Backoff(DEFAULT_BACKOFF, () => 7).delay(1), 100);
    assert.equal(new Backoff(DEFAULT_BACKOFF, () => Number.NaN).delay(1), 75);
  });

  it('defaults to 100 ms, 30 s, factor 2', () => {
    const b = new Backoff();
    assert.equal(b.baseDelay(1), 100);
    assert.equal(b.baseDelay(100), 30_000);
  });

  it('refuses nonsensical policies with a validation error', () => {
    for (const policy of [
      { initialMs: 0, maxMs: 10, factor: 2 },
      { initialMs: 10, maxMs: 5, factor: 2 },
      { initialMs: 10, maxMs: 50, factor: 0.5 },
      { initialMs: Number.NaN, maxMs: 50, factor: 2 },
    ]) {
      assert.throws(
        () => new Backoff(policy),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'validation',
      );
    }
  });
});

describe('DecayingCounter', () => {
  it('halves every half-life and adds one per event', () => {
    const c = new DecayingCounter(60_000);
    assert.equal(c.valueAt(0), 0);
    assert.equal(c.add(0), 1);
    assert.equal(c.valueAt(60_000), 0.5);
    assert.equal(c.valueAt(120_000), 0.25);
    assert.equal(c.add(60_000), 1.5);
    assert.equal(c.valueAt(120_000), 0.75);
  });

  it('settles below 1/(1 - 2^(-gap/halfLife)) for events every gap ms', () => {
    const c = new DecayingCounter(60_000);
    let v = 0;
    for (let i = 0; i < 100; i += 1) v = c.add(i * 120_000);
    assert.ok(Math.abs(v - 4 / 3) < 1e-9, `settled at ${v}`);
  });

  it('treats time going backwards as no time passing', () => {
    const c = new DecayingCounter(1_000);
    c.add(5_000);
    assert.equal(c.valueAt(4_000), 1);
    assert.equal(c.add(4_000), 2);
    assert.equal(c.valueAt(6_000), 1);
  });

  it('refuses a non-positive half-life', () => {
    assert.throws(() => new DecayingCounter(0), TwinspaceError);
  });
});
