/**
 * Twinspace row of the file-sync benchmark: two headless peers (`node dist/cli.js serve`) on
 * 127.0.0.1, no mDNS, B dialing A. They are paired first with empty folders (as Syncthing's
 * devices are configured before its run), stopped, A's folder is filled with the generated tree,
 * and the initial sync is timed from spawning both peers until `wait-synced --files` on B exits 0
 * and B's tree matches the source. The change test polls B's copy after each append on A.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  copyTree,
  freePort,
  sleep,
  StallDetector,
  treeDifference,
  type BenchContext,
  type ToolResult,
} from './BenchContext';
import { run, type ProcessTracker, type Tracked } from './ProcessTracker';
import { assertStillRunning, finishSyncRow } from './finishSyncRow';
import { RssSampler } from './RssSampler';

export class TwinspaceUnsupportedError extends Error {
  readonly code = 'bench.twinspace_unsupported';
}

interface Peer {
  readonly name: 'A' | 'B';
  readonly folder: string;
  readonly stateDir: string;
  readonly port: number;
}

/** Throws TwinspaceUnsupportedError when this build's CLI cannot wait for file sync. */
export function checkFileSyncSupport(cli: string): void {
  if (!existsSync(cli)) {
    throw new TwinspaceUnsupportedError(
      `Twinspace: ${cli} is missing (build with node esbuild.mjs)`,
    );
  }
  const help = run(process.execPath, [cli, 'help'], 30_000);
  if (!/wait-synced[^\n]*--files/.test(help)) {
    throw new TwinspaceUnsupportedError(
      'Twinspace file sync: wait-synced --files not supported by this build',
    );
  }
}

function startPeer(
  tracker: ProcessTracker,
  cli: string,
  peer: Peer,
  dial: Peer | undefined,
): Tracked {
  return tracker.spawn(`twinspace ${peer.name}`, process.execPath, [
    cli,
    'serve',
    peer.folder,
    '--state-dir',
    peer.stateDir,
    '--port',
    String(peer.port),
    '--no-mdns',
    '--host',
    '127.0.0.1',
    '--name',
    peer.name,
    '--workspace',
    'twinspace-bench',
    ...(dial !== undefined ? ['--peer', `127.0.0.1:${dial.port}`] : []),
  ]);
}

async function waitStarted(peer: Peer, proc: Tracked, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${proc.label} exited ${proc.child.exitCode}: ${proc.output().slice(-1500)}`);
    }
    try {
      const status = JSON.parse(readFileSync(path.join(peer.stateDir, 'status.json'), 'utf8')) as {
        pid?: number;
      };
      if (status.pid === proc.child.pid && existsSync(path.join(peer.stateDir, 'control.sock'))) {
        return;
      }
    } catch {
      // not written yet
    }
    if (performance.now() > deadline) throw new Error(`${proc.label} did not start`);
    await sleep(50);
  }
}

/** Pairs A and B through the CLI (`pair --show` on A, `pair --join` from B). */
async function pair(ctx: BenchContext, cli: string, a: Peer, b: Peer): Promise<void> {
  const show = ctx.tracker.spawn('twinspace pair --show', process.execPath, [
    cli,
    'pair',
    '--show',
    '--state-dir',
    a.stateDir,
    '--timeout-ms',
    '30000',
  ]);
  const deadline = performance.now() + 15_000;
  let code: string | undefined;
  while (code === undefined) {
    code = /pairing code: (\S+)/.exec(show.output())?.[1];
    if (code !== undefined) break;
    if (show.child.exitCode !== null || performance.now() > deadline) {
      throw new Error(`pair --show printed no code: ${show.output().slice(-1000)}`);
    }
    await sleep(20);
  }
  run(
    process.execPath,
    [cli, 'pair', '--join', `127.0.0.1:${a.port}`, code, '--state-dir', b.stateDir],
    30_000,
  );
  const exit = await Promise.race([show.exited, sleep(30_000).then(() => -2)]);
  if (exit !== 0) throw new Error(`pair --show exited ${exit}: ${show.output().slice(-1000)}`);
}

export async function runTwinspace(ctx: BenchContext, cli: string): Promise<ToolResult> {
  const result: ToolResult = { tool: 'twinspace', ok: false, notes: [] };
  try {
    checkFileSyncSupport(cli);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    return result;
  }
  const peer = async (name: 'A' | 'B'): Promise<Peer> => {
    const p = {
      name,
      folder: path.join(ctx.workDir, name),
      stateDir: path.join(ctx.workDir, `state${name}`),
      port: await freePort(),
    };
    mkdirSync(p.folder, { recursive: true });
    return p;
  };
  const a = await peer('A');
  const b = await peer('B');
  const procs: Tracked[] = [];
  const rss = new RssSampler(100);
  try {
    // Pair with empty folders, then stop both.
    ctx.log('twinspace: pairing');
    const pa = startPeer(ctx.tracker, cli, a, undefined);
    const pb = startPeer(ctx.tracker, cli, b, a);
    procs.push(pa, pb);
    await waitStarted(a, pa);
    await waitStarted(b, pb);
    await pair(ctx, cli, a, b);
    await ctx.tracker.stop(pa);
    await ctx.tracker.stop(pb);
    procs.length = 0;

    copyTree(ctx.sourceRoot, a.folder);
    ctx.log('twinspace: initial sync');
    const t0 = performance.now();
    const sa = startPeer(ctx.tracker, cli, a, undefined);
    const sb = startPeer(ctx.tracker, cli, b, a);
    procs.push(sa, sb);
    rss.add('A', sa.child.pid);
    rss.add('B', sb.child.pid);
    rss.start();
    const deadline = t0 + ctx.initialTimeoutMs;
    const stall = new StallDetector(b.folder, ctx.stallMs, ctx.sourceListing.length);
    let lastReason = '';
    for (;;) {
      assertStillRunning(procs);
      // Bounded waits, so that a stalled sync is noticed between them.
      const left = Math.max(1_000, Math.min(15_000, Math.round(deadline - performance.now())));
      const wait = ctx.tracker.spawn('twinspace wait-synced', process.execPath, [
        cli,
        'wait-synced',
        '--files',
        '--state-dir',
        b.stateDir,
        '--timeout-ms',
        String(left),
      ]);
      const killer = setTimeout(() => wait.child.kill('SIGKILL'), left + 10_000);
      const code = await wait.exited;
      clearTimeout(killer);
      const at = performance.now();
      if (code === 0) {
        const diff = await treeDifference(ctx, b.folder, false);
        if (diff === undefined) {
          result.initialMs = at - t0;
          break;
        }
        lastReason = `wait-synced said synced, but ${diff}`;
      } else {
        lastReason = `wait-synced exited ${code}: ${wait.output().slice(-800)}`;
      }
      if (performance.now() > deadline) {
        throw new Error(`not synced within ${ctx.initialTimeoutMs} ms: ${lastReason}`);
      }
      const stalled = await stall.check();
      if (stalled !== undefined) throw new Error(`${stalled}; ${lastReason}`);
      await sleep(code === 0 ? 100 : 0);
    }
    return await finishSyncRow(ctx, result, { a: a.folder, b: b.folder }, rss, {
      changeTimeoutMs: 30_000,
      notes: ['initial sync includes node start-up of wait-synced (polls every 100 ms)'],
    });
  } catch (error) {
    // The peers' own words (diagnostics on stderr) make a failed row actionable.
    const tails = procs
      .map((p) => `--- ${p.label}, last output:\n${p.output().slice(-1500).trimEnd()}`)
      .join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`, {
      cause: error,
    });
  } finally {
    rss.stop();
    await Promise.all(procs.map((p) => ctx.tracker.stop(p)));
  }
}
