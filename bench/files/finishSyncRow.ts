/**
 * What the two-peer rows of the file-sync benchmark (Syncthing, Twinspace) do once the initial
 * sync is timed: verify B's tree in full, run the change test, and record peak RSS.
 */
import { measureChange, treeDifference, type BenchContext, type ToolResult } from './BenchContext';
import type { Tracked } from './ProcessTracker';
import type { RssSampler } from './RssSampler';

/** Throws when any of the row's processes has exited (they must serve until the row ends). */
export function assertStillRunning(procs: readonly Tracked[]): void {
  for (const p of procs) {
    if (p.child.exitCode !== null) {
      throw new Error(`${p.label} exited ${p.child.exitCode}: ${p.output().slice(-1500)}`);
    }
  }
}

/**
 * Completes `result` after its initial sync (`result.initialMs` set): a full tree comparison of
 * B against the source (a difference ends the row as an error), the change test (append on A,
 * poll B), then the peak RSS, the process trees and `notes` appended. Returns `result`.
 */
export async function finishSyncRow(
  ctx: BenchContext,
  result: ToolResult,
  folders: { readonly a: string; readonly b: string },
  rss: RssSampler,
  options: { readonly changeTimeoutMs: number; readonly notes?: readonly string[] },
): Promise<ToolResult> {
  const diff = await treeDifference(ctx, folders.b, true);
  result.verified = diff === undefined;
  if (diff !== undefined) {
    result.error = `destination differs from the source: ${diff}`;
    return result;
  }
  const initialMs = result.initialMs ?? Number.NaN;
  ctx.log(`${result.tool}: initial ${initialMs.toFixed(0)} ms, verified; change test`);
  try {
    result.change = await measureChange(ctx, folders.a, folders.b, {
      what: 'append on A, poll B every 2 ms until identical',
      timeoutMs: options.changeTimeoutMs,
    });
  } catch (error) {
    result.error = `change test: ${error instanceof Error ? error.message : String(error)}`;
  }
  rss.sample();
  result.peakRssMb = rss.result();
  const trees = rss.describeTrees();
  if (trees !== undefined) result.notes.push(trees);
  result.notes.push(...(options.notes ?? []));
  result.ok = result.error === undefined;
  return result;
}
