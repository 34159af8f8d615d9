/**
 * Every child process the file-sync benchmark starts, so that all of them are killed on exit,
 * on Ctrl-C and on errors. Also: bounded synchronous commands and graceful stops.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Tracked {
  readonly child: ChildProcess;
  readonly label: string;
  /** The last 64 KB of stdout + stderr, for error messages. */
  output(): string;
  /** Resolves with the exit code (or -1 for a signal) when the process ends. */
  readonly exited: Promise<number>;
}

export class ProcessTracker {
  private readonly live = new Set<ChildProcess>();
  private hooked = false;

  /**
   * Kills every tracked child (and its descendants) on process exit and on SIGINT/SIGTERM/SIGHUP;
   * `cleanup` runs after the kill on a signal (e.g. removing the run's temp dir).
   */
  installExitHooks(cleanup: () => void = () => undefined): void {
    if (this.hooked) return;
    this.hooked = true;
    process.on('exit', () => {
      this.killAllNow();
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        process.stderr.write(`\nbench: ${signal}, killing ${this.live.size} child process(es)\n`);
        this.killAllNow();
        try {
          cleanup();
        } finally {
          process.exit(130);
        }
      });
    }
  }

  spawn(
    label: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): Tracked {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.live.add(child);
    let out = '';
    const keep = (chunk: Buffer): void => {
      out = (out + chunk.toString('utf8')).slice(-65_536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number>((resolve) => {
      child.once('error', (error) => {
        keep(Buffer.from(`spawn error: ${error.message}\n`));
        this.live.delete(child);
        resolve(-1);
      });
      child.once('exit', (code) => {
        this.live.delete(child);
        resolve(code ?? -1);
      });
    });
    return { child, label, output: () => out, exited };
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Descendants it leaves
   * behind (e.g. Syncthing's monitor's child) are killed too.
   */
  async stop(tracked: Tracked, graceMs = 5_000): Promise<void> {
    const { child } = tracked;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const tree = processTree(child.pid).filter((p) => p !== child.pid);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await tracked.exited;
    clearTimeout(timer);
    killPids(tree);
  }

  /** SIGKILL to every tracked child and its descendants, now. */
  killAllNow(): void {
    for (const child of this.live) {
      const tree = child.pid !== undefined ? processTree(child.pid) : [];
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
      killPids(tree);
    }
    this.live.clear();
  }

  get count(): number {
    return this.live.size;
  }
}

/** A bounded synchronous command; throws with its output when it fails. */
export function run(
  command: string,
  args: readonly string[],
  timeoutMs = 120_000,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  if (r.error !== undefined) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr + r.stdout).slice(-2000)}`,
    );
  }
  return r.stdout;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...; comm may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    return Number.isFinite(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** `root` and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined) break;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
