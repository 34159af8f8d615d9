/**
 * A watch-style channel (like tokio::sync::watch): one current value, readable at any time, that
 * a writer replaces and readers wait on. Readers see only the latest value, never a backlog; the
 * `version` counter tells a reader whether it missed changes in between.
 */
import { describeError, TwinspaceError } from '../core/errors';

export interface WatchChannelOptions<T> {
  /** When `set` counts as a change. Default: Object.is. */
  readonly equals?: (a: T, b: T) => boolean;
  /**
   * Called with an error thrown by a subscribe() callback. The other callbacks and waiters are
   * still notified. Default: the first such error is rethrown from `set` after everyone has been
   * notified (the new value is kept either way).
   */
  readonly onSubscriberError?: (error: unknown) => void;
}

export type WatchListener<T> = (value: T, version: number) => void;

interface Waiter<T> {
  resolve(value: T): void;
  reject(reason: Error): void;
}

export class WatchChannel<T> {
  private current: T;
  private versionCounter = 0;
  private closedFlag = false;
  private readonly equals: (a: T, b: T) => boolean;
  private readonly onSubscriberError: ((error: unknown) => void) | undefined;
  private readonly listeners = new Set<WatchListener<T>>();
  private readonly waiters = new Set<Waiter<T>>();

  constructor(initial: T, options: WatchChannelOptions<T> = {}) {
    this.current = initial;
    this.equals = options.equals ?? Object.is;
    this.onSubscriberError = options.onSubscriberError;
  }

  /** Starts at 0 and goes up by one on every change. */
  get version(): number {
    return this.versionCounter;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get(): T {
    return this.current;
  }

  /**
   * Replaces the value. Only a change (by `equals`) bumps the version and notifies subscribers
   * and waiters; returns whether it was one. Throws 'closed' after close().
   */
  set(value: T): boolean {
    if (this.closedFlag) throw new TwinspaceError('closed', 'watch channel is closed');
    if (this.equals(this.current, value)) return false;
    this.current = value;
    this.versionCounter += 1;
    const version = this.versionCounter;

    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.resolve(value);

    let firstError: { error: unknown } | undefined;
    for (const listener of [...this.listeners]) {
      try {
        listener(value, version);
      } catch (error) {
        if (this.onSubscriberError) this.onSubscriberError(error);
        else firstError ??= { error };
      }
    }
    if (firstError) throw firstError.error;
    return true;
  }

  /** Resolves with the value of the next change after this call; rejects on abort or close. */
  changed(signal?: AbortSignal): Promise<T> {
    return this.changedSince(this.versionCounter, signal);
  }

  /**
   * Resolves with the current value at once if the version has moved past `version` (the reader
   * missed a change), else at the next change. Rejects with the signal's reason on abort, and
   * with a 'closed' TwinspaceError once the channel is closed.
   */
  changedSince(version: number, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.versionCounter > version) return Promise.resolve(this.current);
    if (this.closedFlag) {
      return Promise.reject(new TwinspaceError('closed', 'watch channel is closed'));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(waiter);
        reject(abortReason(signal));
      };
      const waiter: Waiter<T> = {
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (reason) => {
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Calls `fn(value, version)` on every change (not with the current value). */
  subscribe(fn: WatchListener<T>): () => void {
    // A wrapper so the same function subscribed twice gets two independent subscriptions.
    const entry: WatchListener<T> = (value, version) => {
      fn(value, version);
    };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Rejects pending waiters with 'closed', drops subscribers; `get` keeps working. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const waiters = [...this.waiters];
    this.waiters.clear();
    this.listeners.clear();
    for (const waiter of waiters) {
      waiter.reject(new TwinspaceError('closed', 'watch channel is closed'));
    }
  }
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(reason === undefined ? 'aborted' : describeError(reason));
  error.name = 'AbortError';
  return error;
}
