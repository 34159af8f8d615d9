/**
 * SignalBus: typed publish/subscribe over the SignalMap (src/runtime/signals.ts). Each published
 * signal becomes one frozen envelope (name, source, clock time, payload) that every subscriber
 * of that name receives.
 *
 * - Sync subscribers are called inside `publish`, in subscription order.
 * - Async subscribers get envelopes in order, one call at a time, through a bounded buffer. When
 *   the buffer is full the oldest buffered envelope is dropped, the subscriber is marked lagged
 *   (see `lag()`) and 'register.signal_routing.lagged' is emitted.
 * - A subscriber that throws (or whose promise rejects) never breaks the publisher or the other
 *   subscribers: the envelope and the error go to a bounded dead-letter ring (`deadLetters()`)
 *   and 'register.signal_routing.dead_letter' is emitted.
 */
import { describeError } from '../core/errors';
import type { Clock } from './Clock';
import type { Diagnostics } from './Diagnostics';
import type { SignalEnvelope, SignalMap, SignalName } from './signals';

export type AnyEnvelope = { [K in SignalName]: SignalEnvelope<K> }[SignalName];

export interface SignalBusOptions {
  readonly diagnostics: Diagnostics;
  readonly clock: Clock;
  /** Size of the dead-letter ring (oldest dropped first). Default 100. */
  readonly deadLetterCapacity?: number;
}

export interface SubscribeOptions {
  /** Names the subscriber in dead letters, lag reports and diagnostics. Default `<signal>#<id>`. */
  readonly label?: string;
}

export interface AsyncSubscribeOptions extends SubscribeOptions {
  /** Envelopes buffered while the subscriber is busy (not counting the one in progress). */
  readonly bufferSize?: number;
}

export interface DeadLetter {
  readonly envelope: AnyEnvelope;
  readonly subscriber: string;
  readonly mode: 'sync' | 'async';
  /** The thrown value, described. */
  readonly error: string;
  /** Clock time of the failure. */
  readonly at: number;
}

export interface SubscriberLag {
  readonly subscriber: string;
  readonly signal: SignalName;
  readonly bufferSize: number;
  /** Envelopes waiting in the buffer now. */
  readonly pending: number;
  /** Envelopes dropped since the subscription started. */
  readonly dropped: number;
  /** True once anything has been dropped. */
  readonly lagged: boolean;
}

export const DEFAULT_ASYNC_BUFFER_SIZE = 64;
export const DEFAULT_DEAD_LETTER_CAPACITY = 100;

type SyncFn = (envelope: AnyEnvelope) => void;
type AsyncFn = (envelope: AnyEnvelope) => Promise<void>;

interface SyncSubscriber {
  readonly kind: 'sync';
  readonly label: string;
  readonly fn: SyncFn;
}

interface AsyncSubscriber {
  readonly kind: 'async';
  readonly label: string;
  readonly signal: SignalName;
  readonly fn: AsyncFn;
  readonly bufferSize: number;
  readonly buffer: AnyEnvelope[];
  dropped: number;
  running: boolean;
  active: boolean;
}

type Subscriber = SyncSubscriber | AsyncSubscriber;

export class SignalBus {
  private readonly diagnostics: Diagnostics;
  private readonly clock: Clock;
  private readonly deadLetterCapacity: number;
  private readonly subscribers = new Map<SignalName, Subscriber[]>();
  private readonly asyncSubscribers = new Set<AsyncSubscriber>();
  private readonly deadLetterRing: DeadLetter[] = [];
  private readonly pumps = new Set<Promise<void>>();
  private nextId = 0;
  private disposed = false;
  private reporting = false;

  constructor(options: SignalBusOptions) {
    this.diagnostics = options.diagnostics;
    this.clock = options.clock;
    const capacity = options.deadLetterCapacity ?? DEFAULT_DEAD_LETTER_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`deadLetterCapacity must be an integer >= 1 (got ${capacity})`);
    }
    this.deadLetterCapacity = capacity;
  }

  /** Delivers to every subscriber of `name`. Never throws because of a subscriber. */
  publish<K extends SignalName>(name: K, payload: SignalMap[K], source: string): void {
    if (this.disposed) return;
    const list = this.subscribers.get(name);
    if (!list || list.length === 0) return;
    const envelope = Object.freeze({
      name,
      source,
      at: this.clock.now(),
      payload,
    }) as SignalEnvelope<K> as AnyEnvelope;
    for (const subscriber of [...list]) {
      if (subscriber.kind === 'sync') {
        try {
          subscriber.fn(envelope);
        } catch (error) {
          this.deadLetter(envelope, subscriber.label, 'sync', error);
        }
      } else {
        this.enqueue(subscriber, envelope);
      }
    }
  }

  /** Calls `fn` synchronously inside each `publish` of `name`. Returns an unsubscribe function. */
  subscribe<K extends SignalName>(
    name: K,
    fn: (envelope: SignalEnvelope<K>) => void,
    options: SubscribeOptions = {},
  ): () => void {
    const subscriber: SyncSubscriber = {
      kind: 'sync',
      label: options.label ?? this.defaultLabel(name),
      fn: fn as SyncFn,
    };
    return this.add(name, subscriber);
  }

  /**
   * Calls `fn` for each envelope of `name`, in order, never two at once, outside `publish`.
   * Envelopes published while it is busy wait in a buffer of `bufferSize` (default 64); past
   * that the oldest is dropped and the subscriber is reported as lagged.
   */
  subscribeAsync<K extends SignalName>(
    name: K,
    fn: (envelope: SignalEnvelope<K>) => Promise<void>,
    options: AsyncSubscribeOptions = {},
  ): () => void {
    const bufferSize = options.bufferSize ?? DEFAULT_ASYNC_BUFFER_SIZE;
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new RangeError(`bufferSize must be an integer >= 1 (got ${bufferSize})`);
    }
    const subscriber: AsyncSubscriber = {
      kind: 'async',
      label: options.label ?? this.defaultLabel(name),
      signal: name,
      fn: fn as AsyncFn,
      bufferSize,
      buffer: [],
      dropped: 0,
      running: false,
      active: true,
    };
    this.asyncSubscribers.add(subscriber);
    const remove = this.add(name, subscriber);
    return () => {
      subscriber.active = false;
      subscriber.buffer.length = 0;
      this.asyncSubscribers.delete(subscriber);
      remove();
    };
  }

  /** The dead-letter ring, oldest first. */
  deadLetters(): readonly DeadLetter[] {
    return [...this.deadLetterRing];
  }

  /** One entry per live async subscriber: buffer use and how many envelopes it lost. */
  lag(): readonly SubscriberLag[] {
    return [...this.asyncSubscribers].map((s) =>
      Object.freeze({
        subscriber: s.label,
        signal: s.signal,
        bufferSize: s.bufferSize,
        pending: s.buffer.length,
        dropped: s.dropped,
        lagged: s.dropped > 0,
      }),
    );
  }

  /** Resolves once every async subscriber has handled everything buffered so far (or more). */
  async idle(): Promise<void> {
    while (this.pumps.size > 0) {
      await Promise.all([...this.pumps]);
    }
  }

  /**
   * Stops everything: later publishes are ignored, buffers are cleared, subscriptions are gone.
   * An async call already in progress runs to its end but nothing more is delivered.
   */
  dispose(): void {
    this.disposed = true;
    for (const s of this.asyncSubscribers) {
      s.active = false;
      s.buffer.length = 0;
    }
    this.asyncSubscribers.clear();
    this.subscribers.clear();
  }

  private defaultLabel(name: SignalName): string {
    this.nextId += 1;
    return `${name}#${this.nextId}`;
  }

  private add(name: SignalName, subscriber: Subscriber): () => void {
    if (this.disposed) return () => undefined;
    const list = this.subscribers.get(name) ?? [];
    list.push(subscriber);
    this.subscribers.set(name, list);
    return () => {
      const current = this.subscribers.get(name);
      if (!current) return;
      const i = current.indexOf(subscriber);
      if (i >= 0) current.splice(i, 1);
      if (current.length === 0) this.subscribers.delete(name);
    };
  }

  private enqueue(subscriber: AsyncSubscriber, envelope: AnyEnvelope): void {
    if (!subscriber.active) return;
    subscriber.buffer.push(envelope);
    if (subscriber.buffer.length > subscriber.bufferSize) {
      subscriber.buffer.shift();
      subscriber.dropped += 1;
      this.report(
        'register.signal_routing.lagged',
        `async subscriber ${subscriber.label} of ${subscriber.signal} is lagging: buffer full, oldest signals dropped`,
        {
          subscriber: subscriber.label,
          signal: subscriber.signal,
          bufferSize: subscriber.bufferSize,
          dropped: subscriber.dropped,
        },
      );
    }
    if (!subscriber.running) {
      subscriber.running = true;
      const pump = this.pump(subscriber);
      this.pumps.add(pump);
      void pump.finally(() => this.pumps.delete(pump));
    }
  }

  /** Delivers the subscriber's buffer one envelope at a time. Never rejects. */
  private async pump(subscriber: AsyncSubscriber): Promise<void> {
    try {
      // Start on a later microtask: the subscriber never runs inside publish().
      await Promise.resolve();
      for (;;) {
        const envelope = subscriber.active ? subscriber.buffer.shift() : undefined;
        if (envelope === undefined) return;
        try {
          await subscriber.fn(envelope);
        } catch (error) {
          this.deadLetter(envelope, subscriber.label, 'async', error);
        }
      }
    } finally {
      subscriber.running = false;
    }
  }

  private deadLetter(
    envelope: AnyEnvelope,
    subscriber: string,
    mode: 'sync' | 'async',
    error: unknown,
  ): void {
    const description = describeError(error);
    this.deadLetterRing.push(
      Object.freeze({ envelope, subscriber, mode, error: description, at: this.clock.now() }),
    );
    if (this.deadLetterRing.length > this.deadLetterCapacity) this.deadLetterRing.shift();
    this.report(
      'register.signal_routing.dead_letter',
      `${mode} subscriber ${subscriber} of ${envelope.name} failed: ${description}`,
      { subscriber, signal: envelope.name, source: envelope.source, mode, error: description },
    );
  }

  /**
   * Emits a diagnostic, unless we are already inside one: a diagnostics sink that republishes on
   * this bus to a failing subscriber would otherwise recurse forever. The dead letter itself is
   * still recorded.
   */
  private report(
    channel: 'register.signal_routing.dead_letter' | 'register.signal_routing.lagged',
    message: string,
    data: Readonly<Record<string, unknown>>,
  ): void {
    if (this.reporting) return;
    this.reporting = true;
    try {
      this.diagnostics.emit(channel, message, data);
    } finally {
      this.reporting = false;
    }
  }
}
