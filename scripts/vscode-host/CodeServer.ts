/**
 * One isolated code-server instance (VS Code web client + Node extension host) for tests: its own
 * user-data-dir, extensions-dir, config, XDG folders and workspace under `.vscode-host/run-<id>/`,
 * listening on a free loopback port chosen by the kernel. `stop()` kills the whole process group
 * (server, extension hosts, pty hosts); a process-exit hook does the same if the caller crashes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { HostPaths } from './hostPaths';
import userSettings from './user-settings.json';

/**
 * User settings every test instance gets (scripts/vscode-host/user-settings.json, shared with
 * .vscode-test.mjs). `twinspace.discovery.mdns: false` is a safety rule: mDNS must never run from a
 * test host (its multicast would leave the machine). `[Log] editor.wordWrap: off` gives one rendered
 * row per log line, so the UI tests can read output channels line by line. The rest keeps the
 * workbench quiet and offline.
 */
export const TEST_USER_SETTINGS: Readonly<Record<string, unknown>> = userSettings;

export interface CodeServerOptions {
  readonly paths: HostPaths;
  /** Run folder; created. Default: `<hostDir>/run-<time>-<pid>`. */
  readonly runDir?: string;
  readonly settings?: Readonly<Record<string, unknown>>;
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** Parses code-server's "HTTP server listening on http://127.0.0.1:PORT/" log line. */
export function parseListeningUrl(output: string): string | undefined {
  const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:(\d+))\/?/.exec(output);
  if (!m?.[1] || m[2] === '0') return undefined;
  return m[1];
}

/** Environment for code-server: no inherited VS Code/Electron/Node hooks, XDG dirs in runDir. */
export function serverEnv(base: NodeJS.ProcessEnv, runDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (k.startsWith('VSCODE_') || k.startsWith('ELECTRON_') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  // Point the extension gallery and telemetry at a closed loopback port: no lookups of
  // open-vsx.org (nothing may leave the machine, and the test network namespace has no DNS).
  const dead = 'http://127.0.0.1:9';
  env.EXTENSIONS_GALLERY = JSON.stringify({
    serviceUrl: `${dead}/gallery`,
    itemUrl: `${dead}/item`,
    extensionUrlTemplate: `${dead}/gallery/{publisher}/{name}/latest`,
    resourceUrlTemplate: `${dead}/asset/{publisher}/{name}/{version}/{path}`,
    controlUrl: '',
    recommendationsUrl: '',
  });
  env.CS_TELEMETRY_URL = `${dead}/telemetry`;
  env.XDG_DATA_HOME = path.join(runDir, 'xdg', 'data');
  env.XDG_CONFIG_HOME = path.join(runDir, 'xdg', 'config');
  env.XDG_CACHE_HOME = path.join(runDir, 'xdg', 'cache');
  return env;
}

function get(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a process (pid > 0) or process group (pid < 0) exists. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class CodeServer {
  readonly runDir: string;
  readonly userDataDir: string;
  readonly extensionsDir: string;
  readonly configFile: string;
  readonly logFile: string;
  private readonly ownerFile: string;
  private process: ChildProcess | undefined;
  private url: string | undefined;
  private readonly exitHook = (): void => {
    this.killGroup('SIGKILL');
  };

  /**
   * Kills code-server process groups left behind by earlier runs whose owning process died
   * without cleaning up (SIGKILL, crash). Servers of a live run are left alone.
   * Returns the process groups killed.
   */
  static reapStale(hostDir: string): number[] {
    const killed: number[] = [];
    if (!fs.existsSync(hostDir)) return killed;
    for (const d of fs.readdirSync(hostDir)) {
      const file = path.join(hostDir, d, 'server.owner.json');
      if (!d.startsWith('run-') || !fs.existsSync(file)) continue;
      try {
        const { pgid, owner } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
          pgid: number;
          owner: number;
        };
        if (isAlive(owner)) continue;
        if (isAlive(-pgid)) {
          process.kill(-pgid, 'SIGKILL');
          killed.push(pgid);
        }
        fs.rmSync(file, { force: true });
      } catch {
        // Unreadable or already gone: nothing to reap.
      }
    }
    return killed;
  }

  constructor(private readonly options: CodeServerOptions) {
    const { paths } = options;
    this.runDir =
      options.runDir ?? path.join(paths.hostDir, `run-${Date.now().toString(36)}-${process.pid}`);
    this.userDataDir = path.join(this.runDir, 'user-data');
    this.extensionsDir = path.join(this.runDir, 'extensions');
    this.configFile = path.join(this.runDir, 'config.yaml');
    this.logFile = path.join(this.runDir, 'server.log');
    this.ownerFile = path.join(this.runDir, 'server.owner.json');
    fs.mkdirSync(path.join(this.userDataDir, 'User'), { recursive: true });
    fs.mkdirSync(this.extensionsDir, { recursive: true });
    fs.writeFileSync(
      path.join(this.userDataDir, 'User', 'settings.json'),
      `${JSON.stringify({ ...TEST_USER_SETTINGS, ...options.settings }, null, 2)}\n`,
    );
    // Explicit config so code-server never writes one into ~/.config; auth none on loopback.
    fs.writeFileSync(this.configFile, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  }

  /**
   * Creates a workspace folder for one window (`<runDir>/workspaces/<name>`). Each phase opens its
   * own folder, so each extension host gets its own workspace storage (and state dir).
   */
  createWorkspace(name: string, files: Readonly<Record<string, string>> = {}): string {
    const folder = path.join(this.runDir, 'workspaces', name);
    fs.mkdirSync(folder, { recursive: true });
    for (const [rel, content] of Object.entries(files)) {
      const file = path.join(folder, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    return folder;
  }

  /** Base URL, e.g. http://127.0.0.1:41234 (after start()). */
  get baseUrl(): string {
    if (this.url === undefined) throw new Error('code-server is not started');
    return this.url;
  }

  private baseArgs(): string[] {
    return [
      this.options.paths.codeServerEntry,
      '--config',
      this.configFile,
      '--user-data-dir',
      this.userDataDir,
      '--extensions-dir',
      this.extensionsDir,
    ];
  }

  /** Installs a VSIX into this instance's extensions-dir; returns the installed folder. */
  installVsix(vsix: string, timeoutMs = 120_000): string {
    const result = spawnSync(
      this.options.paths.node24,
      [...this.baseArgs(), '--install-extension', vsix, '--force'],
      { env: serverEnv(process.env, this.runDir), encoding: 'utf8', timeout: timeoutMs },
    );
    const output = `${result.stdout}${result.stderr}`;
    fs.writeFileSync(path.join(this.runDir, 'install-extension.log'), output);
    if (result.error) throw new Error(`installing ${vsix}: ${result.error.message}`);
    if (result.status !== 0 || !/successfully installed/i.test(output)) {
      throw new Error(`installing ${vsix} failed (exit ${result.status}):\n${output.trim()}`);
    }
    const dirs = fs
      .readdirSync(this.extensionsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
    if (dirs.length !== 1 || dirs[0] === undefined) {
      throw new Error(
        `expected one installed extension in ${this.extensionsDir}, found: ${dirs.join(', ')}`,
      );
    }
    return path.join(this.extensionsDir, dirs[0]);
  }

  /** Starts the server and waits (bounded) until it answers /healthz. */
  async start(): Promise<string> {
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn(
      this.options.paths.node24,
      [
        ...this.baseArgs(),
        '--auth',
        'none',
        '--bind-addr',
        '127.0.0.1:0',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        // A closed test window's extension host is stopped after 5 s instead of 3 hours.
        '--reconnection-grace-time',
        '5',
        // Makes the web client honour ?payload= (extensionTestsPath) and expose
        // window.codeAutomationExit; without it the payload is silently ignored.
        '--vscode-option',
        'enable-smoke-test-driver',
      ],
      {
        // Own process group, so stop() can kill the extension hosts it forks too.
        detached: true,
        env: serverEnv(process.env, this.runDir),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.process = child;
    process.once('exit', this.exitHook);
    // For reapStale(): lets a later run kill this server if this process dies without cleanup.
    if (child.pid !== undefined) {
      fs.writeFileSync(this.ownerFile, JSON.stringify({ pgid: child.pid, owner: process.pid }));
    }
    let output = '';
    const onData = (chunk: Buffer): void => {
      fs.writeSync(log, chunk);
      if (this.url === undefined) {
        output += chunk.toString('utf8');
        this.url = parseListeningUrl(output);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `code-server exited (code ${code}, signal ${signal})`;
      fs.closeSync(log);
    });

    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited !== undefined) throw new Error(`${exited}; log: ${this.logFile}`);
      if (this.url !== undefined) {
        try {
          if ((await get(`${this.url}/healthz`, 2_000)) === 200) {
            this.options.log?.(`code-server ${this.url} (pid ${child.pid}, ${this.runDir})`);
            return this.url;
          }
        } catch {
          // Not answering yet.
        }
      }
      await sleep(200);
    }
    await this.stop();
    throw new Error(
      `code-server did not become healthy within ${timeoutMs} ms; log: ${this.logFile}`,
    );
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.process?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }

  private groupAlive(): boolean {
    const pid = this.process?.pid;
    return pid !== undefined && isAlive(-pid);
  }

  /** Kills the server and everything it started; waits (bounded) until the group is gone. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.process === undefined) return;
    this.killGroup('SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (this.groupAlive() && Date.now() < deadline) await sleep(100);
    if (this.groupAlive()) {
      this.killGroup('SIGKILL');
      const hard = Date.now() + 2_000;
      while (this.groupAlive() && Date.now() < hard) await sleep(50);
    }
    process.removeListener('exit', this.exitHook);
    fs.rmSync(this.ownerFile, { force: true });
    this.process = undefined;
    this.url = undefined;
  }
}
