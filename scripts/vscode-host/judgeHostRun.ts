/**
 * Pure rules that turn what a host-test run produced (how the page ended, the results file) into
 * pass or fail. A run passes only if the runner finished, ran at least one test, every test
 * passed, and the extension host reported exit code 0: a crash, a hang, a missing results file,
 * zero tests, or an exit code that disagrees with the results all fail.
 */
import type { HostResults, HostTestOutcome } from '../../test/host/runner/results';

export type HostRunExit =
  | { readonly kind: 'exited'; readonly code: number }
  | { readonly kind: 'timeout'; readonly afterMs: number }
  | { readonly kind: 'crashed'; readonly error: string };

export interface HostRunVerdict {
  readonly ok: boolean;
  /** One line: why the run failed, or a summary of the pass. */
  readonly reason: string;
  readonly passed: readonly HostTestOutcome[];
  readonly failed: readonly HostTestOutcome[];
}

export function judgeHostRun(exit: HostRunExit, results: HostResults | undefined): HostRunVerdict {
  const passed = results?.passed ?? [];
  const failed = results?.failed ?? [];
  const fail = (reason: string): HostRunVerdict => ({ ok: false, reason, passed, failed });
  if (exit.kind === 'timeout') {
    const where =
      results === undefined
        ? 'before the test runner started'
        : `after ${passed.length + failed.length} finished tests`;
    return fail(`timed out after ${exit.afterMs} ms ${where} (hang)`);
  }
  if (exit.kind === 'crashed') return fail(`the test page crashed: ${exit.error}`);
  if (results === undefined) {
    return fail(`no results file: the runner never started (extension host exit ${exit.code})`);
  }
  if (!results.complete)
    return fail(`the runner did not finish (extension host exit ${exit.code})`);
  if (passed.length + failed.length === 0) return fail('zero tests ran');
  if (failed.length > 0) return fail(`${failed.length} of ${passed.length + failed.length} failed`);
  if (exit.code !== 0) return fail(`all tests passed but the extension host exited ${exit.code}`);
  return { ok: true, reason: `${passed.length} passed`, passed, failed };
}

/** What a harness canary must produce for the harness to be trusted. */
export interface CanaryExpectation {
  /** The verdict's reason must match this. */
  readonly reason: RegExp;
  readonly passed?: readonly string[];
  readonly failed?: readonly string[];
}

/**
 * Checks a canary verdict: it must be a failure, for the expected reason, with exactly the
 * expected passed and failed titles. Returns undefined when it holds, else what is wrong.
 */
export function checkCanary(
  verdict: HostRunVerdict,
  expected: CanaryExpectation,
): string | undefined {
  if (verdict.ok) return `expected a failure, but the harness reported success (${verdict.reason})`;
  if (!expected.reason.test(verdict.reason)) {
    return `failed for the wrong reason: "${verdict.reason}" does not match ${String(expected.reason)}`;
  }
  const same = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
  const titles = (xs: readonly HostTestOutcome[]): string[] => xs.map((x) => x.title);
  if (expected.passed && !same(titles(verdict.passed), expected.passed)) {
    return `passed tests ${JSON.stringify(titles(verdict.passed))}, expected ${JSON.stringify(expected.passed)}`;
  }
  if (expected.failed && !same(titles(verdict.failed), expected.failed)) {
    return `failed tests ${JSON.stringify(titles(verdict.failed))}, expected ${JSON.stringify(expected.failed)}`;
  }
  return undefined;
}

/** The closing line of a test level, exactly `N passed, N failed`. */
export function summaryLine(passed: number, failed: number): string {
  return `${passed} passed, ${failed} failed`;
}
