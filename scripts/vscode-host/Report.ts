/** Per-test lines on stdout and the level's closing line `N passed, N failed`. */
import { summaryLine } from './judgeHostRun';

export class Report {
  private passedCount = 0;
  private failedCount = 0;
  private readonly failures: string[] = [];
  private readonly started = Date.now();

  constructor(
    private readonly write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  ) {}

  pass(group: string, title: string, ms?: number): void {
    this.passedCount++;
    this.write(`  PASS [${group}] ${title}${ms !== undefined ? ` (${ms} ms)` : ''}`);
  }

  fail(group: string, title: string, detail: string): void {
    this.failedCount++;
    this.failures.push(`[${group}] ${title}`);
    const indented = detail
      .trim()
      .split('\n')
      .slice(0, 12)
      .map((l) => `        ${l}`)
      .join('\n');
    this.write(`  FAIL [${group}] ${title}\n${indented}`);
  }

  info(line: string): void {
    this.write(`[vscode-host ${((Date.now() - this.started) / 1000).toFixed(1)}s] ${line}`);
  }

  get passed(): number {
    return this.passedCount;
  }

  get failed(): number {
    return this.failedCount;
  }

  /** Prints the failure list (if any) and the closing line; returns the exit code. */
  finish(): number {
    if (this.failures.length > 0) {
      this.write('failures:');
      for (const f of this.failures) this.write(`  ${f}`);
    }
    this.info(`total ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
    this.write(summaryLine(this.passedCount, this.failedCount));
    return this.failedCount > 0 || this.passedCount === 0 ? 1 : 0;
  }
}
