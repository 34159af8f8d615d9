/**
 * The Engine: the single writer (BRIEF §1.1). Each tick it drains the intent queue, applies the
 * batch synchronously and deterministically, appends what changed to the WAL, bumps the state
 * `version` (once per tick that changed anything), publishes a deeply frozen snapshot to
 * observers, and then executes the effects. The WAL group commit runs asynchronously after the
 * publish; `flush()` awaits durability.
 *
 * Replicated state lives in the workspace Y.Doc (src/core/workspaceDoc.ts) and the Engine is the
 * only code that mutates it:
 *  - local replicated intents (VisitNode, PinNode, IndexFile) are applied with origin
 *    `LOCAL_ORIGIN`;
 *  - `RemoteUpdateReceived` is applied with the peer id (a string) as origin;
 *  - consecutive replicated intents with the same origin share one Yjs transaction, so a tick
 *    yields one Yjs update per run of same-origin intents. Every update becomes one WAL record and
 *    one `BroadcastUpdate` effect; an update whose origin is a peer carries `exceptPeer` = that
 *    peer, so nothing is ever echoed back to where it came from.
 * Local-only intents go through the pure `reduce()`; when one changes the local state, it is
 * appended to the WAL as a local-intent record (for RemoteUpdateReceived, whose bytes are already
 * in the WAL as the resulting Yjs update, the record carries an empty update) so replay rebuilds the
 * same local state.
 *
 * Results: `tick()` returns a TickResult ({version, changed, drained, applied, rejected[], effects})
 * and the same object goes to `onTick` listeners, which is how auto-ticks report. Every rejection
 * also emits an `engine.intent.rejected` diagnostic. A command carrying `expectedVersion` that does
 * not match the state version at the start of its tick is rejected with `version_conflict`.
 *
 * Yjs client ids: every Engine takes a fresh `Y.Doc` (random clientID) and replays the WAL into it;
 * a clientID is never persisted or reused. If the WAL lost its tail in a crash, a reused id would
 * restart that client's clock below updates peers already hold and the replicas would silently
 * diverge.
 *
 * Auto-ticking: the queue's `onEnqueued` schedules one tick (coalesced) with `setImmediate`, so
 * producers running in the same event-loop turn land in the same batch.
 *
 * Compaction: after a tick's records are appended, if the WAL says its segment is past the
 * threshold, the Engine hands it a snapshot taken right there (Y.encodeStateAsUpdate + the local
 * state + version), so the snapshot covers exactly the records appended so far. The encoding is
 * synchronous (on the main thread, after the publish); the file work is asynchronous.
 *
 * Failures: a WAL write/fsync failure is reported once on `engine.wal.corrupt` (there is no
 * dedicated channel yet) and makes `flush()`/`close()` reject; the Engine keeps applying intents
 * in memory. A throwing observer, tick listener or effect is reported on `engine.effect.failed`.
 */
import * as Y from 'yjs';
import type { Effect } from '../core/effects';
import { TwinspaceError, describeError } from '../core/errors';
import type { ResultCode } from '../core/errors';
import { isReplicatedIntent } from '../core/intents';
import type { Intent, IntentType, QueuedIntent } from '../core/intents';
import { reduce } from '../core/reduce';
import { deepFreeze, initialState } from '../core/state';
import type { RegisterState } from '../core/state';
import {
  applyReplicatedIntent,
  fileIndex,
  parseFileEntry,
  summarize,
  trackSummary,
  workspaceDocToJSON,
} from '../core/workspaceDoc';
import type { FileEntry, SummaryTracker } from '../core/workspaceDoc';
import type { Clock } from './Clock';
import type { Diagnostics } from './Diagnostics';
import type { Wal, WalEntry } from './Wal';

/** What the Engine needs from the ControlPanel (and what tests fake). */
export interface IntentSourceQueue {
  /** Everything queued, in the deterministic drain order. Non-blocking. */
  drain(): QueuedIntent[];
  /** Called after every enqueue; returns the unsubscribe function. */
  onEnqueued(listener: () => void): () => void;
}

/** Yjs transaction origin of local changes. Remote changes use the peer id (a string). */
export const LOCAL_ORIGIN: unique symbol = Symbol('twinspace.local');
/** Yjs transaction origin used while replaying the WAL at open. */
export const REPLAY_ORIGIN: unique symbol = Symbol('twinspace.replay');

export interface IntentRejected {
  readonly seq: number;
  readonly type: IntentType;
  readonly code: ResultCode;
  readonly message: string;
}

export interface TickResult {
  /** State version after the tick. */
  readonly version: number;
  /** Whether the tick changed anything (and so bumped the version and published). */
  readonly changed: boolean;
  /** Intents drained from the queue. */
  readonly drained: number;
  /** Intents applied (drained minus rejected). */
  readonly applied: number;
  readonly rejected: readonly IntentRejected[];
  /** Effects produced, in the order they are executed. */
  readonly effects: readonly Effect[];
}

export interface EngineOptions {
  readonly queue: IntentSourceQueue;
  /** An opened WAL whose replay has not been taken yet. The Engine owns and closes it. */
  readonly wal: Wal;
  readonly diagnostics: Diagnostics;
  readonly clock: Clock;
  /** Executes effects after each publish. Failures become `engine.effect.failed`. */
  readonly runEffect?: (effect: Effect) => Promise<void> | void;
  /** Tick automatically when the queue signals (default true). */
  readonly autoTick?: boolean;
  /** How an auto-tick is scheduled (default `setImmediate`). */
  readonly schedule?: (run: () => void) => void;
}

type Origin = typeof LOCAL_ORIGIN | string;

/** What a tick accumulates while applying its batch. */
interface TickScratch {
  readonly rejected: IntentRejected[];
  readonly effects: Effect[];
  readonly entries: WalEntry[];
}

function originOf(intent: Intent): Origin {
  return intent.type === 'RemoteUpdateReceived' ? intent.peerId : LOCAL_ORIGIN;
}

const EMPTY_UPDATE = new Uint8Array(0);

export class Engine {
  private readonly queue: IntentSourceQueue;
  private readonly wal: Wal;
  private readonly diagnostics: Diagnostics;
  private readonly clock: Clock;
  private readonly runEffect: ((effect: Effect) => Promise<void> | void) | undefined;
  private readonly autoTick: boolean;
  private readonly schedule: (run: () => void) => void;
  private readonly doc: Y.Doc;
  private readonly replica: SummaryTracker;

  private state: RegisterState;
  private readonly observers = new Set<(state: RegisterState) => void>();
  private readonly tickListeners = new Set<(result: TickResult) => void>();
  private captured: { update: Uint8Array; origin: unknown }[] = [];
  private applying = false;
  private ticking = false;
  private foreignTransactions = 0;
  private scheduled = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private walFailure: unknown = undefined;
  private readonly unsubscribeQueue: () => void;
  private readonly onUpdate = (update: Uint8Array, origin: unknown): void => {
    this.captured.push({ update, origin });
  };

  private constructor(options: EngineOptions, doc: Y.Doc, state: RegisterState) {
    this.queue = options.queue;
    this.wal = options.wal;
    this.diagnostics = options.diagnostics;
    this.clock = options.clock;
    this.runEffect = options.runEffect;
    this.autoTick = options.autoTick ?? true;
    this.schedule = options.schedule ?? ((run) => setImmediate(run));
    this.doc = doc;
    this.state = state;
    this.replica = trackSummary(doc);
    doc.on('beforeTransaction', () => {
      if (!this.applying) this.foreignTransactions += 1;
    });
    doc.on('update', this.onUpdate);
    this.unsubscribeQueue = this.queue.onEnqueued(() => {
      this.scheduleTick();
    });
  }

  /**
   * Replays the WAL (snapshot, then records) into a fresh Y.Doc with a fresh clientID and the
   * local state, then starts listening to the queue (and ticks once if intents are waiting).
   */
  static async open(options: EngineOptions): Promise<Engine> {
    try {
      return Engine.replay(options);
    } catch (error) {
      await options.wal.close();
      throw error;
    }
  }

  private static replay(options: EngineOptions): Engine {
    const replay = options.wal.takeReplay();
    const doc = new Y.Doc();
    let state = initialState();
    let version = 0;
    if (replay.snapshot) {
      Y.applyUpdate(doc, replay.snapshot.ydoc, REPLAY_ORIGIN);
      state = replay.snapshot.localState as RegisterState;
      version = replay.snapshot.version;
    }
    for (const [index, record] of replay.records.entries()) {
      try {
        switch (record.type) {
          case 'yjs-update':
            Y.applyUpdate(doc, record.update, REPLAY_ORIGIN);
            break;
          case 'local-intent':
            state = reduce(state, record.queued, record.now).state;
            break;
          case 'snapshot-marker':
            break;
        }
      } catch (error) {
        throw new TwinspaceError(
          'internal',
          `WAL replay failed at record ${index} (${record.type}): ${describeError(error)}`,
          { cause: error },
        );
      }
      if (record.type !== 'snapshot-marker') version = Math.max(version, record.version);
    }
    state = deepFreeze({ ...state, version, replica: summarize(doc) });
    const engine = new Engine(options, doc, state);
    engine.scheduleTick();
    return engine;
  }

  /** The latest published state (deeply frozen). */
  get snapshot(): RegisterState {
    return this.state;
  }

  /** The workspace document's Yjs state vector (read-only access for the sync protocol). */
  encodeStateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  /** What a peer with `remoteStateVector` lacks, as one Yjs update (read-only access). */
  encodeDiff(remoteStateVector?: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc, remoteStateVector);
  }

  /** A plain, key-sorted copy of the workspace document, for comparing replicas. */
  docJSON(): unknown {
    return workspaceDocToJSON(this.doc);
  }

  /** The file index entry at `path` (validated: a malformed value from a peer reads as absent). */
  fileEntry(path: string): FileEntry | undefined {
    return parseFileEntry(fileIndex(this.doc).get(path));
  }

  /** Every valid file index entry, and the paths whose value is malformed. */
  fileEntries(): { entries: Map<string, FileEntry>; malformed: string[] } {
    const entries = new Map<string, FileEntry>();
    const malformed: string[] = [];
    for (const [path, value] of fileIndex(this.doc)) {
      const entry = parseFileEntry(value);
      if (entry === undefined) malformed.push(path);
      else entries.set(path, entry);
    }
    return { entries, malformed };
  }

  /**
   * Calls `listener` after each transaction that changed the file index, with the changed paths
   * and whether the change came from a peer. Runs inside the Engine's tick: listeners only record
   * the paths and schedule their work.
   */
  onFilesChanged(listener: (paths: readonly string[], remote: boolean) => void): () => void {
    const observer = (event: Y.YMapEvent<unknown>, transaction: Y.Transaction): void => {
      if (transaction.origin === REPLAY_ORIGIN) return;
      try {
        listener([...event.keysChanged], typeof transaction.origin === 'string');
      } catch (error) {
        this.diagnostics.emit(
          'engine.effect.failed',
          `file index listener failed: ${describeError(error)}`,
        );
      }
    };
    const files = fileIndex(this.doc) as Y.Map<unknown>;
    files.observe(observer);
    return () => {
      files.unobserve(observer);
    };
  }

  /** Observe every published snapshot (after each tick that changed something). */
  subscribe(observer: (state: RegisterState) => void): () => void {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  /** Observe the result of every tick that drained something (auto or manual). */
  onTick(listener: (result: TickResult) => void): () => void {
    this.tickListeners.add(listener);
    return () => {
      this.tickListeners.delete(listener);
    };
  }

  /**
   * Runs `fn` with the workspace document, READ-ONLY (state vectors, encodeStateAsUpdate, toJSON).
   * Mutating it here throws afterwards ('internal'); the change would still be logged and
   * broadcast with the next tick, but it bypassed the intent path and is a bug.
   */
  readDoc<T>(fn: (doc: Y.Doc) => T): T {
    const before = this.foreignTransactions;
    const result = fn(this.doc);
    if (this.foreignTransactions !== before) {
      throw new TwinspaceError(
        'internal',
        'readDoc callback mutated the workspace document; only the Engine may (send an intent)',
      );
    }
    return result;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /**
   * Drains the queue and applies the batch. Synchronous: apply → WAL append → version bump →
   * publish → effects; the WAL commit is started afterwards and runs in the background.
   */
  tick(): TickResult {
    if (this.closed) throw new TwinspaceError('closed', 'the engine is closed');
    if (this.ticking) {
      throw new TwinspaceError('busy', 'tick() called from inside a tick (observer or effect)');
    }
    this.ticking = true;
    try {
      return this.runTick();
    } finally {
      this.ticking = false;
    }
  }

  private runTick(): TickResult {
    const batch = this.queue.drain();
    if (batch.length === 0 && this.captured.length === 0) {
      return {
        version: this.state.version,
        changed: false,
        drained: 0,
        applied: 0,
        rejected: [],
        effects: [],
      };
    }
    const now = this.clock.now();
    const base = this.state;
    const nextVersion = base.version + 1;
    const out: TickScratch = { rejected: [], effects: [], entries: [] };
    let state = base;

    this.applying = true;
    try {
      let i = 0;
      while (i < batch.length) {
        // One run: every intent up to the next replicated intent with another origin. The run
        // shares one Yjs transaction (local-only intents in it do not touch the document).
        let origin: Origin | undefined;
        let end = i;
        for (; end < batch.length; end++) {
          const intent = batch[end]?.intent;
          if (intent === undefined || !isReplicatedIntent(intent)) continue;
          const o = originOf(intent);
          if (origin === undefined) origin = o;
          else if (o !== origin) break;
        }
        if (origin === undefined) {
          state = this.applyRun(state, batch, i, end, now, nextVersion, out);
        } else if (typeof origin === 'string') {
          state = this.applyRemoteRun(state, batch, i, end, origin, now, nextVersion, out);
        } else {
          const from = i;
          const to = end;
          this.doc.transact(() => {
            state = this.applyRun(state, batch, from, to, now, nextVersion, out);
          }, origin);
        }
        i = end;
      }
    } finally {
      this.applying = false;
    }
    const { rejected, effects, entries } = out;

    const updates = this.captured;
    this.captured = [];
    const broadcasts: Effect[] = [];
    for (const { update, origin } of updates) {
      if (typeof origin === 'string') {
        entries.push({ type: 'yjs-update', version: nextVersion, update, peerId: origin });
        broadcasts.push({ type: 'BroadcastUpdate', update, exceptPeer: origin });
      } else {
        entries.push({ type: 'yjs-update', version: nextVersion, update });
        broadcasts.push({ type: 'BroadcastUpdate', update });
      }
    }
    const changed = state !== base || updates.length > 0;
    if (changed) {
      state = deepFreeze({
        ...state,
        version: nextVersion,
        replica: this.replica.summary,
      });
      this.state = state;
      this.appendToWal(entries);
    }
    const allEffects = broadcasts.length > 0 ? [...broadcasts, ...effects] : effects;
    const result: TickResult = {
      version: this.state.version,
      changed,
      drained: batch.length,
      applied: batch.length - rejected.length,
      rejected,
      effects: allEffects,
    };
    if (changed) {
      for (const observer of [...this.observers]) {
        try {
          observer(state);
        } catch (error) {
          this.diagnostics.emit(
            'engine.observer.failed',
            `a snapshot observer threw: ${describeError(error)}`,
          );
        }
      }
    }
    for (const listener of [...this.tickListeners]) {
      try {
        listener(result);
      } catch (error) {
        this.diagnostics.emit(
          'engine.observer.failed',
          `a tick listener threw: ${describeError(error)}`,
        );
      }
    }
    for (const effect of allEffects) this.execute(effect);
    if (changed) {
      this.commitWal();
      if (this.wal.shouldCompact()) this.compact();
    }
    return result;
  }

  /** Resolves when every change published so far is durable in the WAL; rejects if it failed. */
  async flush(): Promise<void> {
    if (this.walFailure !== undefined) throw toError(this.walFailure);
    await this.wal.commit();
  }

  /** Final tick (applies what is still queued), flush, close the WAL. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.unsubscribeQueue();
      try {
        if (!this.closed) this.tick();
      } finally {
        this.closed = true;
        try {
          await this.flush();
        } finally {
          this.replica.dispose();
          await this.wal.close();
        }
      }
    })();
    return this.closing;
  }

  private applyOne(
    state: RegisterState,
    queued: QueuedIntent,
    now: number,
    nextVersion: number,
    out: TickScratch,
  ): RegisterState {
    const intent = queued.intent;
    try {
      if (queued.expectedVersion !== undefined && queued.expectedVersion !== state.version) {
        this.refuse(
          out,
          queued,
          'version_conflict',
          `made against version ${queued.expectedVersion}, state is at ${state.version}`,
        );
        return state;
      }
      if (isReplicatedIntent(intent)) {
        const refused = applyReplicatedIntent(this.doc, intent, originOf(intent));
        if (refused) {
          this.refuse(out, queued, refused.code, refused.message);
          return state;
        }
      }
      const outcome = reduce(state, queued, now);
      if (outcome.rejected) {
        this.refuse(out, queued, outcome.rejected.code, outcome.rejected.message);
        return state;
      }
      if (outcome.state !== state) {
        out.entries.push({
          type: 'local-intent',
          version: nextVersion,
          now,
          queued: {
            intent:
              intent.type === 'RemoteUpdateReceived' ? { ...intent, update: EMPTY_UPDATE } : intent,
            source: queued.source,
            queuedAt: queued.queuedAt,
            seq: queued.seq,
          },
        });
      }
      for (const effect of outcome.effects) out.effects.push(effect);
      return outcome.state;
    } catch (error) {
      this.refuse(out, queued, 'internal', describeError(error));
      return state;
    }
  }

  private applyRun(
    state: RegisterState,
    batch: readonly QueuedIntent[],
    from: number,
    to: number,
    now: number,
    nextVersion: number,
    out: TickScratch,
  ): RegisterState {
    let current = state;
    for (let k = from; k < to; k++) {
      const queued = batch[k];
      if (queued !== undefined) current = this.applyOne(current, queued, now, nextVersion, out);
    }
    return current;
  }

  /**
   * A run of updates from one peer. Yjs would re-encode the whole transaction for the `update`
   * listener (as costly as applying it, for a large initial sync), although the bytes are already
   * in hand: so the listener is detached for this transaction and the received updates themselves
   * are captured, when the transaction changed anything (a pure duplicate is not logged or
   * broadcast). Replaying the received bytes in order gives the same document.
   */
  private applyRemoteRun(
    state: RegisterState,
    batch: readonly QueuedIntent[],
    from: number,
    to: number,
    peerId: string,
    now: number,
    nextVersion: number,
    out: TickScratch,
  ): RegisterState {
    const store = this.doc.store;
    const pendingBefore = [store.pendingStructs, store.pendingDs];
    const rejectedBefore = out.rejected.length;
    const outcome = { changed: false };
    const onAfter = (tr: Y.Transaction): void => {
      outcome.changed = tr.changed.size > 0 || tr.deleteSet.clients.size > 0;
    };
    let next = state;
    this.doc.off('update', this.onUpdate);
    this.doc.once('afterTransaction', onAfter);
    try {
      this.doc.transact(() => {
        next = this.applyRun(state, batch, from, to, now, nextVersion, out);
      }, peerId);
    } finally {
      this.doc.off('afterTransaction', onAfter);
      this.doc.on('update', this.onUpdate);
    }
    if (
      !outcome.changed &&
      store.pendingStructs === pendingBefore[0] &&
      store.pendingDs === pendingBefore[1]
    ) {
      return next;
    }
    const refused = new Set(out.rejected.slice(rejectedBefore).map((r) => r.seq));
    for (let k = from; k < to; k++) {
      const queued = batch[k];
      if (queued?.intent.type === 'RemoteUpdateReceived' && !refused.has(queued.seq)) {
        this.captured.push({ update: queued.intent.update, origin: peerId });
      }
    }
    return next;
  }

  private refuse(out: TickScratch, queued: QueuedIntent, code: ResultCode, message: string): void {
    const type = queued.intent.type;
    out.rejected.push({ seq: queued.seq, type, code, message });
    this.diagnostics.emit(
      'engine.intent.rejected',
      `${type} from ${queued.source} rejected (${code}): ${message}`,
      { seq: queued.seq, type, source: queued.source, code },
    );
  }

  private appendToWal(entries: readonly WalEntry[]): void {
    if (entries.length === 0) return;
    try {
      this.wal.append(entries);
    } catch (error) {
      this.reportWalFailure(error);
    }
  }

  private commitWal(): void {
    if (this.walFailure !== undefined) return;
    this.wal.commit().catch((error: unknown) => {
      this.reportWalFailure(error);
    });
  }

  private compact(): void {
    const snapshot = {
      version: this.state.version,
      localState: this.state,
      ydoc: Y.encodeStateAsUpdate(this.doc),
    };
    this.wal.compact(snapshot).catch((error: unknown) => {
      this.reportWalFailure(error);
    });
  }

  private reportWalFailure(error: unknown): void {
    if (this.walFailure !== undefined) return;
    this.walFailure = error;
    this.diagnostics.emit(
      'engine.wal.write_failed',
      `WAL write failed, changes are no longer durable: ${describeError(error)}`,
      { op: 'write' },
    );
  }

  private execute(effect: Effect): void {
    if (this.runEffect === undefined) return;
    try {
      const pending = this.runEffect(effect);
      if (pending instanceof Promise) {
        pending.catch((error: unknown) => {
          this.effectFailed(effect, error);
        });
      }
    } catch (error) {
      this.effectFailed(effect, error);
    }
  }

  private effectFailed(effect: Effect, error: unknown): void {
    this.diagnostics.emit(
      'engine.effect.failed',
      `${effect.type} failed: ${describeError(error)}`,
      {
        effect: effect.type,
      },
    );
  }

  private scheduleTick(): void {
    if (!this.autoTick || this.scheduled || this.closed || this.closing !== undefined) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      if (this.closed || this.closing !== undefined) return;
      try {
        this.tick();
      } catch (error) {
        this.diagnostics.emit('engine.effect.failed', `auto-tick failed: ${describeError(error)}`);
      }
    });
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
