/**
 * Real `node dist/cli.js serve` peers on 127.0.0.1 for multi-process tests (build first:
 * `npm run build`). Every child is tracked and killed by `killAll()`.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../dist/cli.js');

export interface PeerStatusJson {
  pid: number;
  deviceId: string;
  port: number;
  docHash: string;
  peers: { peerId: string; state: string; lastError?: string; inSync: boolean }[];
  rejected: { deviceId?: string; reason: string }[];
  stopped?: boolean;
}

export class CliPeer {
  child: ChildProcess | undefined;
  stderr = '';
  readonly folder: string;
  readonly stateDir: string;

  constructor(
    readonly name: string,
    root: string,
    readonly port: number,
  ) {
    this.folder = path.join(root, name, 'folder');
    this.stateDir = path.join(root, name, 'state');
    mkdirSync(this.folder, { recursive: true });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts `serve` and waits until its status file shows it listening. */
  async start(extra: readonly string[] = []): Promise<void> {
    rmSync(path.join(this.stateDir, 'status.json'), { force: true });
    const child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        this.folder,
        '--state-dir',
        this.stateDir,
        '--name',
        this.name,
        '--no-mdns',
        '--host',
        '127.0.0.1',
        '--port',
        String(this.port),
        ...extra,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-200_000);
    });
    await waitUntil(() => {
      const s = this.status();
      return (
        s !== undefined &&
        s.pid === child.pid &&
        existsSync(path.join(this.stateDir, 'control.sock'))
      );
    }, `${this.name} to start`);
  }

  status(): PeerStatusJson | undefined {
    try {
      return JSON.parse(
        readFileSync(path.join(this.stateDir, 'status.json'), 'utf8'),
      ) as PeerStatusJson;
    } catch {
      return undefined;
    }
  }

  trustedIds(): string[] {
    try {
      const file = JSON.parse(readFileSync(path.join(this.stateDir, 'trust.json'), 'utf8')) as {
        peers: { deviceId: string }[];
      };
      return file.peers.map((p) => p.deviceId);
    } catch {
      return [];
    }
  }

  kill9(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => {
        resolve();
      });
      child.kill('SIGKILL');
    });
  }

  /** Runs a CLI command against this peer's state dir (synchronously, bounded). */
  cli(
    args: readonly string[],
    timeoutMs = 20_000,
  ): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, ...args, '--state-dir', this.stateDir], {
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts `pair --show` and resolves with the code once printed; `done` resolves at exit. */
  showPairing(timeoutMs = 20_000): Promise<{
    code: string;
    done: Promise<{ code: number; stdout: string; stderr: string }>;
    child: ChildProcess;
  }> {
    const child = spawn(
      process.execPath,
      [CLI, 'pair', '--show', '--state-dir', this.stateDir, '--timeout-ms', String(timeoutMs)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    tracked.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      child.once('exit', (code) => {
        tracked.delete(child);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('no pairing code printed'));
      }, 10_000);
      child.stdout.on('data', (c: string) => {
        stdout += c;
        const m = /pairing code: (\S+)/.exec(stdout);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve({ code: m[1], done, child });
        }
      });
    });
  }
}

const tracked = new Set<ChildProcess>();

export function makeRoot(): string {
  return mkdtempSync(path.join(tmpdir(), 'twinspace-mp-'));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export async function waitUntil(
  cond: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function killAll(peers: readonly CliPeer[]): Promise<void> {
  for (const child of tracked) child.kill('SIGKILL');
  tracked.clear();
  await Promise.all(peers.map((p) => p.kill9()));
}

/**
 * The peers of one suite in a fresh temporary root (the CLI must be built). `add` makes a peer
 * on a free port, not started; `dispose` kills every process and removes the root.
 */
export class PeerGroup {
  readonly peers: CliPeer[] = [];

  private constructor(readonly root: string) {}

  static create(): PeerGroup {
    assert.ok(existsSync(CLI), 'run `npm run build` first');
    return new PeerGroup(makeRoot());
  }

  async add(name: string): Promise<CliPeer> {
    const peer = new CliPeer(name, this.root, await freePort());
    this.peers.push(peer);
    return peer;
  }

  async dispose(): Promise<void> {
    await killAll(this.peers);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Pairs two running peers: `pair --show` on `shower`, `pair --join` from `joiner`; both exit 0. */
export async function pairPeers(
  shower: CliPeer,
  joiner: CliPeer,
): Promise<{
  join: { code: number; stdout: string; stderr: string };
  shown: { code: number; stdout: string; stderr: string };
}> {
  const show = await shower.showPairing();
  const join = joiner.cli(['pair', '--join', shower.address, show.code]);
  assert.equal(join.code, 0, `pair --join failed: ${join.stderr}`);
  const shown = await show.done;
  assert.equal(shown.code, 0, `pair --show failed: ${shown.stderr}`);
  return { join, shown };
}
