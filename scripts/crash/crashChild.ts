/**
 * The process the kill -9 trials kill. Usage (from the repository root):
 *   node --require tsx/cjs scripts/crash/crashChild.ts churn <folder> <stateDir>
 *   node --require tsx/cjs scripts/crash/crashChild.ts hold <folder> <stateDir>
 * Both open the orchestrator on the folder (lock + recovery) and print `ready <json>`. `churn`
 * then applies generation after generation of the crash workload as wet plans, forever, printing
 * `gen <n> <completed> <halted>` after each; `hold` just keeps the folder locked until killed.
 */
import { FileOrchestrator } from '../../src/sync/files/orchestrator/FileOrchestrator';
import type { FolderRules } from '../../src/core/files/validators';
import { generationPlan, scanFolder } from './crashWorkload';

const RULES: FolderRules = {
  pathStyle: 'posix',
  caseInsensitive: false,
  isIgnored: () => false,
  dirtyPaths: new Set(),
  maxFileBytes: 1 << 20,
};

async function main(): Promise<void> {
  const [mode, folder, stateDir] = process.argv.slice(2);
  if ((mode !== 'churn' && mode !== 'hold') || folder === undefined || stateDir === undefined) {
    process.stderr.write('usage: crashChild.ts churn|hold <folder> <stateDir>\n');
    process.exit(2);
  }
  const orchestrator = await FileOrchestrator.open({ folder, stateDir });
  process.stdout.write(
    `ready ${JSON.stringify({ pid: process.pid, recovery: orchestrator.recovery })}\n`,
  );
  if (mode === 'hold') {
    setInterval(() => undefined, 1 << 30);
    return;
  }
  for (let gen = 1; ; gen++) {
    const index = await scanFolder(orchestrator.folderReal);
    const report = await orchestrator.apply(generationPlan(gen, index), RULES);
    process.stdout.write(`gen ${gen} ${report.completed} ${report.halted}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
