/**
 * Kill -9 trials of the file orchestrator (see crashHarness.ts for what each trial checks).
 *   npx tsx scripts/crash/crashTrials.ts [--trials 20] [--seed 1] [--max-delay-ms 1500]
 * Trial i uses seed + i, so a failure can be replayed with `--trials 1 --seed <its seed>`.
 * A failed trial's folder is kept and its path printed. Exit code 1 when any trial failed.
 */
import { parseArgs } from 'node:util';
import { runCrashTrial } from './crashHarness';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '20' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      'max-delay-ms': { type: 'string', default: '1500' },
    },
  });
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  const maxDelayMs = Number(values['max-delay-ms']);
  let passed = 0;
  let failed = 0;
  let recoveredActions = 0;
  let removedTemps = 0;
  for (let i = 0; i < trials; i++) {
    const result = await runCrashTrial({ seed: seed + i, maxDelayMs });
    const recovered = result.recovery.actions.map((a) => `${a.action.type}:${a.outcome}`);
    recoveredActions += result.recovery.actions.length;
    removedTemps += result.recovery.removedTempFiles.length;
    const line =
      `trial ${i + 1}/${trials} seed ${result.seed}: killed after ${result.delayMs} ms, ` +
      `${result.generations} generations done, ${result.journalRecords} journal records; ` +
      `recovery: ${recovered.length > 0 ? recovered.join(' ') : 'nothing dangling'}, ` +
      `${result.recovery.removedTempFiles.length} temp files removed` +
      (result.recovery.tornTail !== undefined ? ', torn tail dropped' : '');
    if (result.problems.length === 0) {
      passed++;
      console.log(`ok   ${line}`);
    } else {
      failed++;
      console.log(`FAIL ${line}\n     kept: ${result.root}`);
      for (const problem of result.problems.slice(0, 20)) console.log(`     - ${problem}`);
    }
  }
  console.log(
    `crash trials: ${recoveredActions} dangling actions settled, ${removedTemps} temp files removed in all`,
  );
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
