/**
 * A Transport wrapper that can look at the first bytes of an incoming stream before handing it to
 * the handshake, which then reads the stream from its start. The SyncWorker uses it to see whether
 * an incoming HELLO_I asks for pairing (flag bit 0) and route it to the pairing flow.
 *
 * It listens on the inner transport from construction on and buffers chunks while nobody else
 * listens (at most `maxBufferedBytes`, beyond that the connection is closed), so no byte is lost
 * between the peek and the handshake.
 */
import type { Transport } from '../transport/Transport';

const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024;

export class PeekableTransport implements Transport {
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  private readonly listeners = new Set<(chunk: Uint8Array) => void>();
  private replaying = false;
  private peekWaiters: (() => void)[] = [];
  private ended = false;

  constructor(
    private readonly inner: Transport,
    private readonly maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES,
  ) {
    inner.onData((chunk) => {
      this.onInnerData(chunk);
    });
    inner.onClose(() => {
      this.ended = true;
      this.wakePeekers();
    });
  }

  get description(): string {
    return this.inner.description;
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  /**
   * Resolves with the first `n` bytes of the stream once they have arrived (copied), or with
   * undefined when the stream ends or `timeoutMs` passes first.
   */
  async peek(n: number, timeoutMs: number): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.bufferedBytes < n) {
      if (this.ended || this.listeners.size > 0) return undefined;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.peekWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.buffered) {
      if (at >= n) break;
      const take = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, take), at);
      at += take;
    }
    return out;
  }

  write(chunk: Uint8Array): boolean {
    return this.inner.write(chunk);
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    if (this.buffered.length > 0 && !this.replaying) {
      this.replaying = true;
      queueMicrotask(() => {
        this.replaying = false;
        const chunks = this.buffered;
        this.buffered = [];
        this.bufferedBytes = 0;
        for (const chunk of chunks) this.deliver(chunk);
      });
    }
    return () => this.listeners.delete(listener);
  }

  onDrain(listener: () => void): () => void {
    return this.inner.onDrain(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.inner.onClose(listener);
  }

  pause(): void {
    this.inner.pause();
  }

  resume(): void {
    this.inner.resume();
  }

  close(reason?: string): void {
    this.inner.close(reason);
  }

  private onInnerData(chunk: Uint8Array): void {
    if (this.listeners.size === 0 || this.replaying) {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes > this.maxBufferedBytes) {
        this.inner.close('too much data before the handshake');
      }
      this.wakePeekers();
      return;
    }
    this.deliver(chunk);
  }

  private deliver(chunk: Uint8Array): void {
    for (const listener of [...this.listeners]) listener(chunk);
  }

  private wakePeekers(): void {
    const waiters = this.peekWaiters;
    this.peekWaiters = [];
    for (const wake of waiters) wake();
  }
}
