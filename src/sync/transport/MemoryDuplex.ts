/**
 * An in-memory Transport pair for tests and benchmarks. Bytes are copied on write and delivered
 * asynchronously (a microtask later), in order, optionally cut into small chunks. An optional
 * frame interceptor sees the stream as u32-BE length-prefixed frames and decides what the other
 * side receives instead: drop, tamper, duplicate (replay) or hold back (reorder).
 */
import { FrameDecoder, encodeFrame } from './FrameDecoder';
import type { Transport } from './Transport';

export type Direction = 'a->b' | 'b->a';

/**
 * Called for every frame written, with its payload (without the length header) and its index in
 * that direction (0 = first). Returns the payloads to deliver, in order, in its place.
 */
export type FrameInterceptor = (
  payload: Uint8Array,
  index: number,
  direction: Direction,
) => readonly Uint8Array[];

export interface MemoryDuplexOptions {
  /** Deliver in chunks of at most this many bytes (default: as written). */
  readonly chunkSize?: number;
  /** write() returns false while more than this many bytes wait for the peer (default 1 MiB). */
  readonly highWaterMark?: number;
  readonly intercept?: FrameInterceptor;
}

type InboxItem = { readonly kind: 'data'; readonly bytes: Uint8Array } | { readonly kind: 'end' };

export class MemoryDuplex implements Transport {
  private peer: MemoryDuplex | undefined;
  private readonly inbox: InboxItem[] = [];
  private inboxBytes = 0;
  private flushScheduled = false;
  private paused = false;
  private isClosed = false;
  private closeNotified = false;
  private wantDrain = false;
  private frameIndex = 0;
  private readonly interceptDecoder: FrameDecoder | undefined;
  private readonly dataListeners = new Set<(chunk: Uint8Array) => void>();
  private readonly drainListeners = new Set<() => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();

  private constructor(
    readonly description: string,
    private readonly direction: Direction,
    private readonly options: MemoryDuplexOptions,
  ) {
    this.interceptDecoder = options.intercept
      ? new FrameDecoder({ maxFrameBytes: 0xffffffff })
      : undefined;
  }

  /** Two connected endpoints: what `a` writes, `b` reads, and back. */
  static pair(options: MemoryDuplexOptions = {}): [MemoryDuplex, MemoryDuplex] {
    const a = new MemoryDuplex('memory a', 'a->b', options);
    const b = new MemoryDuplex('memory b', 'b->a', options);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  get closed(): boolean {
    return this.isClosed;
  }

  write(chunk: Uint8Array): boolean {
    const peer = this.peer;
    if (this.isClosed || peer === undefined || peer.isClosed) return false;
    if (chunk.length === 0) return true;
    const copy = Uint8Array.from(chunk);
    if (this.interceptDecoder && this.options.intercept) {
      for (const frame of this.interceptDecoder.push(copy)) {
        const index = this.frameIndex++;
        for (const out of this.options.intercept(frame, index, this.direction)) {
          peer.enqueue({ kind: 'data', bytes: encodeFrame(out) });
        }
      }
    } else {
      peer.enqueue({ kind: 'data', bytes: copy });
    }
    const below = peer.inboxBytes <= (this.options.highWaterMark ?? 1024 * 1024);
    if (!below) this.wantDrain = true;
    return below;
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.dataListeners.add(listener);
    this.scheduleFlush();
    return () => this.dataListeners.delete(listener);
  }

  onDrain(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.scheduleFlush();
  }

  /** Flushes what was written to the peer, then ends both sides. */
  close(_reason?: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.inbox.length = 0;
    this.inboxBytes = 0;
    this.peer?.enqueue({ kind: 'end' });
    queueMicrotask(() => {
      this.notifyClose(undefined);
    });
  }

  /** Breaks the link at once, both sides, without flushing (a crash or a cut cable). */
  destroy(error: Error = new Error('memory transport destroyed')): void {
    for (const side of [this, this.peer]) {
      if (side === undefined) continue;
      side.isClosed = true;
      side.inbox.length = 0;
      side.inboxBytes = 0;
      queueMicrotask(() => {
        side.notifyClose(error);
      });
    }
  }

  private enqueue(item: InboxItem): void {
    if (this.isClosed) return;
    this.inbox.push(item);
    if (item.kind === 'data') this.inboxBytes += item.bytes.length;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (!this.paused && !this.isClosed && this.dataListeners.size > 0) {
      const item = this.inbox.shift();
      if (item === undefined) break;
      if (item.kind === 'end') {
        this.isClosed = true;
        this.inbox.length = 0;
        this.inboxBytes = 0;
        this.notifyClose(undefined);
        break;
      }
      const size = Math.max(1, this.options.chunkSize ?? item.bytes.length);
      const piece = item.bytes.subarray(0, size);
      const remainder = item.bytes.subarray(size);
      this.inboxBytes -= piece.length;
      if (remainder.length > 0) this.inbox.unshift({ kind: 'data', bytes: remainder });
      for (const listener of [...this.dataListeners]) listener(piece);
    }
    if (!this.isClosed && this.dataListeners.size === 0 && this.inbox[0]?.kind === 'end') {
      // Nobody reads: still report the end.
      this.isClosed = true;
      this.inbox.length = 0;
      this.notifyClose(undefined);
    }
    const writer = this.peer;
    if (writer?.wantDrain && this.inboxBytes <= (this.options.highWaterMark ?? 1024 * 1024)) {
      writer.wantDrain = false;
      for (const listener of [...writer.drainListeners]) listener();
    }
  }

  private notifyClose(error: Error | undefined): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    for (const listener of [...this.closeListeners]) listener(error);
  }
}
