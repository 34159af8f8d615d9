/**
 * The results file the in-host mocha runner writes and the launcher (scripts/vscode-host) reads.
 * The runner writes it once before loading any test (`complete: false`) and again when mocha ends,
 * so the launcher can tell "never started" (no file), "started but hung" (`complete: false`) and
 * "finished" apart.
 */
export interface HostTestOutcome {
  /** Full mocha title ("suite test"). */
  readonly title: string;
  /** Test file, relative to the suite folder. */
  readonly file?: string;
  readonly durationMs?: number;
  readonly error?: string;
}

export interface HostResults {
  /** Folder of the *.test.js files that ran. */
  readonly suite: string;
  readonly files: readonly string[];
  readonly started: string;
  readonly finished?: string;
  readonly complete: boolean;
  /** Extension host facts: its Node, VS Code version, pid. */
  readonly node: string;
  readonly vscode: string;
  readonly pid: number;
  readonly passed: readonly HostTestOutcome[];
  readonly failed: readonly HostTestOutcome[];
  readonly pending: readonly string[];
}

/** Environment variables the launcher passes through the payload's `extensionEnvironment`. */
export const HOST_ENV = {
  /** Absolute folder whose *.test.js files the runner loads. */
  suite: 'TWINSPACE_HOST_SUITE',
  /** Absolute path of the results JSON. */
  results: 'TWINSPACE_HOST_RESULTS',
  /** Optional mocha grep. */
  grep: 'TWINSPACE_HOST_GREP',
  /** The repository's dist/cli.js (not in the VSIX): tests start headless peers with it. */
  cli: 'TWINSPACE_HOST_CLI',
} as const;

/** A test file that must run after all others (it shuts the runtime down). */
export const LAST_TEST_FILE = 'shutdown.test.js';

/** The *.test.js files of a suite folder in run order: by name, LAST_TEST_FILE last. */
export function orderTestFiles(names: readonly string[]): string[] {
  return names
    .filter((n) => n.endsWith('.test.js'))
    .sort((a, b) => {
      if (a === LAST_TEST_FILE) return 1;
      if (b === LAST_TEST_FILE) return -1;
      return a < b ? -1 : a > b ? 1 : 0;
    });
}
