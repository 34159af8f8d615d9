/**
 * Frames from a Transport, for the handshake (pull: `await next()`) and then for the secure
 * channel (push: `setHandler`). Frames that arrive before anyone asks stay queued, undecoded:
 * frames a peer pipelines behind its handshake are never looked at when the handshake fails.
 */
import { FrameDecoder, FrameTooLargeError } from '../transport/FrameDecoder';
import type { Transport } from '../transport/Transport';
import { ProtocolError } from './ProtocolError';

export interface FrameHandler {
  /** One frame payload. */
  frame(payload: Uint8Array): void;
  /** The stream ended (after every queued frame was handed over), or failed. */
  end(error: ProtocolError): void;
}

export class FrameQueue {
  readonly decoder: FrameDecoder;
  /** Rejects when the queue fails (use in Promise.race); never resolves. */
  readonly failed: Promise<never>;
  private readonly frames: Uint8Array[] = [];
  private failure: ProtocolError | undefined;
  /** Set when the transport ended: reported once the queued frames are consumed. */
  private ended: ProtocolError | undefined;
  private waiter:
    { resolve: (frame: Uint8Array) => void; reject: (err: ProtocolError) => void } | undefined;
  private handler: FrameHandler | undefined;
  private paused = false;
  private holding = false;
  private transportPaused = false;
  private queuedBytes = 0;
  private pumping = false;
  private endReported = false;
  private rejectFailed: (err: ProtocolError) => void = () => undefined;
  private readonly unsubscribe: (() => void)[];

  constructor(
    readonly transport: Transport,
    maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes });
    this.failed = new Promise<never>((_resolve, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined); // observed through races; never unhandled
    this.unsubscribe = [
      transport.onData((chunk) => {
        this.onData(chunk);
      }),
      transport.onClose((error) => {
        this.onTransportClose(error);
      }),
    ];
    if (transport.closed) this.onTransportClose(undefined);
  }

  /** The next frame; rejects when the queue failed, or the stream ended with nothing queued. */
  next(): Promise<Uint8Array> {
    const frame = this.shift();
    if (frame !== undefined) {
      this.updateTransport();
      return Promise.resolve(frame);
    }
    const error = this.failure ?? this.ended;
    if (error) return Promise.reject(error);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** `promise`, unless the queue fails first. */
  guard<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.failed]);
  }

  /** Fails the queue now (timeout, protocol violation): queued frames are dropped unread. */
  fail(error: ProtocolError): void {
    if (this.failure) return;
    this.failure = error;
    this.frames.length = 0;
    this.queuedBytes = 0;
    this.rejectFailed(error);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
    this.reportEnd(error);
  }

  /** Switches to push mode: queued frames first, then new ones, while not paused. */
  setHandler(handler: FrameHandler): void {
    this.handler = handler;
    this.pump();
  }

  /** Flow control: stops handing frames over and stops reading the transport. */
  pause(): void {
    this.paused = true;
    this.updateTransport();
  }

  resume(): void {
    this.paused = false;
    this.updateTransport();
    this.pump();
  }

  /**
   * Keeps frames queued, unread, while the transport goes on reading (up to a bound, then it is
   * paused). If the stream ends meanwhile, the end is reported at once and the frames dropped.
   */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    this.updateTransport();
    this.pump();
  }

  write(bytes: Uint8Array): boolean {
    return this.transport.write(bytes);
  }

  /** Stops listening and closes the transport. */
  close(reason: string): void {
    for (const off of this.unsubscribe) off();
    this.transport.close(reason);
  }

  private onData(chunk: Uint8Array): void {
    if (this.failure) return;
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.fail(new ProtocolError('frame_too_large', err.message, { cause: err }));
        return;
      }
      throw err;
    }
    for (const frame of frames) {
      const waiter = this.waiter;
      if (waiter) {
        this.waiter = undefined;
        waiter.resolve(frame);
      } else {
        this.frames.push(frame);
        this.queuedBytes += frame.length;
      }
    }
    this.updateTransport();
    this.pump();
  }

  private onTransportClose(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = new ProtocolError(
      'closed',
      error ? `transport failed: ${error.message}` : 'the peer closed the connection',
      error ? { cause: error } : undefined,
    );
    if (this.frames.length === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter?.reject(this.ended);
      // During the handshake, stop waiting on hooks (isTrusted, key derivation) too.
      if (this.handler === undefined) this.rejectFailed(this.ended);
    }
    this.pump();
  }

  private pump(): void {
    const handler = this.handler;
    if (handler === undefined || this.pumping) return;
    this.pumping = true;
    try {
      while (!this.paused && !this.holding && !this.failure) {
        const frame = this.shift();
        if (frame === undefined) break;
        handler.frame(frame);
      }
    } finally {
      this.pumping = false;
    }
    if (this.ended && !this.failure && (this.frames.length === 0 || this.holding)) {
      this.frames.length = 0;
      this.queuedBytes = 0;
      this.reportEnd(this.ended);
    }
    this.updateTransport();
  }

  private shift(): Uint8Array | undefined {
    const frame = this.frames.shift();
    if (frame !== undefined) this.queuedBytes -= frame.length;
    return frame;
  }

  /** The transport reads unless paused, or unless too much is queued unread. */
  private updateTransport(): void {
    const unread = this.holding || this.handler === undefined;
    const shouldPause =
      this.paused || (unread && this.queuedBytes > 4 * this.decoder.maxFrameBytes);
    if (shouldPause === this.transportPaused || this.failure || this.ended) return;
    this.transportPaused = shouldPause;
    if (shouldPause) this.transport.pause();
    else this.transport.resume();
  }

  private reportEnd(error: ProtocolError): void {
    if (this.endReported || this.handler === undefined) return;
    this.endReported = true;
    this.handler.end(error);
  }
}
