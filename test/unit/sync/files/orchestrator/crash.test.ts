import { strict as assert } from 'node:assert';
import { runCrashTrial } from '../../../../../scripts/crash/crashHarness';

// The bounded in-suite version of scripts/crash/crashTrials.ts: 3 real kill -9 trials.
describe('orchestrator crash recovery (kill -9)', function () {
  this.timeout(180_000);

  for (const seed of [101, 202, 303]) {
    it(`trial with seed ${seed}: no partial file, nothing outside, journal consistent`, async () => {
      const result = await runCrashTrial({ seed, minDelayMs: 50, maxDelayMs: 800 });
      assert.deepEqual(result.problems, [], `trial kept at ${result.root}`);
      // The trial did run wet plans before the kill (otherwise it proves nothing).
      assert.ok(result.journalRecords > 0, 'the child journaled actions before it was killed');
    });
  }
});
