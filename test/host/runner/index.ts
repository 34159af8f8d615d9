/**
 * The mocha runner that runs INSIDE the VS Code extension host (the payload's
 * `extensionTestsPath` points at its bundle, out/host-tests/index.js). VS Code calls `run()`; a
 * rejection makes the extension host report exit code 1 to the page, which the launcher reads.
 *
 * The suite folder and the results path come from the payload's `extensionEnvironment` (see
 * HOST_ENV), so one runner serves the real suite and the harness's canary suites.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import * as vscode from 'vscode';
import { HOST_ENV, orderTestFiles, type HostResults, type HostTestOutcome } from './results';

function message(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

export async function run(): Promise<void> {
  const suite = process.env[HOST_ENV.suite] ?? path.join(__dirname, 'suites', 'main');
  const resultsFile = process.env[HOST_ENV.results] ?? path.join(suite, 'results.json');
  const files = orderTestFiles(fs.readdirSync(suite));
  const passed: HostTestOutcome[] = [];
  const failed: HostTestOutcome[] = [];
  const pending: string[] = [];
  const started = new Date().toISOString();
  const write = (complete: boolean): void => {
    const results: HostResults = {
      suite,
      files,
      started,
      ...(complete ? { finished: new Date().toISOString() } : {}),
      complete,
      node: process.version,
      vscode: vscode.version,
      pid: process.pid,
      passed,
      failed,
      pending,
    };
    fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
    fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  };
  write(false);
  console.log(`[host-tests] ${files.length} files in ${suite} (VS Code ${vscode.version})`);

  const grep = process.env[HOST_ENV.grep];
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 30_000,
    color: false,
    // The spec reporter writes to stdout, which the extension host does not forward; the
    // launcher gets one console line per test from the listeners below instead.
    reporter: Mocha.reporters.Base,
    ...(grep !== undefined ? { grep } : {}),
  });
  for (const f of files) mocha.addFile(path.join(suite, f));
  const fileOf = (t: Mocha.Runnable): string | undefined =>
    t.file !== undefined ? path.relative(suite, t.file) : undefined;

  const failures = await new Promise<number>((resolve, reject) => {
    let runner: Mocha.Runner;
    try {
      // run() loads (requires) the test files first: a file that throws at load time lands here.
      runner = mocha.run(resolve);
    } catch (error) {
      failed.push({ title: 'loading the test files', error: message(error) });
      write(true);
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    runner.on('pass', (t) => {
      const file = fileOf(t);
      passed.push({
        title: t.fullTitle(),
        ...(file !== undefined ? { file } : {}),
        ...(t.duration !== undefined ? { durationMs: t.duration } : {}),
      });
      console.log(`[host-tests] PASS ${t.fullTitle()}`);
      write(false);
    });
    runner.on('fail', (t, err) => {
      const file = fileOf(t);
      failed.push({
        title: t.fullTitle(),
        ...(file !== undefined ? { file } : {}),
        ...(t.duration !== undefined ? { durationMs: t.duration } : {}),
        error: message(err),
      });
      console.log(`[host-tests] FAIL ${t.fullTitle()}: ${message(err)}`);
      write(false);
    });
    runner.on('pending', (t) => {
      pending.push(t.fullTitle());
    });
  });
  write(true);
  const ran = passed.length + failed.length;
  console.log(`[host-tests] ${passed.length} passed, ${failed.length} failed`);
  if (failures > 0 || failed.length > 0) throw new Error(`${failed.length} host tests failed`);
  if (ran === 0) throw new Error(`no host test ran in ${suite}`);
}
