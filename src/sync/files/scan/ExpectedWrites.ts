/**
 * Our own writes, so they do not come back as local changes: before the orchestrator writes (or
 * deletes) a file it registers the (path, hash) it is about to produce; when the watcher and the
 * rescan then report that very state, it is recognised as an echo and dropped. Anything else at
 * that path (the user saved something different meanwhile) is a real change.
 *
 * Expectations are short-lived (`ttlMs`, default 10 s) and consumed on match; a match also drops
 * the older expectations of the same path (later writes superseded them).
 */
import type { Clock } from '../../../runtime/Clock';
import type { ScanDelta, ScanEntry } from './scanFolder';

interface Expectation {
  /** Content hash, or null for a deletion. */
  readonly hash: string | null;
  readonly expiresAt: number;
}

export class ExpectedWrites {
  private readonly byPath = new Map<string, Expectation[]>();
  /**
   * Every expectation's path and expiry, oldest first (the ttl is fixed, so expiries come in
   * order): prune pops the expired head instead of walking every path at each write.
   */
  private readonly expiries: { readonly path: string; readonly expiresAt: number }[] = [];
  private expiriesHead = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 10_000,
  ) {}

  /** Paths with expectations still pending (expired ones included until the next prune). */
  get size(): number {
    return this.byPath.size;
  }

  /** Registers that we are about to write `hash` to `path` (null: about to delete it). */
  expect(path: string, hash: string | null): void {
    this.prune();
    const list = this.byPath.get(path) ?? [];
    const expiresAt = this.clock.now() + this.ttlMs;
    list.push({ hash, expiresAt });
    this.byPath.set(path, list);
    this.expiries.push({ path, expiresAt });
  }

  /** Withdraws an expectation (the write failed or was not done). */
  cancel(path: string, hash: string | null): void {
    const list = this.byPath.get(path);
    if (!list) return;
    const i = list.findIndex((e) => e.hash === hash);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPath.delete(path);
  }

  /**
   * Whether `path` now holding `hash` (null: absent) is the echo of one of our writes. A match
   * is consumed, with the older expectations of that path.
   */
  isEcho(path: string, hash: string | null): boolean {
    const list = this.byPath.get(path);
    if (!list) return false;
    const now = this.clock.now();
    const i = list.findIndex((e) => e.hash === hash && e.expiresAt > now);
    if (i < 0) return false;
    list.splice(0, i + 1);
    if (list.length === 0) this.byPath.delete(path);
    return true;
  }

  /** `delta` without the changes that are echoes of our writes. */
  filter(delta: ScanDelta): ScanDelta {
    const upserted: ScanEntry[] = delta.upserted.filter((e) => !this.isEcho(e.path, e.hash));
    const removed = delta.removed.filter((p) => !this.isEcho(p, null));
    return { ...delta, upserted, removed };
  }

  /** Forgets expired expectations. */
  prune(): void {
    const now = this.clock.now();
    while (this.expiriesHead < this.expiries.length) {
      const next = this.expiries[this.expiriesHead];
      if (next === undefined || next.expiresAt > now) break;
      this.expiriesHead += 1;
      const list = this.byPath.get(next.path);
      if (list === undefined) continue;
      const live = list.filter((e) => e.expiresAt > now);
      if (live.length === 0) this.byPath.delete(next.path);
      else if (live.length !== list.length) this.byPath.set(next.path, live);
    }
    // Drop the popped head once it is most of the array.
    if (this.expiriesHead > 1024 && this.expiriesHead * 2 > this.expiries.length) {
      this.expiries.splice(0, this.expiriesHead);
      this.expiriesHead = 0;
    }
  }
}
