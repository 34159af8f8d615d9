/**
 * ControlPanel: the bounded intent queue in front of the Engine, and the supervisor of every
 * background worker (BRIEF §1.1).
 *
 * Queue
 * - `send` waits for space (FIFO among waiters: when a `drain` frees space, waiting sends are
 *   admitted synchronously in the order they called, before any later `send`/`trySend` can take the
 *   space). `queuedAt` and `seq` are taken when the intent actually enters the queue.
 * - `trySend` never waits: false plus a `control_panel.queue.backpressure` diagnostic when full.
 * - `drain` returns everything queued, sorted by `compareQueued` (source priority, queue time,
 *   sequence), and emits `control_panel.queue.depth` when it returned more than capacity/2.
 *
 * Supervision
 * - Each worker has its own AbortController for its whole life (the same signal across restarts)
 *   and a WorkerContext whose send/trySend go to this panel.
 * - A worker that throws or rejects is restarted after jittered exponential backoff (EQUAL jitter,
 *   see Backoff.ts: delay uniformly in [base/2, base], base = min(max, initial * factor^(n-1))).
 *   n is the rounded, decayed count of recent exits, so backoff grows in a crash loop and falls
 *   back to `initialMs` once a worker has been healthy for a while.
 * - Failure accounting is suture-style EXPONENTIAL DECAY (not a sliding window): each failure adds
 *   1 and the count halves every `failureDecayMs` (default: `intensity.windowMs`). When the decayed
 *   count exceeds `intensity.maxFailures` the worker is marked 'failed', ONE Error diagnostic
 *   `control_panel.worker.failed` is emitted, and it is never restarted. With the defaults, six
 *   failures in quick succession fail a worker; one failure every two minutes never does (the
 *   count settles near 1.33).
 * - restart 'on-failure' (default): a normal return means done ('stopped'). 'always': a normal
 *   return is restarted too, with the same backoff (it does not count as a failure). 'never':
 *   'stopped' on return, 'failed' (with the one Error diagnostic) on a throw.
 * - Every status change goes to `onWorkerHealth` listeners and, while the panel is open, into the
 *   queue as a `WorkerHealthChanged` intent (source 'Supervisor') via trySend. If the queue is full,
 *   the latest health of that worker is kept and offered again after the next drain.
 *
 * Shutdown
 * - `shutdown(timeoutMs)` aborts every worker's signal and waits for them, never longer than
 *   `timeoutMs` on the clock. Until the workers are done (or the bound is reached) the queue still
 *   accepts intents, so a worker can flush on abort; then the panel closes: later sends reject with
 *   TwinspaceError('closed') and pending sends are rejected the same way and reported. Queued
 *   intents are reported as leftover and stay in the queue for a final `drain`.
 */
import { TwinspaceError, describeError } from '../core/errors';
import { compareQueued } from '../core/intents';
import type { Intent, IntentSource, QueuedIntent, WorkerStatus } from '../core/intents';
import { Backoff, DecayingCounter } from './Backoff';
import type { BackoffPolicy } from './Backoff';
import { systemClock } from './Clock';
import type { Clock, TimerHandle } from './Clock';
import type { Diagnostics } from './Diagnostics';
import type { WorkerContext, WorkerSpec } from './Worker';

export interface ControlPanelOptions {
  readonly diagnostics: Diagnostics;
  readonly clock?: Clock;
  /** Queue capacity; default 256. */
  readonly capacity?: number;
  /** Randomness for the backoff jitter; default Math.random. */
  readonly random?: () => number;
  /** Restart backoff; default 100 ms initial, 30 s max, factor 2. */
  readonly backoff?: BackoffPolicy;
  /** A worker whose decayed failure count exceeds maxFailures is failed; default 5 in 60 s. */
  readonly intensity?: { readonly maxFailures: number; readonly windowMs: number };
  /** Half-life of the failure count (exponential decay); default `intensity.windowMs`. */
  readonly failureDecayMs?: number;
}

export interface WorkerHealthView {
  readonly name: string;
  readonly status: WorkerStatus;
  /** The decayed failure count at the time of the view (two decimals). */
  readonly failures: number;
  /** Every failure since the worker was started, never decays. */
  readonly totalFailures: number;
  /** How many times the worker has been restarted. */
  readonly restarts: number;
  readonly lastError?: string;
  /** Clock time of the scheduled restart while status is 'backoff'. */
  readonly nextRestartAt?: number;
}

export interface ShutdownReport {
  /** Workers that were running or waiting to restart and stopped within the bound. */
  readonly stopped: string[];
  /** Workers still running when the bound was reached (they ignored their abort signal). */
  readonly timedOut: string[];
  /**
   * Intents not applied by the time shutdown returned, sorted by compareQueued: everything still
   * queued (which `drain()` still returns) plus the intents of pending sends that were rejected.
   */
  readonly leftover: readonly QueuedIntent[];
  /** The part of `leftover` that came from pending sends rejected with 'closed' (not drainable). */
  readonly rejected: readonly QueuedIntent[];
}

export const DEFAULT_CAPACITY = 256;
export const DEFAULT_INTENSITY = Object.freeze({ maxFailures: 5, windowMs: 60_000 });

interface Waiter {
  readonly intent: Intent;
  readonly source: IntentSource;
  readonly expectedVersion: number | undefined;
  readonly requestedAt: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly detach: () => void;
}

interface WorkerRecord {
  readonly spec: WorkerSpec;
  readonly controller: AbortController;
  readonly ctx: WorkerContext;
  readonly failures: DecayingCounter;
  /** Exits that led to a restart (failures, and normal returns of 'always' workers). */
  readonly exits: DecayingCounter;
  status: WorkerStatus;
  totalFailures: number;
  restarts: number;
  lastError: string | undefined;
  nextRestartAt: number | undefined;
  /** The pending restart timer, `undefined` when none. */
  timer: TimerHandle;
  /** Settles (never rejects) when the current run has been handled. */
  running: Promise<void> | undefined;
}

export class ControlPanel {
  readonly capacity: number;

  private readonly diagnostics: Diagnostics;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly maxFailures: number;
  private readonly failureDecayMs: number;

  private queue: QueuedIntent[] = [];
  private readonly waiters: Waiter[] = [];
  private seq = 0;
  private readonly enqueuedListeners = new Set<() => void>();
  private readonly healthListeners = new Set<(h: WorkerHealthView) => void>();
  private readonly workerRecords = new Map<string, WorkerRecord>();
  private readonly pendingHealth = new Map<string, Intent>();
  private closing = false;
  private closed = false;
  private shutdownPromise: Promise<ShutdownReport> | undefined;

  constructor(opts: ControlPanelOptions) {
    this.diagnostics = opts.diagnostics;
    this.clock = opts.clock ?? systemClock;
    const capacity = opts.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TwinspaceError(
        'validation',
        `capacity must be a positive integer, got ${capacity}`,
      );
    }
    this.capacity = capacity;
    this.backoff = new Backoff(opts.backoff, opts.random);
    const intensity = opts.intensity ?? DEFAULT_INTENSITY;
    if (!(intensity.maxFailures >= 0 && intensity.windowMs > 0)) {
      throw new TwinspaceError('validation', 'intensity needs maxFailures >= 0 and windowMs > 0');
    }
    this.maxFailures = intensity.maxFailures;
    this.failureDecayMs = opts.failureDecayMs ?? intensity.windowMs;
    if (!(Number.isFinite(this.failureDecayMs) && this.failureDecayMs > 0)) {
      throw new TwinspaceError(
        'validation',
        `failureDecayMs must be > 0, got ${this.failureDecayMs}`,
      );
    }
  }

  /** How many intents are queued right now (not counting sends still waiting for space). */
  get depth(): number {
    return this.queue.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Queue

  /**
   * Enqueues an intent that must not be lost, waiting for space when the queue is full. Waiters
   * are served FIFO. Rejects with TwinspaceError('closed') once the panel is closed (also when it
   * closes while waiting), or with the signal's reason when aborted before being queued.
   */
  send(
    intent: Intent,
    source: IntentSource,
    opts?: { signal?: AbortSignal; expectedVersion?: number },
  ): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.waiters.length === 0 && this.queue.length < this.capacity) {
      this.enqueue(intent, source, opts?.expectedVersion);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortReason(signal));
      };
      const waiter: Waiter = {
        intent,
        source,
        expectedVersion: opts?.expectedVersion,
        requestedAt: this.clock.now(),
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * Enqueues an advisory intent if there is space. Returns false when the queue is full (with a
   * `control_panel.queue.backpressure` diagnostic; repeats are folded by Diagnostics) or closed.
   */
  trySend(intent: Intent, source: IntentSource, opts?: { expectedVersion?: number }): boolean {
    if (this.closed) return false;
    if (this.waiters.length > 0 || this.queue.length >= this.capacity) {
      this.diagnostics.emit(
        'control_panel.queue.backpressure',
        `intent queue full: dropped ${intent.type} from ${source}`,
        { capacity: this.capacity, type: intent.type, source },
      );
      return false;
    }
    this.enqueue(intent, source, opts?.expectedVersion);
    return true;
  }

  /**
   * Takes everything queued, sorted by compareQueued. Non-blocking. The freed space goes to
   * waiting sends first (FIFO, synchronously, so they are in the queue for the next drain), then
   * to worker health updates that did not fit earlier.
   */
  drain(): QueuedIntent[] {
    const batch = this.queue;
    this.queue = [];
    batch.sort(compareQueued);
    if (batch.length > this.capacity / 2) {
      this.diagnostics.emit(
        'control_panel.queue.depth',
        `drained ${batch.length} intents (capacity ${this.capacity})`,
        { drained: batch.length, capacity: this.capacity },
      );
    }
    this.admitWaiters();
    this.retryPendingHealth();
    return batch;
  }

  /** Called after every enqueue (the Engine schedules a tick). Returns an unsubscribe function. */
  onEnqueued(listener: () => void): () => void {
    this.enqueuedListeners.add(listener);
    return () => {
      this.enqueuedListeners.delete(listener);
    };
  }

  private enqueue(intent: Intent, source: IntentSource, expectedVersion: number | undefined): void {
    this.seq += 1;
    const queued: QueuedIntent = Object.freeze({
      intent,
      source,
      queuedAt: this.clock.now(),
      seq: this.seq,
      ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    });
    this.queue.push(queued);
    for (const listener of [...this.enqueuedListeners]) {
      this.callListener(listener, undefined, 'onEnqueued');
    }
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.queue.length < this.capacity) {
      const waiter = this.waiters.shift();
      if (!waiter) break;
      waiter.detach();
      this.enqueue(waiter.intent, waiter.source, waiter.expectedVersion);
      waiter.resolve();
    }
  }

  private retryPendingHealth(): void {
    if (this.closing || this.closed) {
      this.pendingHealth.clear();
      return;
    }
    for (const [name, intent] of [...this.pendingHealth]) {
      if (this.waiters.length > 0 || this.queue.length >= this.capacity) return;
      this.pendingHealth.delete(name);
      this.enqueue(intent, 'Supervisor', undefined);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Supervision

  /** Starts a supervised worker now. Throws 'validation' on a duplicate name, 'closed' after shutdown. */
  startWorker(spec: WorkerSpec): void {
    if (this.closing || this.closed) {
      throw new TwinspaceError('closed', `cannot start worker "${spec.name}": panel is shut down`);
    }
    if (this.workerRecords.has(spec.name)) {
      throw new TwinspaceError('validation', `a worker named "${spec.name}" already exists`);
    }
    const controller = new AbortController();
    const ctx: WorkerContext = {
      name: spec.name,
      clock: this.clock,
      diagnostics: this.diagnostics,
      send: (intent, source, signal) =>
        this.send(intent, source, signal !== undefined ? { signal } : undefined),
      trySend: (intent, source) => this.trySend(intent, source),
    };
    const record: WorkerRecord = {
      spec,
      controller,
      ctx,
      failures: new DecayingCounter(this.failureDecayMs),
      exits: new DecayingCounter(this.failureDecayMs),
      status: 'starting',
      totalFailures: 0,
      restarts: 0,
      lastError: undefined,
      nextRestartAt: undefined,
      timer: undefined,
      running: undefined,
    };
    this.workerRecords.set(spec.name, record);
    this.diagnostics.emit('control_panel.worker.started', `worker "${spec.name}" started`, {
      worker: spec.name,
      restart: spec.restart ?? 'on-failure',
    });
    this.launch(record);
  }

  /** The health of every worker ever started, in start order. */
  workers(): readonly WorkerHealthView[] {
    return [...this.workerRecords.values()].map((r) => this.view(r));
  }

  /** Called on every worker status change. Returns an unsubscribe function. */
  onWorkerHealth(listener: (h: WorkerHealthView) => void): () => void {
    this.healthListeners.add(listener);
    return () => {
      this.healthListeners.delete(listener);
    };
  }

  private launch(record: WorkerRecord): void {
    record.timer = undefined;
    record.nextRestartAt = undefined;
    this.setStatus(record, 'running');
    let run: Promise<void>;
    try {
      run = Promise.resolve(record.spec.run(record.controller.signal, record.ctx));
    } catch (err) {
      run = Promise.reject(toError(err));
    }
    record.running = run.then(
      () => {
        this.onExit(record, false, undefined);
      },
      (err: unknown) => {
        this.onExit(record, true, err);
      },
    );
  }

  private onExit(record: WorkerRecord, threw: boolean, err: unknown): void {
    record.running = undefined;
    const name = record.spec.name;
    const now = this.clock.now();
    if (threw) {
      record.lastError = describeError(err);
    }
    if (record.controller.signal.aborted || this.closing || this.closed) {
      this.stopped(record, 'shut down');
      return;
    }
    const policy = record.spec.restart ?? 'on-failure';
    if (threw) {
      record.totalFailures += 1;
      record.failures.add(now);
    }
    if (!threw && policy !== 'always') {
      this.stopped(record, 'returned');
      return;
    }
    if (threw && policy === 'never') {
      this.fail(record, `worker "${name}" failed (restart: never): ${record.lastError ?? ''}`);
      return;
    }
    if (threw && record.failures.valueAt(now) > this.maxFailures) {
      this.fail(
        record,
        `worker "${name}" failed more than ${this.maxFailures} times in quick succession, not restarting: ${record.lastError ?? ''}`,
      );
      return;
    }
    const attempt = Math.max(1, Math.round(record.exits.add(now)));
    const delay = this.backoff.delay(attempt);
    record.nextRestartAt = now + delay;
    const reason = threw ? `after failure: ${record.lastError ?? ''}` : 'after it returned';
    record.timer = this.clock.setTimeout(() => {
      record.timer = undefined;
      if (this.closing || this.closed || record.controller.signal.aborted) return;
      record.restarts += 1;
      this.diagnostics.emit(
        'control_panel.worker.restarted',
        `worker "${name}" restarted ${reason}`,
        {
          worker: name,
          restarts: record.restarts,
          delayMs: delay,
          ...(threw ? { error: record.lastError } : {}),
        },
      );
      this.launch(record);
    }, delay);
    this.setStatus(record, 'backoff');
  }

  private stopped(record: WorkerRecord, why: string): void {
    this.diagnostics.emit(
      'control_panel.worker.stopped',
      `worker "${record.spec.name}" stopped (${why})`,
      {
        worker: record.spec.name,
      },
    );
    this.setStatus(record, 'stopped');
  }

  private fail(record: WorkerRecord, message: string): void {
    this.diagnostics.emit('control_panel.worker.failed', message, {
      worker: record.spec.name,
      failures: round2(record.failures.valueAt(this.clock.now())),
      totalFailures: record.totalFailures,
      ...(record.lastError !== undefined ? { error: record.lastError } : {}),
    });
    this.setStatus(record, 'failed');
  }

  private setStatus(record: WorkerRecord, status: WorkerStatus): void {
    record.status = status;
    if (status !== 'backoff') record.nextRestartAt = undefined;
    const view = this.view(record);
    if (!this.closing && !this.closed) {
      const intent: Intent = {
        type: 'WorkerHealthChanged',
        worker: view.name,
        status: view.status,
        failures: view.failures,
        ...(view.lastError !== undefined ? { lastError: view.lastError } : {}),
      };
      const fits = this.waiters.length === 0 && this.queue.length < this.capacity;
      if (fits && !this.pendingHealth.has(view.name)) {
        this.enqueue(intent, 'Supervisor', undefined);
      } else {
        if (!fits) {
          this.diagnostics.emit(
            'control_panel.queue.backpressure',
            `intent queue full: deferred WorkerHealthChanged from Supervisor`,
            { capacity: this.capacity, type: intent.type, source: 'Supervisor' },
          );
        }
        // Only the latest health of a worker matters; it is offered again after the next drain.
        this.pendingHealth.delete(view.name);
        this.pendingHealth.set(view.name, intent);
        if (fits) this.retryPendingHealth();
      }
    }
    for (const listener of [...this.healthListeners]) {
      this.callListener(listener, view, 'onWorkerHealth');
    }
  }

  private view(record: WorkerRecord): WorkerHealthView {
    return Object.freeze({
      name: record.spec.name,
      status: record.status,
      failures: round2(record.failures.valueAt(this.clock.now())),
      totalFailures: record.totalFailures,
      restarts: record.restarts,
      ...(record.lastError !== undefined ? { lastError: record.lastError } : {}),
      ...(record.nextRestartAt !== undefined ? { nextRestartAt: record.nextRestartAt } : {}),
    });
  }

  private callListener<T>(listener: (arg: T) => void, arg: T, kind: string): void {
    try {
      listener(arg);
    } catch (err) {
      this.diagnostics.emit(
        'register.signal_routing.dead_letter',
        `control panel ${kind} listener threw: ${describeError(err)}`,
        { listener: kind },
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Shutdown

  /**
   * Aborts every worker and waits for them, never longer than `timeoutMs` of clock time; then stops
   * accepting intents and rejects pending sends with 'closed'. Queued intents are reported as
   * leftover and stay queued for a final drain. Calling it again returns the same report.
   */
  shutdown(timeoutMs: number): Promise<ShutdownReport> {
    this.shutdownPromise ??= this.runShutdown(Math.max(0, timeoutMs));
    return this.shutdownPromise;
  }

  private async runShutdown(timeoutMs: number): Promise<ShutdownReport> {
    this.closing = true;
    this.pendingHealth.clear();
    const active: WorkerRecord[] = [];
    for (const record of this.workerRecords.values()) {
      if (record.status === 'stopped' || record.status === 'failed') continue;
      active.push(record);
    }
    const reason = new TwinspaceError('closed', 'control panel is shutting down');
    for (const record of active) {
      if (record.timer !== undefined) {
        this.clock.clearTimeout(record.timer);
        record.timer = undefined;
      }
      record.controller.abort(reason);
      if (record.running === undefined && record.status === 'backoff') {
        this.stopped(record, 'shut down while waiting to restart');
      }
    }

    const pending = active.flatMap((r) => (r.running !== undefined ? [r.running] : []));
    if (pending.length > 0) {
      let timer: TimerHandle = undefined;
      const bound = new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.all(pending), bound]);
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }

    this.closed = true;
    const stopped: string[] = [];
    const timedOut: string[] = [];
    for (const record of active) {
      (record.running === undefined ? stopped : timedOut).push(record.spec.name);
    }

    const rejected: QueuedIntent[] = [];
    for (const waiter of this.waiters.splice(0)) {
      waiter.detach();
      this.seq += 1;
      rejected.push(
        Object.freeze({
          intent: waiter.intent,
          source: waiter.source,
          queuedAt: waiter.requestedAt,
          seq: this.seq,
          ...(waiter.expectedVersion !== undefined
            ? { expectedVersion: waiter.expectedVersion }
            : {}),
        }),
      );
      waiter.reject(closedError());
    }
    const leftover = [...this.queue, ...rejected].sort(compareQueued);

    this.diagnostics.emit(
      'control_panel.shutdown',
      `control panel closed: ${stopped.length} workers stopped, ${timedOut.length} timed out, ${this.queue.length} intents still queued`,
      { stopped, timedOut, queued: this.queue.length, rejected: rejected.length },
    );
    // Still-queued intents are not a problem yet (the Engine applies them in a final tick);
    // refused sends and workers that ignored their signal are.
    if (timedOut.length > 0 || rejected.length > 0) {
      this.diagnostics.emit(
        'control_panel.shutdown.leftover',
        `shutdown refused ${rejected.length} pending sends and left ${timedOut.length} workers running`,
        { rejected: rejected.map((q) => q.intent.type), timedOut },
      );
    }
    return { stopped, timedOut, leftover, rejected };
  }
}

function closedError(): TwinspaceError {
  return new TwinspaceError('closed', 'control panel is shut down');
}

/** The signal's reason, as `sleep` in Clock.ts does (AbortController's default is a DOMException). */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason = signal?.reason as Error | undefined;
  return reason ?? new TwinspaceError('closed', 'aborted');
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
