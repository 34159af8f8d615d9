/**
 * rsync row of the file-sync benchmark: `rsync -a --exclude node_modules A/ B/` as a local copy
 * (initial sync into an empty B), then the change test as "append on A, re-run rsync, B's copy
 * is identical". Peak RSS from GNU time's %M (the largest of rsync's processes), when
 * /usr/bin/time exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  copyTree,
  measureChange,
  treeDifference,
  type BenchContext,
  type ToolResult,
} from './BenchContext';

const RSYNC = '/usr/bin/rsync';
const TIME = '/usr/bin/time';

export async function runRsync(ctx: BenchContext): Promise<ToolResult> {
  const result: ToolResult = { tool: 'rsync', ok: false, notes: [] };
  if (!existsSync(RSYNC)) {
    result.error = 'rsync is not installed (run scripts/setup-bench.sh)';
    return result;
  }
  const a = path.join(ctx.workDir, 'A');
  const b = path.join(ctx.workDir, 'B');
  copyTree(ctx.sourceRoot, a);
  const haveTime = existsSync(TIME);
  const rssFile = path.join(ctx.workDir, 'rsync-maxrss.txt');
  let peakKb = 0;

  const once = async (timeoutMs: number): Promise<number> => {
    const args = ['-a', '--exclude', 'node_modules', `${a}/`, `${b}/`];
    const t0 = performance.now();
    const proc = haveTime
      ? ctx.tracker.spawn('rsync', TIME, ['-f', '%M', '-o', rssFile, RSYNC, ...args])
      : ctx.tracker.spawn('rsync', RSYNC, args);
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
    const code = await proc.exited;
    const ms = performance.now() - t0;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`rsync exited ${code}: ${proc.output().slice(-1000)}`);
    if (haveTime) {
      const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      if (Number.isFinite(kb)) peakKb = Math.max(peakKb, kb);
    }
    return ms;
  };

  ctx.log('rsync: initial copy');
  result.initialMs = await once(ctx.initialTimeoutMs);
  const diff = await treeDifference(ctx, b, true);
  result.verified = diff === undefined;
  if (diff !== undefined) {
    result.error = `destination differs from the source: ${diff}`;
    return result;
  }
  ctx.log(`rsync: initial ${result.initialMs.toFixed(0)} ms, verified; change test`);
  try {
    result.change = await measureChange(ctx, a, b, {
      what: 'append, re-run rsync -a, identical',
      timeoutMs: 60_000,
      propagate: async () => {
        await once(60_000);
      },
    });
  } catch (error) {
    result.error = `change test: ${error instanceof Error ? error.message : String(error)}`;
  }
  result.peakRssMb = haveTime ? { rsync: peakKb / 1024 } : {};
  if (!haveTime) result.notes.push('no /usr/bin/time: peak RSS not measured');
  result.ok = result.error === undefined;
  return result;
}
