/**
 * Runs one mocha suite INSIDE code-server's Node extension host, the way @vscode/test-web does for
 * the browser host: the page URL carries a payload (extensionDevelopmentPath, extensionTestsPath,
 * extensionEnvironment); code-server must run with `--vscode-option enable-smoke-test-driver`,
 * which makes the web client honour the payload and call `window.codeAutomationExit(code)` when the
 * tests end. The in-host runner (test/host/runner) writes the results file this reads back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import type { Browser } from 'playwright-core';
import { HOST_ENV, type HostResults } from '../../test/host/runner/results';
import type { HostRunExit } from './judgeHostRun';

export interface HostSuiteOptions {
  readonly browser: Browser;
  readonly baseUrl: string;
  /** Folder the window opens. */
  readonly folder: string;
  /** The extension under test (here: the folder the VSIX was installed into). */
  readonly extensionDevelopmentPath: string;
  /** The bundled runner (out/host-tests/index.js). */
  readonly runner: string;
  /** Folder of the suite's *.test.js files. */
  readonly suiteDir: string;
  readonly resultsFile: string;
  /** Everything the extension host logs goes here. */
  readonly logFile: string;
  /** Deadline for the whole run, page load included. */
  readonly timeoutMs: number;
  readonly grep?: string;
}

export interface HostSuiteRun {
  readonly exit: HostRunExit;
  readonly results: HostResults | undefined;
  readonly durationMs: number;
}

/** code-server's remote authority is literally "remote". */
const remoteUri = (absPath: string): string => `vscode-remote://remote${absPath}`;

export function payloadUrl(o: {
  baseUrl: string;
  folder: string;
  extensionDevelopmentPath: string;
  runner: string;
  env: Readonly<Record<string, string>>;
}): string {
  const payload = [
    ['extensionDevelopmentPath', remoteUri(o.extensionDevelopmentPath)],
    ['extensionTestsPath', remoteUri(o.runner)],
    ['extensionEnvironment', JSON.stringify(o.env)],
    ['skipWelcome', 'true'],
    ['skipReleaseNotes', 'true'],
  ];
  return `${o.baseUrl}/?folder=${encodeURIComponent(o.folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export function readResults(file: string): HostResults | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as HostResults;
  } catch {
    // A half-written file (killed mid-write) counts as missing.
    return undefined;
  }
}

export async function runHostSuite(o: HostSuiteOptions): Promise<HostSuiteRun> {
  const started = Date.now();
  fs.rmSync(o.resultsFile, { force: true });
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  const log = fs.createWriteStream(o.logFile);
  const context = await o.browser.newContext();
  let timer: NodeJS.Timeout | undefined;
  try {
    const page = await context.newPage();
    let resolveExit: (exit: HostRunExit) => void = () => undefined;
    const exited = new Promise<HostRunExit>((resolve) => (resolveExit = resolve));
    await page.exposeFunction('codeAutomationLog', (type: unknown, args: unknown) => {
      const parts = Array.isArray(args) ? (args as unknown[]) : [args];
      // Strip the %c styling VS Code adds to console forwarding.
      const line = format(...parts).replace(/%c\s*\S+ color: #\w+\s*/g, '');
      log.write(`[${String(type)}] ${line}\n`);
    });
    await page.exposeFunction('codeAutomationExit', (code: unknown) => {
      resolveExit({ kind: 'exited', code: typeof code === 'number' ? code : 1 });
    });
    page.on('crash', () => {
      resolveExit({ kind: 'crashed', error: 'page crashed' });
    });
    page.on('pageerror', (e) => log.write(`[pageerror] ${e.message}\n`));
    const deadline = new Promise<HostRunExit>((resolve) => {
      timer = setTimeout(() => {
        resolve({ kind: 'timeout', afterMs: Date.now() - started });
      }, o.timeoutMs);
    });
    const env: Record<string, string> = {
      [HOST_ENV.suite]: o.suiteDir,
      [HOST_ENV.results]: o.resultsFile,
      // Built by `npm run package` but not shipped in the VSIX: host tests run headless peers.
      [HOST_ENV.cli]: path.resolve(__dirname, '..', '..', 'dist', 'cli.js'),
      ...(o.grep !== undefined ? { [HOST_ENV.grep]: o.grep } : {}),
    };
    const url = payloadUrl({ ...o, env });
    log.write(`[launcher] open ${url}\n`);
    const navigation = page.goto(url, { timeout: o.timeoutMs }).then(
      () => new Promise<HostRunExit>(() => undefined),
      (e: unknown) => ({ kind: 'crashed', error: `navigation failed: ${String(e)}` }) as const,
    );
    const exit = await Promise.race([exited, deadline, navigation]);
    return { exit, results: readResults(o.resultsFile), durationMs: Date.now() - started };
  } finally {
    if (timer) clearTimeout(timer);
    await context.close().catch(() => undefined);
    await new Promise<void>((resolve) => log.end(resolve));
  }
}
