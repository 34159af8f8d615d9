/**
 * What every tool runner of the file-sync benchmark gets (the generated tree, its digest, the
 * process tracker) and what it returns, plus the helpers they share: copying the source tree,
 * waiting for a verified destination, and the append-then-poll change sample.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRandom } from './generateWorkspace';
import { run, type ProcessTracker } from './ProcessTracker';
import {
  compareDigests,
  describeDifference,
  digestTree,
  listTree,
  sameListing,
  type TreeDigest,
  type TreeEntry,
} from './treeDigest';

export interface BenchContext {
  /** A fresh folder for this tool (under the run's temp dir). */
  readonly workDir: string;
  /** The pristine generated tree (never modified; copy it). */
  readonly sourceRoot: string;
  readonly sourceDigest: TreeDigest;
  readonly sourceListing: readonly TreeEntry[];
  /** Relative paths of the generated text files (for the change test). */
  readonly textFiles: readonly string[];
  readonly samples: number;
  readonly seed: number;
  /** Upper bound for one initial sync. */
  readonly initialTimeoutMs: number;
  /** An initial sync whose destination gains no file and no byte for this long has stalled. */
  readonly stallMs: number;
  readonly tracker: ProcessTracker;
  readonly log: (line: string) => void;
}

export interface ChangeResult {
  readonly samplesMs: readonly number[];
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** What one sample measures. */
  readonly what: string;
}

export interface ToolResult {
  readonly tool: string;
  ok: boolean;
  error?: string;
  initialMs?: number;
  /** The destination's tree digest equals the source's after the initial sync. */
  verified?: boolean;
  change?: ChangeResult;
  /** Process label → peak RSS (MiB). */
  peakRssMb?: Record<string, number>;
  notes: string[];
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? NaN;
}

export function summarize(samplesMs: readonly number[], what: string): ChangeResult {
  return { samplesMs, p50Ms: percentile(samplesMs, 50), p95Ms: percentile(samplesMs, 95), what };
}

/**
 * `cp -a source/. dest/` (dest is created), then `sync`: the copy's write-back (and the previous
 * tool's) is done before the next timed run starts, whichever tool comes first. Not timed.
 */
export function copyTree(source: string, dest: string): void {
  run('mkdir', ['-p', dest]);
  run('cp', ['-a', `${source}/.`, dest], 600_000);
  run('sync', [], 600_000);
}

export function freePort(): Promise<number> {
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Compares `dest` with the source: a cheap listing first (paths and sizes), then a full digest.
 * Returns undefined when identical, else a description of the difference.
 */
export async function treeDifference(
  ctx: BenchContext,
  dest: string,
  full: boolean,
): Promise<string | undefined> {
  const listing = await listTree(dest);
  if (!sameListing(listing, ctx.sourceListing)) {
    const have = new Set(listing.map((e) => e.path));
    const missing = ctx.sourceListing.filter((e) => !have.has(e.path)).map((e) => e.path);
    const source = new Set(ctx.sourceListing.map((e) => e.path));
    const extra = listing.filter((e) => !source.has(e.path)).map((e) => e.path);
    const few = (xs: string[]): string => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ', …' : '');
    return (
      `listing differs: ${listing.length} files (source ${ctx.sourceListing.length}); ` +
      `${missing.length} missing (${few(missing)}); ${extra.length} extra (${few(extra)})`
    );
  }
  if (!full) return undefined;
  const d = compareDigests(ctx.sourceDigest, await digestTree(dest));
  return d.identical ? undefined : describeDifference(d);
}

/**
 * The change test: `samples` times, append a line to a random text file in `aRoot`, then run
 * `propagate` (for rsync: the re-run; for live tools nothing) and poll `bRoot`'s copy every
 * `pollMs` until it equals A's. Returns the times from just before the append to equality.
 */
export async function measureChange(
  ctx: BenchContext,
  aRoot: string,
  bRoot: string,
  options: {
    what: string;
    timeoutMs: number;
    pollMs?: number;
    gapMs?: number;
    propagate?: () => Promise<void>;
  },
): Promise<ChangeResult> {
  const rng = new SeededRandom(ctx.seed ^ 0x5eed);
  const samples: number[] = [];
  const pollMs = options.pollMs ?? 2;
  for (let i = 0; i < ctx.samples; i++) {
    const rel = rng.pick(ctx.textFiles);
    const line = `change ${i} ${rng.next().toString(36).slice(2)}\n`;
    const aFile = path.join(aRoot, rel);
    const bFile = path.join(bRoot, rel);
    const t0 = performance.now();
    await appendFile(aFile, line);
    const expected = await readFile(aFile);
    if (options.propagate !== undefined) await options.propagate();
    const deadline = t0 + options.timeoutMs;
    for (;;) {
      const got = await readFile(bFile).catch(() => undefined);
      if (got?.equals(expected) === true) break;
      if (performance.now() > deadline) {
        throw new Error(
          `change sample ${i}: ${rel} not identical on B after ${options.timeoutMs} ms ` +
            `(B has ${got?.length ?? 'no'} bytes, A ${expected.length})`,
        );
      }
      await sleep(pollMs);
    }
    samples.push(performance.now() - t0);
    if (options.gapMs !== undefined) await sleep(options.gapMs);
  }
  return summarize(samples, options.what);
}

/**
 * Notices an initial sync whose destination stopped growing: `check()` (cheap when called often:
 * it lists the tree at most every `everyMs`) returns a description once the file count and byte
 * total have not changed for `stallMs`, else undefined.
 */
export class StallDetector {
  private last = '';
  private readonly startedAt = performance.now();
  private lastChangeAt = this.startedAt;
  private lastCheckAt = 0;

  constructor(
    private readonly dest: string,
    private readonly stallMs: number,
    private readonly expected: number,
    private readonly everyMs = 10_000,
  ) {}

  async check(): Promise<string | undefined> {
    const now = performance.now();
    if (now - this.lastCheckAt < this.everyMs) return undefined;
    this.lastCheckAt = now;
    const listing = await listTree(this.dest).catch(() => []);
    const bytes = listing.reduce((sum, e) => sum + e.size, 0);
    const key = `${listing.length}/${bytes}`;
    if (key !== this.last) {
      this.last = key;
      this.lastChangeAt = now;
      return undefined;
    }
    if (now - this.lastChangeAt <= this.stallMs) return undefined;
    return (
      `stalled: the destination has had ${listing.length} of ${this.expected} files ` +
      `(${(bytes / 1e6).toFixed(1)} MB) for ${((now - this.lastChangeAt) / 1000).toFixed(0)} s ` +
      `(last growth seen ${((this.lastChangeAt - this.startedAt) / 1000).toFixed(0)} s after the start, ` +
      `checked every ${(this.everyMs / 1000).toFixed(0)} s)`
    );
  }
}
