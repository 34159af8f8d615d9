import FakeTimers from '@sinonjs/fake-timers';
import type { Clock } from '../../../src/runtime/Clock';

/** A runtime Clock driven by @sinonjs/fake-timers: advance time with `fake.tickAsync(ms)`. */
export function fakeClock(start = 0): { fake: FakeTimers.Clock; clock: Clock } {
  const fake = FakeTimers.createClock(start);
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (cb, ms) => fake.setTimeout(cb, ms),
    clearTimeout: (h) => {
      fake.clearTimeout(h as never);
    },
  };
  return { fake, clock };
}
