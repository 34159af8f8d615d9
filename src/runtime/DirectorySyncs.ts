import { syncDirectory } from './atomicWriteFile';

/**
 * fsyncs of directories shared by concurrent callers (group commit): a caller's change (a rename,
 * an unlink) is made durable by a sync that starts after the caller asked. While a sync of the
 * same directory runs, later callers join the single next one instead of each starting their own,
 * so sixteen files written side by side into one folder cost two directory syncs, not sixteen.
 */
export class DirectorySyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Promise<void>>();

  constructor(private readonly syncOne: (dir: string) => Promise<void> = syncDirectory) {}

  /** Resolves once a sync of `dir` that started after this call has finished. */
  sync(dir: string): Promise<void> {
    const queued = this.next.get(dir);
    if (queued !== undefined) return queued;
    const running = this.running.get(dir);
    if (running === undefined) return this.start(dir);
    const after = running
      .catch(() => undefined)
      .then(() => {
        this.next.delete(dir);
        return this.start(dir);
      });
    this.next.set(dir, after);
    return after;
  }

  private start(dir: string): Promise<void> {
    const sync = this.syncOne(dir).finally(() => {
      if (this.running.get(dir) === sync) this.running.delete(dir);
    });
    this.running.set(dir, sync);
    return sync;
  }
}
