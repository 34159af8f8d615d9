/**
 * Linux network namespaces for multi-host tests: N host namespaces joined by a bridge that lives
 * in its own namespace, so the root namespace gets no interface, route or address.
 *
 *   <prefix>a (veth0 10.77.0.1) --\
 *   <prefix>b (veth0 10.77.0.2) ----[ br0 in <prefix>br ]
 *   <prefix>c (veth0 10.77.0.3) --/
 *
 * Each host has a multicast route (224.0.0.0/4, mDNS needs it) and NO default route: anything
 * aimed outside the test subnet fails locally instead of leaving the machine. The prefix is
 * `tw<pid>-<n>-`, unique per process and instance, so parallel runs never collide; namespaces left
 * behind by a run whose process is gone are removed by `removeStale()`. Needs root and iproute2.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

export const SUBNET_PREFIX = '10.77.0';
const IP_TIMEOUT_MS = 10_000;
const HOST_NAME = /^[a-z][a-z0-9]{0,7}$/;
const OUR_NAMESPACE = /^tw(\d+)-\d+-[a-z0-9]+$/;
let instances = 0;

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ip` with a bounded time; rejects with its stderr on failure. */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: IP_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
        return;
      }
      resolve(stdout);
    });
  });
}

function ipSync(args: readonly string[]): string {
  return execFileSync('ip', [...args], {
    timeout: IP_TIMEOUT_MS,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of every network namespace on the machine. */
export function listNamespaces(): string[] {
  const out = ipSync(['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

function pidsIn(ns: string): number[] {
  try {
    return ipSync(['netns', 'pids', ns])
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Kills what runs in `ns` (processes started there by this harness) and deletes it. */
function deleteNamespaceSync(ns: string): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    ipSync(['netns', 'del', ns]);
  } catch {
    // already gone
  }
}

/**
 * Can this process build namespaces? Root, Linux, iproute2, and a namespace that can really be
 * created (a container without CAP_SYS_ADMIN fails there). Returns the reason when not.
 */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'network namespaces need root (run the netns suite as root)';
  }
  const probe = `tw${process.pid}-0-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], {
    encoding: 'utf8',
    timeout: IP_TIMEOUT_MS,
  });
  if (add.error) return `iproute2 is not usable: ${add.error.message}`;
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe], { timeout: IP_TIMEOUT_MS });
  return undefined;
}

export class Netns {
  /** `tw<pid>-<n>-`: every namespace of this instance starts with it. */
  readonly prefix: string;
  private hosts: string[] = [];
  private readonly onExit = (): void => {
    this.downSync();
  };

  constructor() {
    instances += 1;
    this.prefix = `tw${process.pid}-${instances}-`;
  }

  /**
   * Deletes namespaces of earlier runs whose process is gone (crashed or killed before its
   * teardown). Namespaces of live processes (parallel runs) are left alone.
   */
  static removeStale(): string[] {
    const removed: string[] = [];
    for (const ns of listNamespaces()) {
      const match = OUR_NAMESPACE.exec(ns);
      if (!match) continue;
      const owner = Number(match[1]);
      if (owner === process.pid || isPidAlive(owner)) continue;
      deleteNamespaceSync(ns);
      removed.push(ns);
    }
    return removed;
  }

  get bridgeNamespace(): string {
    return `${this.prefix}br`;
  }

  namespaceOf(host: string): string {
    this.check(host);
    return `${this.prefix}${host}`;
  }

  /** The IPv4 address of `host` on the test bridge. */
  address(host: string): string {
    this.check(host);
    return `${SUBNET_PREFIX}.${this.hosts.indexOf(host) + 1}`;
  }

  get hostNames(): readonly string[] {
    return this.hosts;
  }

  /** Builds the topology. Removes stale namespaces first; tears down on a partial failure. */
  async up(hosts: readonly string[]): Promise<void> {
    if (this.hosts.length > 0) throw new Error('Netns.up: already up');
    if (hosts.length === 0 || hosts.length > 200) throw new Error('Netns.up: 1-200 hosts');
    for (const h of hosts) {
      if (!HOST_NAME.test(h) || h === 'br') {
        throw new Error(`Netns.up: bad host name ${JSON.stringify(h)} (a-z0-9, at most 8)`);
      }
    }
    if (new Set(hosts).size !== hosts.length) throw new Error('Netns.up: duplicate host');
    Netns.removeStale();
    process.once('exit', this.onExit);
    this.hosts = [...hosts];
    const br = this.bridgeNamespace;
    try {
      await ip(['netns', 'add', br]);
      await ip(['-n', br, 'link', 'set', 'lo', 'up']);
      await ip(['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
      // no IGMP querier here: flood all multicast to every port; no STP delay
      await ip(['-n', br, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
      await ip(['-n', br, 'link', 'set', 'br0', 'type', 'bridge', 'stp_state', '0']);
      await ip(['-n', br, 'link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '0']);
      await ip(['-n', br, 'link', 'set', 'br0', 'up']);
      for (const [i, h] of this.hosts.entries()) {
        const ns = this.namespaceOf(h);
        await ip(['netns', 'add', ns]);
        await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
        await ip([
          '-n',
          br,
          'link',
          'add',
          `p-${h}`,
          'type',
          'veth',
          'peer',
          'name',
          'veth0',
          'netns',
          ns,
        ]);
        await ip(['-n', br, 'link', 'set', `p-${h}`, 'master', 'br0', 'up']);
        await ip(['-n', ns, 'link', 'set', 'veth0', 'multicast', 'on', 'up']);
        await ip(['-n', ns, 'addr', 'add', `${SUBNET_PREFIX}.${i + 1}/24`, 'dev', 'veth0']);
        await ip(['-n', ns, 'addr', 'add', `fd77::${i + 1}/64`, 'dev', 'veth0', 'nodad']);
        await ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'veth0']);
      }
    } catch (err) {
      this.downSync();
      throw err;
    }
  }

  /** Kills every process still running in our namespaces, then deletes them. */
  async down(): Promise<void> {
    this.downSync();
    return Promise.resolve();
  }

  /** Synchronous teardown (also run from process 'exit'). */
  downSync(): void {
    process.removeListener('exit', this.onExit);
    const ours = listNamespaces().filter((ns) => ns.startsWith(this.prefix));
    // hosts first, the bridge (which owns the veth ends) last
    ours.sort((a, b) => Number(a === this.bridgeNamespace) - Number(b === this.bridgeNamespace));
    for (const ns of ours) deleteNamespaceSync(ns);
    this.hosts = [];
  }

  /** Takes `host`'s bridge port down: its packets are silently dropped, like a pulled cable. */
  async cutLink(host: string): Promise<void> {
    this.check(host);
    await ip(['-n', this.bridgeNamespace, 'link', 'set', `p-${host}`, 'down']);
  }

  async restoreLink(host: string): Promise<void> {
    this.check(host);
    await ip(['-n', this.bridgeNamespace, 'link', 'set', `p-${host}`, 'up']);
  }

  /** Starts `command` inside `host`'s namespace (`ip netns exec` keeps the same pid). */
  spawn(
    host: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.namespaceOf(host), command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
  }

  /** Runs `command` inside `host`'s namespace to completion, killed after `timeoutMs`. */
  exec(
    host: string,
    command: string,
    args: readonly string[],
    timeoutMs = 10_000,
  ): Promise<ExecResult> {
    return new Promise((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', this.namespaceOf(host), command, ...args],
        { timeout: timeoutMs, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          const e = err as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
          resolve({
            code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
            signal: e?.signal ?? null,
            stdout,
            stderr,
          });
        },
      );
    });
  }

  /** Pids of the processes running in `host`'s namespace. */
  pids(host: string): number[] {
    return pidsIn(this.namespaceOf(host));
  }

  private check(host: string): void {
    if (!this.hosts.includes(host)) throw new Error(`Netns: unknown host ${JSON.stringify(host)}`);
  }
}
