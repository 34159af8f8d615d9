/**
 * A reliable, ordered byte stream between two peers (TCP, an in-memory pair in tests, later a
 * WebRTC data channel). It knows nothing about frames or encryption: FrameDecoder and the secure
 * channel sit on top. Every listener method returns a function that removes the listener.
 */
export interface Transport {
  /** For diagnostics, e.g. `tcp 192.168.1.4:53311` or `memory a`. */
  readonly description: string;
  readonly closed: boolean;
  /**
   * Queues bytes for the peer. The transport does not keep a reference to `chunk` after returning
   * (or the caller does not modify it). Returns false when the send buffer is above its
   * high-water mark: wait for `onDrain` before writing much more. Writes after close are ignored.
   */
  write(chunk: Uint8Array): boolean;
  onData(listener: (chunk: Uint8Array) => void): () => void;
  onDrain(listener: () => void): () => void;
  /** Called once when the stream ends for any reason; `error` is set when it failed. */
  onClose(listener: (error?: Error) => void): () => void;
  /** Stops delivering data until `resume` (the peer is slowed by flow control). */
  pause(): void;
  resume(): void;
  /** Flushes what was written, then closes. Idempotent. `reason` is for local diagnostics only. */
  close(reason?: string): void;
}
