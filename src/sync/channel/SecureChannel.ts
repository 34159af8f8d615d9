/**
 * The encrypted, mutually authenticated channel that `handshake` returns. Messages are byte
 * strings of any size up to the message cap; each is sent as one or more AEAD frames (every frame
 * but the last carries the MORE flag) and reassembled on the other side. Any frame that fails
 * authentication (tampered, replayed, reordered, dropped), breaks the framing rules, or is over a
 * cap closes the channel with a ProtocolError; nothing after it is read.
 */
import type { FrameQueue } from './FrameQueue';
import { FRAME_OVERHEAD_BYTES, FrameCipher, FrameFlags, KNOWN_FRAME_FLAGS } from './FrameCipher';
import { ProtocolError } from './ProtocolError';
import type { Role } from './keySchedule';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Longest close reason sent to the peer, in bytes. */
const MAX_CLOSE_REASON_BYTES = 256;

export interface ChannelClose {
  /** Who ended it: this side (`close()` or an error here), the peer (a CLOSE frame), the transport. */
  readonly by: 'local' | 'peer' | 'transport';
  readonly message: string;
  /** Set when the channel ended on an error (tampering, caps, a dead transport…). */
  readonly error?: ProtocolError;
}

export interface SecureChannelParams {
  readonly queue: FrameQueue;
  readonly role: Role;
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  readonly remotePublicKey: Uint8Array;
  readonly remoteDeviceId: string;
  readonly sas: string;
  readonly paired: boolean;
  readonly protocolVersion: number;
  readonly maxFrameBytes: number;
  readonly maxMessageBytes: number;
}

export class SecureChannel {
  readonly role: Role;
  readonly remotePublicKey: Uint8Array;
  readonly remoteDeviceId: string;
  /** Short authentication string (6 digits), the same on both sides of this session. */
  readonly sas: string;
  /** True when the handshake was authenticated by a pairing code (store the peer as trusted). */
  readonly paired: boolean;
  readonly protocolVersion: number;
  readonly maxMessageBytes: number;
  private readonly queue: FrameQueue;
  private readonly sender: FrameCipher;
  private readonly receiver: FrameCipher;
  private readonly maxDataPerFrame: number;
  private readonly messageListeners = new Set<(message: Uint8Array) => void>();
  private readonly closeListeners = new Set<(info: ChannelClose) => void>();
  private drainWaiters: { resolve: () => void; reject: (err: ProtocolError) => void }[] = [];
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private closeInfo: ChannelClose | undefined;
  /** False until the first onMessage listener: frames wait undecrypted until then. */
  private reading = false;
  private readonly offDrain: () => void;

  constructor(params: SecureChannelParams) {
    this.queue = params.queue;
    this.role = params.role;
    this.remotePublicKey = params.remotePublicKey;
    this.remoteDeviceId = params.remoteDeviceId;
    this.sas = params.sas;
    this.paired = params.paired;
    this.protocolVersion = params.protocolVersion;
    this.maxMessageBytes = params.maxMessageBytes;
    this.sender = new FrameCipher(params.sendKey);
    this.receiver = new FrameCipher(params.receiveKey);
    this.maxDataPerFrame = params.maxFrameBytes - FRAME_OVERHEAD_BYTES;
    if (this.maxDataPerFrame < 1) throw new RangeError('maxFrameBytes too small');
    this.queue.decoder.maxFrameBytes = params.maxFrameBytes;
    this.offDrain = this.queue.transport.onDrain(() => {
      this.resolveDrain();
    });
    // Nothing is decrypted until someone listens for messages (see onMessage).
    this.queue.hold();
    this.queue.setHandler({
      frame: (payload) => {
        this.onFrame(payload);
      },
      end: (error) => {
        this.finish(
          error.reason === 'closed'
            ? { by: 'transport', message: error.message, error }
            : { by: 'local', message: error.message, error },
        );
      },
    });
  }

  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Why the channel closed, once it has. */
  get closeReason(): ChannelClose | undefined {
    return this.closeInfo;
  }

  /** Description of the underlying transport, for diagnostics. */
  get transportDescription(): string {
    return this.queue.transport.description;
  }

  /**
   * Encrypts and writes `message` at once (its frames never interleave with another message's).
   * Resolves when the transport can take more (wait before sending much more); rejects with
   * ProtocolError `closed` when the channel is closed, `message_too_large` over the cap.
   */
  send(message: Uint8Array): Promise<void> {
    if (this.closeInfo) {
      return Promise.reject(
        new ProtocolError('closed', `channel closed: ${this.closeInfo.message}`, {
          cause: this.closeInfo.error,
        }),
      );
    }
    if (message.length > this.maxMessageBytes) {
      return Promise.reject(
        new ProtocolError(
          'message_too_large',
          `message of ${message.length} bytes exceeds the cap of ${this.maxMessageBytes}`,
        ),
      );
    }
    let writable = true;
    let offset = 0;
    do {
      const end = Math.min(message.length, offset + this.maxDataPerFrame);
      const flags = end < message.length ? FrameFlags.More : 0;
      if (!this.writeFrame(flags, message.subarray(offset, end))) writable = false;
      offset = end;
    } while (offset < message.length);
    if (this.closed) {
      return Promise.reject(new ProtocolError('closed', 'channel closed while sending'));
    }
    if (writable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
    });
  }

  /**
   * Adds a listener for whole messages; returns its remover. Incoming frames are held, not even
   * decrypted, until the first listener is added: add it right after the handshake resolves.
   * From then on frames are processed as they arrive (use `pause` for flow control); a message
   * arriving while no listener is registered is dropped. A listener that throws closes the
   * channel (reason `internal`).
   */
  onMessage(listener: (message: Uint8Array) => void): () => void {
    this.messageListeners.add(listener);
    if (!this.reading) {
      this.reading = true;
      this.queue.release();
    }
    return () => this.messageListeners.delete(listener);
  }

  /** Called once when the channel closes, for any reason (at once if it already has). */
  onClose(listener: (info: ChannelClose) => void): () => void {
    if (this.closeInfo) {
      const info = this.closeInfo;
      queueMicrotask(() => {
        listener(info);
      });
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /**
   * Stops reading (flow control): the transport stops too, so the peer is slowed down. While
   * paused, even the end of the stream is noticed only after `resume`.
   */
  pause(): void {
    this.queue.pause();
  }

  resume(): void {
    this.queue.resume();
  }

  /** Sends an encrypted CLOSE with `reason` (the peer sees it), then closes. Idempotent. */
  close(reason = 'closed'): void {
    if (this.closeInfo) return;
    const bytes = new TextEncoder().encode(reason);
    let cut = Math.min(bytes.length, MAX_CLOSE_REASON_BYTES);
    while (cut > 0 && cut < bytes.length && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
    this.writeFrame(FrameFlags.Close, bytes.subarray(0, cut));
    this.finish({ by: 'local', message: reason });
  }

  private writeFrame(flags: number, data: Uint8Array): boolean {
    if (this.sender.exhausted) {
      this.fail(new ProtocolError('closed', 'frame counter exhausted: reconnect'));
      return false;
    }
    return this.queue.write(this.sender.seal(flags, data));
  }

  private onFrame(payload: Uint8Array): void {
    if (this.closeInfo) return;
    const opened = this.receiver.open(payload);
    if (opened === undefined) {
      this.fail(
        new ProtocolError(
          'decrypt_failed',
          `frame ${this.receiver.count} failed authentication (tampered, replayed, reordered or dropped)`,
        ),
      );
      return;
    }
    const { flags, data } = opened;
    if ((flags & ~KNOWN_FRAME_FLAGS) !== 0 || flags === (FrameFlags.More | FrameFlags.Close)) {
      this.fail(new ProtocolError('malformed', `frame with invalid flags 0x${flags.toString(16)}`));
      return;
    }
    if (flags & FrameFlags.Close) {
      const reason = new TextDecoder().decode(data);
      this.finish({ by: 'peer', message: reason || 'closed by peer' });
      return;
    }
    if (flags & FrameFlags.More && data.length === 0) {
      this.fail(new ProtocolError('malformed', 'empty frame with the MORE flag'));
      return;
    }
    if (this.partBytes + data.length > this.maxMessageBytes) {
      this.fail(
        new ProtocolError(
          'message_too_large',
          `incoming message exceeds the cap of ${this.maxMessageBytes} bytes`,
        ),
      );
      return;
    }
    if (flags & FrameFlags.More) {
      this.parts.push(data);
      this.partBytes += data.length;
      return;
    }
    let message = data;
    if (this.parts.length > 0) {
      message = new Uint8Array(this.partBytes + data.length);
      let at = 0;
      for (const part of this.parts) {
        message.set(part, at);
        at += part.length;
      }
      message.set(data, at);
      this.parts = [];
      this.partBytes = 0;
    }
    for (const listener of [...this.messageListeners]) {
      try {
        listener(message);
      } catch (err) {
        this.fail(
          new ProtocolError('internal', `a message listener threw: ${String(err)}`, { cause: err }),
        );
        return;
      }
      if (this.closed) return;
    }
  }

  private fail(error: ProtocolError): void {
    if (this.closeInfo) return;
    this.finish({ by: 'local', message: error.message, error });
  }

  private finish(info: ChannelClose): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    this.parts = [];
    this.offDrain();
    this.queue.fail(info.error ?? new ProtocolError('closed', info.message));
    this.queue.close(info.message);
    const error = new ProtocolError('closed', `channel closed: ${info.message}`, {
      cause: info.error,
    });
    for (const waiter of this.drainWaiters) waiter.reject(error);
    this.drainWaiters = [];
    for (const listener of [...this.closeListeners]) {
      try {
        listener(info);
      } catch {
        // A close listener cannot undo the close; its failure is not ours to report.
      }
    }
    this.closeListeners.clear();
    this.messageListeners.clear();
  }

  private resolveDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }
}
