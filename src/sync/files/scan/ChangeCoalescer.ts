/**
 * Coalesces bursts of changed paths into batches: a batch is flushed once no new path arrived for
 * `debounceMs`, or at the latest `maxDelayMs` after its first path (so a file written
 * continuously still shows up). Duplicate paths collapse; a batch is sorted. Past `maxPaths`
 * distinct paths the batch is flagged `overflow` (the consumer should rescan everything) and no
 * more paths are kept.
 */
import type { Clock, TimerHandle } from '../../../runtime/Clock';

export interface ChangeBatch {
  /** Folder-relative paths, sorted, without duplicates. */
  readonly paths: readonly string[];
  /** More than `maxPaths` changed, or the source lost events: rescan the whole folder. */
  readonly overflow: boolean;
}

export interface ChangeCoalescerOptions {
  readonly clock: Clock;
  /** Quiet time that ends a batch. Default 50 ms. */
  readonly debounceMs?: number;
  /** Longest time a path waits. Default 500 ms. */
  readonly maxDelayMs?: number;
  /** Most distinct paths kept in one batch. Default 10,000. */
  readonly maxPaths?: number;
  readonly onBatch: (batch: ChangeBatch) => void;
}

export class ChangeCoalescer {
  private readonly paths = new Set<string>();
  private overflow = false;
  private firstAt: number | undefined;
  private timer: { readonly handle: TimerHandle } | undefined;
  private closed = false;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly maxPaths: number;

  constructor(private readonly options: ChangeCoalescerOptions) {
    this.debounceMs = options.debounceMs ?? 50;
    this.maxDelayMs = Math.max(this.debounceMs, options.maxDelayMs ?? 500);
    this.maxPaths = options.maxPaths ?? 10_000;
  }

  /** Paths waiting in the current batch. */
  get pending(): number {
    return this.paths.size;
  }

  add(path: string): void {
    if (this.closed) return;
    if (!this.overflow) {
      if (this.paths.size >= this.maxPaths && !this.paths.has(path)) {
        this.overflow = true;
        this.paths.clear();
      } else {
        this.paths.add(path);
      }
    }
    this.arm();
  }

  /** Flags the batch for a full rescan (the event source lost events). */
  markOverflow(): void {
    if (this.closed) return;
    this.overflow = true;
    this.paths.clear();
    this.arm();
  }

  /** Emits the current batch now, if any. */
  flush(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
    this.firstAt = undefined;
    if (this.paths.size === 0 && !this.overflow) return;
    const batch: ChangeBatch = { paths: [...this.paths].sort(), overflow: this.overflow };
    this.paths.clear();
    this.overflow = false;
    this.options.onBatch(batch);
  }

  /** Drops what is pending and stops. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
    this.paths.clear();
  }

  private arm(): void {
    const now = this.options.clock.now();
    this.firstAt ??= now;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer.handle);
    const wait = Math.min(this.debounceMs, this.firstAt + this.maxDelayMs - now);
    const handle = this.options.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.flush();
      },
      Math.max(0, wait),
    );
    this.timer = { handle };
  }
}
