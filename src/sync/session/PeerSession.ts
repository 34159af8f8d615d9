/**
 * One sync session with one peer over an authenticated SecureChannel (docs/protocol.md, "Sync
 * messages"). It owns the channel from the moment the handshake resolves:
 *
 *  - on start it sends SyncStep1 (our state vector), answers the peer's SyncStep1 with SyncStep2
 *    (what the peer lacks), then both sides stream live units;
 *  - every outgoing message goes through a bounded queue: past `maxQueueBytes` or
 *    `maxQueueMessages` the peer is too slow and the session closes ('slow consumer');
 *  - keepalive: a Ping after `keepaliveIntervalMs` of silence from the peer, and the session
 *    closes after `keepaliveTimeoutMs` without any message;
 *  - incoming messages are decoded strictly and handed to the owner (the SyncWorker), which
 *    validates and applies them.
 *
 * Linking: a session whose peer's SyncStep1 names another workspace id is "not linked": it stays
 * up (offers and key rotations still flow, on protocol version 2) but no SyncStep2 is sent and no
 * SyncStep2, Unit or file message from the peer reaches the owner; it goes straight to Idle.
 *
 * File messages (types 9-13) flow only on sessions whose negotiated protocol version is ≥ 3
 * (`speaksFiles`): `sendFileMessage` refuses anything else, and one received from an older peer
 * is malformed (the session closes, as for an unknown type).
 *
 * States: Authenticated (handshake done) → Syncing (SyncStep1 sent, waiting for the peer's
 * SyncStep2 and for our own SyncStep2 to be flushed) → Idle → Disconnected.
 */
import type { PeerSessionState } from '../../core/intents';
import type { Clock, TimerHandle } from '../../runtime/Clock';
import type { SecureChannel } from '../channel/SecureChannel';
import {
  FILES_MIN_PROTOCOL_VERSION,
  SyncMessageError,
  decodeSyncMessage,
  encodeFileMessage,
  encodePing,
  encodePong,
  encodeStateVectorReport,
  encodeSyncStep1,
  encodeSyncStep2,
  isFileMessage,
  OFFERS_MIN_PROTOCOL_VERSION,
  type DecodeLimits,
  type FileMessage,
  type SyncMessage,
} from './syncMessages';

/** Content held while the peer's SyncStep1 has not arrived yet. */
const MAX_HELD = 256;
const MAX_HELD_BYTES = 64 * 1024 * 1024;

/** Whether the peer syncs our workspace id: unknown until its SyncStep1 arrives. */
export type LinkState = 'unknown' | 'linked' | 'not linked';

export interface PeerSessionOwner {
  readonly workspaceId: string;
  encodeStateVector(): Uint8Array;
  encodeDiff(stateVector: Uint8Array): Uint8Array;
  /** Messages sent right after SyncStep1 (offers, certificates), for protocol version ≥ 2 peers. */
  openingMessages(session: PeerSession): readonly Uint8Array[];
  /**
   * A decoded message that the owner validates (SyncStep2, Unit, WorkspaceOffers, KeyRotated, and
   * the file messages of a linked protocol version ≥ 3 session).
   */
  onApplicationMessage(session: PeerSession, message: SyncMessage, raw: Uint8Array): void;
  /** The message could not be decoded: the session is about to close. */
  onMalformed(session: PeerSession, error: SyncMessageError): void;
  onWorkspaceMismatch(session: PeerSession, workspaceId: string): void;
  onStateChanged(session: PeerSession, state: PeerSessionState): void;
  onClosed(session: PeerSession, reason: string): void;
}

export interface PeerSessionOptions {
  readonly clock: Clock;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxQueueBytes: number;
  readonly maxQueueMessages: number;
  readonly limits: DecodeLimits;
  readonly transportName: string;
}

export class PeerSession {
  readonly remoteDeviceId: string;
  readonly closed: Promise<string>;
  private resolveClosed!: (reason: string) => void;
  private currentState: PeerSessionState = 'Authenticated';
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private gotStep2 = false;
  private gotStep1Answered = false;
  private closeReason: string | undefined;
  private keepaliveTimer: TimerHandle;
  private lastReceivedAt: number;
  private lastPingAt = 0;
  private pingNonce = 0;
  private remoteStateVector: Uint8Array | undefined;
  private link: LinkState = 'unknown';
  private remoteWorkspace: string | undefined;
  /** Content messages (SyncStep2, Unit) dropped because the session is not linked. */
  droppedNotLinked = 0;
  private readonly held: Uint8Array[] = [];
  private heldBytes = 0;
  private readonly drainWaiters = new Set<() => void>();
  private readonly writableWaiters = new Set<() => void>();
  lastError: string | undefined;
  /** Intents sent to the Engine for this session and not yet accepted by the queue. */
  inflight = 0;
  unitsReceived = 0;
  unitsRejected = 0;

  constructor(
    readonly channel: SecureChannel,
    private readonly owner: PeerSessionOwner,
    private readonly options: PeerSessionOptions,
  ) {
    this.remoteDeviceId = channel.remoteDeviceId;
    this.closed = new Promise<string>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.lastReceivedAt = options.clock.now();
  }

  get role(): 'initiator' | 'responder' {
    return this.channel.role;
  }

  get state(): PeerSessionState {
    return this.currentState;
  }

  private isOpen(): boolean {
    return this.closeReason === undefined;
  }

  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  get pendingOut(): number {
    return this.queue.length;
  }

  get pendingOutBytes(): number {
    return this.queuedBytes;
  }

  get linkState(): LinkState {
    return this.link;
  }

  /** The workspace id of the peer's SyncStep1. */
  get remoteWorkspaceId(): string | undefined {
    return this.remoteWorkspace;
  }

  /** True when the peer speaks protocol version 2 or later (offers, key rotation). */
  get speaksOffers(): boolean {
    return this.channel.protocolVersion >= OFFERS_MIN_PROTOCOL_VERSION;
  }

  /** True when the peer speaks protocol version 3 or later (file messages). */
  get speaksFiles(): boolean {
    return this.channel.protocolVersion >= FILES_MIN_PROTOCOL_VERSION;
  }

  /** True while file messages may be sent: open, protocol version ≥ 3 and linked. */
  get carriesFiles(): boolean {
    return this.isOpen() && this.speaksFiles && this.link === 'linked';
  }

  /** The peer's state vector as it last reported it (SyncStep1 or StateVector). */
  get remoteSv(): Uint8Array | undefined {
    return this.remoteStateVector;
  }

  /** Attaches the listeners (right after the handshake) and sends SyncStep1. */
  start(): void {
    this.channel.onClose((info) => {
      this.finish(info.message);
    });
    if (this.isClosed) return;
    this.owner.onStateChanged(this, 'Authenticated');
    this.setState('Syncing');
    // SyncStep1 is queued before the listener delivers what the peer already sent, so it is
    // always this side's first message (an answer to the peer's SyncStep1 comes after it).
    this.send(encodeSyncStep1(this.owner.workspaceId, this.owner.encodeStateVector()));
    if (this.speaksOffers) for (const m of this.owner.openingMessages(this)) this.send(m);
    this.channel.onMessage((bytes) => {
      this.onMessage(bytes);
    });
    this.scheduleKeepalive();
  }

  /** Queues a message for the peer. False (and the session closes) when the peer is too slow. */
  send(message: Uint8Array): boolean {
    if (this.isClosed) return false;
    if (
      this.queue.length > 0 &&
      (this.queue.length >= this.options.maxQueueMessages ||
        this.queuedBytes + message.length > this.options.maxQueueBytes)
    ) {
      this.close('slow consumer');
      return false;
    }
    this.queue.push(message);
    this.queuedBytes += message.length;
    if (!this.pumping) void this.pump();
    return true;
  }

  /**
   * Queues a file message. False, and nothing sent, when the session does not carry files (closed,
   * protocol version < 3, not linked); false (and the session closes) when the peer is too slow.
   * Throws RangeError when the message is invalid (see encodeFileMessage).
   */
  sendFileMessage(message: FileMessage): boolean {
    if (!this.carriesFiles) return false;
    return this.send(encodeFileMessage(message));
  }

  /**
   * True while the outgoing queue is below half of both its caps (bytes and messages): a bulk
   * sender (blob chunks) waits for this before queueing more, instead of overflowing the queue.
   */
  get writable(): boolean {
    return (
      this.queuedBytes < this.options.maxQueueBytes / 2 &&
      this.queue.length < this.options.maxQueueMessages / 2
    );
  }

  /** Resolves once the session is `writable` or closed. */
  whenWritable(): Promise<void> {
    if (this.isClosed || this.writable) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.writableWaiters.add(resolve);
    });
  }

  private wakeWritableWaiters(): void {
    if (this.writableWaiters.size === 0 || (!this.isClosed && !this.writable)) return;
    const waiters = [...this.writableWaiters];
    this.writableWaiters.clear();
    for (const w of waiters) w();
  }

  sendStateVector(): void {
    this.send(encodeStateVectorReport(this.owner.encodeStateVector()));
  }

  /** Resolves once every queued message was handed to the channel, the session closed, or after `timeoutMs`. */
  drained(timeoutMs: number): Promise<void> {
    if (this.isClosed || (this.queue.length === 0 && !this.pumping)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.options.clock.setTimeout(() => {
        this.drainWaiters.delete(done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        this.options.clock.clearTimeout(timer);
        resolve();
      };
      this.drainWaiters.add(done);
    });
  }

  private wakeDrainWaiters(): void {
    const waiters = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const w of waiters) w();
  }

  close(reason: string): void {
    if (this.isClosed) return;
    this.channel.close(reason);
    this.finish(reason);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.isClosed) {
        const message = this.queue[0];
        if (message === undefined) break;
        try {
          await this.channel.send(message);
        } catch (error) {
          this.close(`send failed: ${String(error)}`);
          return;
        }
        this.queue.shift();
        this.queuedBytes -= message.length;
        this.wakeWritableWaiters();
      }
    } finally {
      this.pumping = false;
    }
    if (this.queue.length === 0) this.wakeDrainWaiters();
    this.updateIdle();
  }

  private onMessage(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.lastReceivedAt = this.options.clock.now();
    let message: SyncMessage;
    try {
      message = decodeSyncMessage(bytes, this.options.limits);
      if (isFileMessage(message) && !this.speaksFiles) {
        throw new SyncMessageError(
          'unknown_type',
          `${message.type} on a protocol version ${this.channel.protocolVersion} session`,
        );
      }
    } catch (error) {
      if (error instanceof SyncMessageError) {
        this.owner.onMalformed(this, error);
        this.close(`malformed sync message: ${error.message}`);
        return;
      }
      throw error;
    }
    switch (message.type) {
      case 'SyncStep1':
        this.remoteWorkspace = message.workspaceId;
        if (message.workspaceId !== this.owner.workspaceId) {
          // Not linked: no content either way, but the session stays up for offers.
          this.link = 'not linked';
          this.droppedNotLinked += this.held.length;
          this.held.length = 0;
          this.owner.onWorkspaceMismatch(this, message.workspaceId);
          if (this.isOpen()) this.setState('Idle');
          return;
        }
        this.link = 'linked';
        this.remoteStateVector = message.stateVector;
        this.send(encodeSyncStep2(this.owner.encodeDiff(message.stateVector)));
        this.gotStep1Answered = true;
        for (const held of this.held.splice(0)) this.onMessage(held);
        this.updateIdle();
        return;
      case 'SyncStep2':
        if (this.link !== 'linked') {
          this.holdOrDrop(message, bytes);
          return;
        }
        this.owner.onApplicationMessage(this, message, bytes);
        if (!message.forwarded && this.isOpen()) {
          this.gotStep2 = true;
          this.updateIdle();
        }
        return;
      case 'Unit':
        if (this.link !== 'linked') {
          this.holdOrDrop(message, bytes);
          return;
        }
        this.owner.onApplicationMessage(this, message, bytes);
        return;
      case 'WorkspaceOffers':
      case 'KeyRotated':
        this.owner.onApplicationMessage(this, message, bytes);
        return;
      case 'FileStep1':
      case 'FileUpdate':
      case 'BlobRequest':
      case 'BlobChunk':
      case 'BlobMissing':
        if (this.link !== 'linked') {
          this.holdOrDrop(message, bytes);
          return;
        }
        this.owner.onApplicationMessage(this, message, bytes);
        return;
      case 'Ping':
        this.send(encodePong(message.nonce));
        return;
      case 'Pong':
        return;
      case 'StateVector':
        this.remoteStateVector = message.stateVector;
        return;
    }
  }

  /**
   * Content that arrives before the peer's SyncStep1 (a peer may answer ours before sending its
   * own) waits for it, bounded; content from a session that is not linked is dropped.
   */
  private holdOrDrop(message: SyncMessage, bytes: Uint8Array): void {
    if (this.link === 'not linked') {
      this.droppedNotLinked += 1;
      return;
    }
    if (message.type === 'SyncStep2' && message.update.length > MAX_HELD_BYTES) {
      this.close('content before SyncStep1');
      return;
    }
    this.heldBytes += bytes.length;
    if (this.held.length >= MAX_HELD || this.heldBytes > MAX_HELD_BYTES) {
      this.close('too much content before SyncStep1');
      return;
    }
    this.held.push(bytes);
  }

  private updateIdle(): void {
    if (this.isClosed || this.currentState !== 'Syncing') return;
    if (this.gotStep2 && this.gotStep1Answered && this.queue.length === 0) {
      this.setState('Idle');
      this.sendStateVector();
    }
  }

  private setState(state: PeerSessionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.owner.onStateChanged(this, state);
  }

  private scheduleKeepalive(): void {
    const { clock, keepaliveIntervalMs } = this.options;
    const tickMs = Math.max(1, Math.floor(keepaliveIntervalMs / 2));
    this.keepaliveTimer = clock.setTimeout(() => {
      this.keepaliveTimer = undefined;
      if (this.isClosed) return;
      const now = clock.now();
      const silent = now - this.lastReceivedAt;
      if (silent >= this.options.keepaliveTimeoutMs) {
        this.close('keepalive timeout');
        return;
      }
      if (silent >= keepaliveIntervalMs && now - this.lastPingAt >= keepaliveIntervalMs) {
        this.lastPingAt = now;
        this.pingNonce = (this.pingNonce + 1) >>> 0;
        this.send(encodePing(this.pingNonce));
      }
      this.scheduleKeepalive();
    }, tickMs);
  }

  private finish(reason: string): void {
    if (this.isClosed) return;
    this.closeReason = reason;
    if (this.keepaliveTimer !== undefined) {
      this.options.clock.clearTimeout(this.keepaliveTimer);
      this.keepaliveTimer = undefined;
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.currentState = 'Disconnected';
    this.resolveClosed(reason);
    this.wakeDrainWaiters();
    this.wakeWritableWaiters();
    this.owner.onClosed(this, reason);
  }
}
