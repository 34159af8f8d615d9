/**
 * The "host" test level: the packaged VSIX in a real VS Code (code-server 4.139.1, Node extension
 * host) driven by headless Chromium. Phases:
 *   package   `npm run package` → twinspace.vsix; `node esbuild.mjs --tests` → out/host-tests
 *   host      test/host suite, run INSIDE the extension host (payload + smoke-test driver)
 *   selftest  the harness proves it can fail: a failing canary, a zero-test canary and a hanging
 *             canary must each be reported as failures, for the right reason
 *   e2e       test/e2e/*.e2e.ts through the UI (palette, status bar, output, Sync Panel)
 * Prints one line per test and ends with exactly `N passed, N failed`; exit 1 on any failure.
 *
 * Run it through scripts/vscode-host/test.mjs (setup, network namespace). Options:
 *   --only host,selftest,e2e   run some phases      --vsix FILE   test this VSIX, skip packaging
 *   --keep                     keep the run folder (kept anyway on failure)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import type { Browser } from 'playwright-core';
import { E2E_ENV } from '../../test/e2e/e2eEnv';
import { launchChromium } from './launchChromium';
import { CodeServer } from './CodeServer';
import { hostPaths, type HostPaths } from './hostPaths';
import { runHostSuite, type HostSuiteRun } from './runHostSuite';
import { Report } from './Report';
import { checkCanary, judgeHostRun, type CanaryExpectation } from './judgeHostRun';

const PHASES = ['host', 'selftest', 'e2e'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  readonly phases: ReadonlySet<Phase>;
  readonly vsix: string | undefined;
  readonly keep: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let phases = new Set<Phase>(PHASES);
  let vsix: string | undefined;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') {
      const list = (argv[++i] ?? '').split(',').filter((x) => x !== '');
      for (const p of list) {
        if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}`);
      }
      phases = new Set(list as Phase[]);
    } else if (a === '--vsix') {
      vsix = path.resolve(argv[++i] ?? '');
    } else if (a === '--keep') {
      keep = true;
    } else {
      throw new Error(`unknown argument ${a ?? ''}`);
    }
  }
  return { phases, vsix, keep };
}

/** Runs a command with its output in `logFile`; throws with the output's tail on failure. */
function runLogged(cmd: string, args: readonly string[], cwd: string, logFile: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  fs.writeFileSync(logFile, `${r.stdout}${r.stderr}`);
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${tail}`);
  }
}

/** Keeps the newest few run folders for post-mortems; removes older ones. */
function pruneRuns(hostDir: string, keep: number): void {
  if (!fs.existsSync(hostDir)) return;
  const runs = fs
    .readdirSync(hostDir)
    .filter((d) => d.startsWith('run-'))
    .map((d) => ({ d, t: fs.statSync(path.join(hostDir, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of runs.slice(keep))
    fs.rmSync(path.join(hostDir, d), { recursive: true, force: true });
}

/**
 * One run at a time per checkout (runs share twinspace.vsix, out/host-tests and test-results).
 * Returns why the lock could not be taken, or undefined once this process holds it.
 */
function takeLock(hostDir: string): string | undefined {
  const lock = path.join(hostDir, 'test.lock');
  fs.mkdirSync(hostDir, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      process.once('exit', () => {
        fs.rmSync(lock, { force: true });
      });
      return undefined;
    } catch {
      const owner = Number(fs.readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        process.kill(owner, 0);
        alive = true;
      } catch {
        // The owner is gone: a stale lock.
      }
      if (alive) return `another host test run (pid ${owner}) holds ${lock}`;
      fs.rmSync(lock, { force: true });
    }
  }
  return `could not take ${lock}`;
}

interface Context {
  readonly paths: HostPaths;
  readonly report: Report;
  readonly server: CodeServer;
  readonly browser: Browser;
  readonly extensionDir: string;
}

function hostRun(ctx: Context, suite: string, timeoutMs: number): Promise<HostSuiteRun> {
  const { paths, server } = ctx;
  return runHostSuite({
    browser: ctx.browser,
    baseUrl: server.baseUrl,
    folder: server.createWorkspace(suite, { 'README.md': `# ${suite}\n` }),
    extensionDevelopmentPath: ctx.extensionDir,
    runner: path.join(paths.hostTestsDir, 'index.js'),
    suiteDir: path.join(paths.hostTestsDir, 'suites', suite),
    resultsFile: path.join(paths.resultsDir, `host-${suite}.json`),
    logFile: path.join(paths.resultsDir, `host-${suite}.exthost.log`),
    timeoutMs,
  });
}

async function hostPhase(ctx: Context): Promise<void> {
  const { report } = ctx;
  report.info('host: test/host suite inside the extension host');
  const run = await hostRun(ctx, 'main', 240_000);
  const verdict = judgeHostRun(run.exit, run.results);
  for (const t of verdict.passed) report.pass('host', t.title, t.durationMs);
  for (const t of verdict.failed) report.fail('host', t.title, t.error ?? 'failed');
  if (!verdict.ok && verdict.failed.length === 0) {
    report.fail('host', 'suite run', `${verdict.reason}; see ${ctx.paths.resultsDir}/host-main.*`);
  }
  const r = run.results;
  report.info(
    `host: ${verdict.reason} in ${(run.durationMs / 1000).toFixed(1)} s` +
      (r ? ` (VS Code ${r.vscode}, extension host node ${r.node})` : ''),
  );
}

async function selfTestPhase(ctx: Context): Promise<void> {
  const { report } = ctx;
  report.info('selftest: the harness must report each canary suite as a failure');
  const check = async (
    title: string,
    suite: string,
    timeoutMs: number,
    expected: CanaryExpectation,
  ): Promise<HostSuiteRun> => {
    const started = Date.now();
    const run = await hostRun(ctx, suite, timeoutMs);
    const verdict = judgeHostRun(run.exit, run.results);
    const problem = checkCanary(verdict, expected);
    if (problem === undefined)
      report.pass('selftest', `${title}: ${verdict.reason}`, Date.now() - started);
    else report.fail('selftest', title, problem);
    return run;
  };
  const failing = await check('a failing test fails the run', 'canary-failing', 120_000, {
    reason: /^1 of 2 failed$/,
    passed: ['canary passes inside the extension host'],
    failed: ['canary fails on purpose'],
  });
  await check('a suite with zero tests fails the run', 'canary-empty', 120_000, {
    reason: /^zero tests ran$/,
    passed: [],
    failed: [],
  });
  // Long enough for a window to load and the runner to start (measured just above), then hang.
  const hangDeadline = Math.max(20_000, failing.durationMs + 10_000);
  await check('a hanging test fails the run at the deadline', 'canary-hang', hangDeadline, {
    reason: /^timed out after \d+ ms after 0 finished tests \(hang\)$/,
    passed: [],
    failed: [],
  });
}

async function e2ePhase(ctx: Context): Promise<void> {
  const { report, paths, server } = ctx;
  report.info('e2e: test/e2e through the workbench UI');
  process.env[E2E_ENV.url] = server.baseUrl;
  process.env[E2E_ENV.folder] = server.createWorkspace('e2e', { 'hello.txt': 'hello\n' });
  process.env[E2E_ENV.shots] = path.join(paths.resultsDir, 'e2e');
  process.env.CHROMIUM = paths.chromium;
  const dir = path.join(paths.project, 'test', 'e2e');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.e2e.ts'));
  const mocha = new Mocha({ ui: 'bdd', timeout: 90_000, reporter: Mocha.reporters.Base });
  for (const f of files.sort()) mocha.addFile(path.join(dir, f));
  let ran = 0;
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => {
      resolve();
    });
    runner.on('pass', (t) => {
      ran++;
      report.pass('e2e', t.fullTitle(), t.duration);
    });
    runner.on('fail', (t, err: unknown) => {
      ran++;
      report.fail(
        'e2e',
        t.fullTitle(),
        err instanceof Error ? (err.stack ?? err.message) : String(err),
      );
    });
  });
  if (ran === 0) report.fail('e2e', 'suite run', `no e2e test ran (${files.length} files)`);
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const paths = hostPaths();
  const report = new Report();
  const lockProblem = takeLock(paths.hostDir);
  if (lockProblem !== undefined) {
    report.fail('harness', 'exclusive run', lockProblem);
    return report.finish();
  }
  for (const pgid of CodeServer.reapStale(paths.hostDir)) {
    report.info(`killed code-server group ${pgid} left behind by a crashed run`);
  }
  pruneRuns(paths.hostDir, 3);
  // Fresh results: no screenshot or results file of an earlier run can be mistaken for this one.
  fs.rmSync(paths.resultsDir, { recursive: true, force: true });
  fs.mkdirSync(paths.resultsDir, { recursive: true });
  for (const f of [paths.node24, paths.codeServerEntry, paths.chromium]) {
    if (!fs.existsSync(f)) {
      report.fail('setup', 'host installed', `${f} is missing: run scripts/vscode-host/setup.sh`);
      return report.finish();
    }
  }

  let vsix = options.vsix;
  try {
    const started = Date.now();
    if (vsix === undefined) {
      runLogged(
        'npm',
        ['run', 'package'],
        paths.project,
        path.join(paths.resultsDir, 'package.log'),
      );
      vsix = paths.vsix;
    }
    runLogged(
      process.execPath,
      ['esbuild.mjs', '--tests'],
      paths.project,
      path.join(paths.resultsDir, 'build-tests.log'),
    );
    report.info(
      `packaged ${path.relative(paths.project, vsix)} and built out/host-tests (${Date.now() - started} ms)`,
    );
  } catch (error) {
    report.fail('package', 'npm run package && esbuild --tests', String(error));
    return report.finish();
  }

  const server = new CodeServer({
    paths,
    log: (l) => {
      report.info(l);
    },
  });
  let browser: Browser | undefined;
  const stopAll = async (): Promise<void> => {
    await browser?.close().catch(() => undefined);
    await server.stop();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    report.info(`${signal}: stopping code-server`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Keep a copy of the exact VSIX under test next to the run's logs.
    const vsixCopy = path.join(server.runDir, path.basename(vsix));
    fs.copyFileSync(vsix, vsixCopy);
    const extensionDir = server.installVsix(vsixCopy);
    report.info(`installed ${path.basename(extensionDir)}`);
    await server.start();
    browser = await launchChromium(paths.chromium);
    const ctx: Context = { paths, report, server, browser, extensionDir };
    if (options.phases.has('host')) await hostPhase(ctx);
    if (options.phases.has('selftest')) await selfTestPhase(ctx);
    if (options.phases.has('e2e')) await e2ePhase(ctx);
  } catch (error) {
    report.fail(
      'harness',
      'run',
      error instanceof Error ? (error.stack ?? error.message) : String(error),
    );
  } finally {
    await stopAll();
  }
  if (report.failed === 0 && !options.keep)
    fs.rmSync(server.runDir, { recursive: true, force: true });
  else report.info(`run folder kept: ${server.runDir}`);
  return report.finish();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
