/**
 * Multi-host test harness: headless Twinspace peers (`node dist/cli.js serve`) each in its own
 * network namespace, with its own folder and state dir under one temp dir per run.
 *
 *   const h = new NetnsHarness();
 *   await h.up(['a', 'b']);
 *   const a = await h.startPeer('a');          // waits for its first status.json
 *   await a.waitForStatus((s) => s.discovered.length > 0, 15_000, 'a discovers b');
 *   await h.cutLink('b'); await h.restoreLink('b');
 *   await a.stop();                             // SIGINT, bounded wait, then SIGKILL
 *   await h.down();                             // stops every peer, deletes the namespaces
 *
 * Every wait is bounded. In a mocha suite call `skipUnlessNetns(this)` in `before()`: without
 * root or iproute2 the suite is reported as skipped, with the reason, never as passed.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { DiscoveredPeer } from '../../src/sync/discovery/DiscoveryWorker';
import { Netns, isPidAlive, netnsUnavailableReason } from './Netns';
import type { ExecResult } from './Netns';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI_PATH = path.join(REPO_ROOT, 'dist', 'cli.js');
/** Every peer listens on this port in its own namespace unless told otherwise. */
export const DEFAULT_PEER_PORT = 7400;
const OUTPUT_LIMIT = 256 * 1024;

/** `<state-dir>/status.json` as written by `twinspace serve`. */
export interface PeerStatusFile {
  readonly pid: number;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly port: number;
  readonly protocolVersion: number;
  readonly state: unknown;
  readonly discovered: readonly DiscoveredPeer[];
  readonly updatedAt: number;
  readonly stopped?: boolean;
  readonly [extra: string]: unknown;
}

export interface PeerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartPeerOptions {
  /** The program and its leading arguments (default: node dist/cli.js serve). */
  readonly command?: readonly string[];
  /** Device name (default: the host name). */
  readonly name?: string;
  /** Wait for the first status.json (default true, bounded by `readyTimeoutMs`). */
  readonly waitReady?: boolean;
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Reads and checks a status file; undefined while it does not exist yet. */
export async function readStatusFile(file: string): Promise<PeerStatusFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const raw: unknown = JSON.parse(text);
  if (
    !isRecord(raw) ||
    typeof raw['pid'] !== 'number' ||
    typeof raw['deviceId'] !== 'string' ||
    typeof raw['port'] !== 'number' ||
    !Array.isArray(raw['discovered'])
  ) {
    throw new Error(`malformed status file ${file}: ${text.slice(0, 300)}`);
  }
  return raw as PeerStatusFile;
}

/** One peer process running in a namespace. */
export class PeerProcess {
  readonly exited: Promise<PeerExit>;
  private exitInfo: PeerExit | undefined;
  private out = '';

  constructor(
    readonly host: string,
    readonly child: ChildProcess,
    readonly folder: string,
    readonly stateDir: string,
  ) {
    const capture = (chunk: Buffer): void => {
      this.out += chunk.toString('utf8');
      if (this.out.length > OUTPUT_LIMIT) this.out = this.out.slice(-OUTPUT_LIMIT / 2);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      child.once('error', (err) => {
        this.out += `\n[spawn error] ${err.message}\n`;
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`peer ${this.host} has no pid (spawn failed)`);
    return pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): PeerExit | undefined {
    return this.exitInfo;
  }

  get statusFile(): string {
    return path.join(this.stateDir, 'status.json');
  }

  /** Everything the process wrote to stdout and stderr (the last 128-256 KiB). */
  output(): string {
    return this.out;
  }

  /** The peer's status.json, or undefined before the first write. */
  status(): Promise<PeerStatusFile | undefined> {
    return readStatusFile(this.statusFile);
  }

  /** Polls status.json until `predicate` holds; throws after `timeoutMs` or if the peer exits. */
  async waitForStatus(
    predicate: (status: PeerStatusFile) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<PeerStatusFile> {
    const deadline = Date.now() + timeoutMs;
    let last: PeerStatusFile | undefined;
    for (;;) {
      last = await this.status().catch(() => last);
      if (last !== undefined && predicate(last)) return last;
      if (!this.running) {
        throw new Error(
          `peer ${this.host} exited (${JSON.stringify(this.exitInfo)}) before: ${what}\n${this.tail()}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for: ${what}\nlast status of ${this.host}: ${JSON.stringify(last)}\n${this.tail()}`,
        );
      }
      await sleep(100);
    }
  }

  /** SIGINT, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<PeerExit & { readonly forced: boolean }> {
    if (!this.running) return { ...this.exitInfo!, forced: false };
    this.child.kill('SIGINT');
    const timer = sleep(timeoutMs).then(() => 'timeout' as const);
    const first = await Promise.race([this.exited, timer]);
    if (first !== 'timeout') return { ...first, forced: false };
    this.child.kill('SIGKILL');
    return { ...(await this.exited), forced: true };
  }

  /** SIGKILL: no shutdown, no goodbye. Resolves when the process is gone. */
  async kill9(): Promise<PeerExit> {
    if (!this.running) return this.exitInfo!;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** The last lines of output, for failure messages. */
  tail(lines = 40): string {
    return `--- output of ${this.host} (pid ${this.child.pid ?? '?'}) ---\n${this.out.split('\n').slice(-lines).join('\n')}`;
  }
}

/** Call in a mocha `before()`: skips the suite (reported as pending, with the reason) if needed. */
export function skipUnlessNetns(context: Mocha.Context): void {
  const reason = netnsUnavailableReason();
  if (reason !== undefined) {
    console.log(`    SKIPPED (netns): ${reason}`);
    context.skip();
  }
}

export class NetnsHarness {
  readonly netns = new Netns();
  private runDirPath: string | undefined;
  private isUp = false;
  private readonly peers: PeerProcess[] = [];
  private readonly others: ChildProcess[] = [];

  /** The temp dir of this run (folders, state dirs). */
  get runDir(): string {
    if (this.runDirPath === undefined) throw new Error('NetnsHarness: not up');
    return this.runDirPath;
  }

  /** Builds the namespaces (after removing stale ones of dead runs) and a temp dir. */
  async up(hosts: readonly string[]): Promise<void> {
    this.runDirPath = await fs.mkdtemp(path.join(os.tmpdir(), `twinspace-netns-${process.pid}-`));
    this.isUp = true;
    await this.netns.up(hosts);
  }

  address(host: string): string {
    return this.netns.address(host);
  }

  /**
   * Starts `twinspace serve <folder> --name <host> --state-dir <dir> --port 7400
   * --mdns-host <host>-<prefix>.local <args...>` inside `host`'s namespace, with a fresh folder
   * and state dir. By default waits (bounded) for its first status.json.
   */
  async startPeer(
    host: string,
    args: readonly string[] = [],
    options: StartPeerOptions = {},
  ): Promise<PeerProcess> {
    const index = this.peers.filter((p) => p.host === host).length;
    const base = path.join(this.runDir, index === 0 ? host : `${host}-${index}`);
    const folder = path.join(base, 'folder');
    const stateDir = path.join(base, 'state');
    await fs.mkdir(folder, { recursive: true });
    await fs.mkdir(stateDir, { recursive: true });
    return this.spawnPeer(host, folder, stateDir, args, options);
  }

  /**
   * Starts `previous`'s host again on the SAME folder and state dir (device key, trust, WAL),
   * after it has exited (e.g. `kill9()`). Same defaults and waiting as `startPeer`.
   */
  async restartPeer(
    previous: PeerProcess,
    args: readonly string[] = [],
    options: StartPeerOptions = {},
  ): Promise<PeerProcess> {
    if (previous.running) throw new Error(`restartPeer: ${previous.host} is still running`);
    return this.spawnPeer(previous.host, previous.folder, previous.stateDir, args, options);
  }

  private async spawnPeer(
    host: string,
    folder: string,
    stateDir: string,
    args: readonly string[],
    options: StartPeerOptions,
  ): Promise<PeerProcess> {
    const command = options.command ?? [process.execPath, CLI_PATH, 'serve'];
    if (options.command === undefined && !existsSync(CLI_PATH)) {
      throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
    }
    const [program, ...lead] = command;
    if (program === undefined) throw new Error('startPeer: empty command');
    const defaults: string[] = [];
    if (!args.includes('--port')) defaults.push('--port', String(DEFAULT_PEER_PORT));
    if (!args.includes('--mdns-host') && !args.includes('--no-mdns')) {
      defaults.push('--mdns-host', `${host}-${this.netns.prefix.replace(/-$/, '')}.local`);
    }
    const child = this.netns.spawn(
      host,
      program,
      [
        ...lead,
        folder,
        '--name',
        options.name ?? host,
        '--state-dir',
        stateDir,
        ...defaults,
        ...args,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, ...options.env } },
    );
    const peer = new PeerProcess(host, child, folder, stateDir);
    this.peers.push(peer);
    if (options.waitReady ?? true) {
      await peer.waitForStatus(
        (s) => s.pid === peer.pid,
        options.readyTimeoutMs ?? 15_000,
        `${host} writes its first status.json`,
      );
    }
    return peer;
  }

  /** Starts any program inside `host`'s namespace; it is killed by `down()`. */
  spawnIn(host: string, program: string, args: readonly string[]): ChildProcess {
    const child = this.netns.spawn(host, program, args, { cwd: REPO_ROOT });
    this.others.push(child);
    return child;
  }

  /** Runs a program inside `host`'s namespace to completion (bounded). */
  exec(
    host: string,
    program: string,
    args: readonly string[],
    timeoutMs?: number,
  ): Promise<ExecResult> {
    return this.netns.exec(host, program, args, timeoutMs);
  }

  /** Starts a TCP listener on `host`'s address; resolves once it listens. */
  async listen(host: string, port: number): Promise<ChildProcess> {
    const code = `require('node:net').createServer((s) => { s.on('error', () => {}); s.end('hi'); }).listen(${port}, '${this.address(host)}', () => console.log('listening'))`;
    const child = this.spawnIn(host, process.execPath, ['-e', code]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`listener in ${host} did not start`));
      }, 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (c) => {
        clearTimeout(timer);
        reject(new Error(`listener in ${host} exited with ${c}`));
      });
    });
    return child;
  }

  /** Can `from` open a TCP connection to `to`:port within `timeoutMs`? */
  async canConnect(from: string, to: string, port: number, timeoutMs = 1_000): Promise<boolean> {
    const code = `const s = require('node:net').connect(${port}, '${this.address(to)}');
      const t = setTimeout(() => process.exit(2), ${timeoutMs});
      s.on('connect', () => { clearTimeout(t); s.destroy(); process.exit(0); });
      s.on('error', () => { clearTimeout(t); process.exit(1); });`;
    const result = await this.exec(from, process.execPath, ['-e', code], timeoutMs + 10_000);
    return result.code === 0;
  }

  cutLink(host: string): Promise<void> {
    return this.netns.cutLink(host);
  }

  restoreLink(host: string): Promise<void> {
    return this.netns.restoreLink(host);
  }

  /** Stops every peer (SIGINT, bounded), kills helpers, deletes the namespaces and temp dir. */
  async down(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (!this.isUp) return;
    this.isUp = false;
    await Promise.all(this.peers.map((p) => p.stop(3_000)));
    for (const child of this.others) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await this.netns.down();
    if (this.runDirPath !== undefined && !(options.keepFiles ?? false)) {
      await fs.rm(this.runDirPath, { recursive: true, force: true });
    }
  }

  /** Every peer started so far. */
  get startedPeers(): readonly PeerProcess[] {
    return this.peers;
  }
}

export { isPidAlive };
