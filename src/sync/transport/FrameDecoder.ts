/**
 * Splits a byte stream into length-prefixed frames: u32 big-endian length, then that many bytes.
 *
 * Incoming chunks are kept in a list and only copied when a frame spans several of them; a frame
 * that lies inside one chunk is returned as a zero-copy subarray of it. A length above the cap is
 * refused as soon as its 4 header bytes arrive, before anything is allocated for it, and the
 * decoder stays failed afterwards (the stream cannot be resynchronised).
 */
export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export class FrameTooLargeError extends Error {
  constructor(
    readonly length: number,
    readonly maxFrameBytes: number,
  ) {
    super(`frame of ${length} bytes exceeds the cap of ${maxFrameBytes} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * A partial frame held as a list of more than this many chunks is moved into one buffer of the
 * frame's size, and later chunks are copied straight into it: a peer trickling a frame in tiny
 * chunks costs one copy per byte and a bounded list, never a quadratic amount of work.
 */
const MAX_LISTED_CHUNKS = 16;

export class FrameDecoder {
  /** Largest accepted frame payload, in bytes (the 4-byte header not counted). May be changed. */
  maxFrameBytes: number;
  private chunks: Uint8Array[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  /** Bytes held in `chunks` (after `offset`). */
  private listed = 0;
  /** Length of the frame being assembled, once its header has been read; else -1. */
  private pending = -1;
  /** Buffer of the pending frame once it has been moved out of the list. */
  private assembly: Uint8Array | undefined;
  private assembled = 0;
  private failure: FrameTooLargeError | undefined;

  constructor(options: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received and held, not yet returned as frames (parsed headers not counted). */
  get bufferedBytes(): number {
    return this.listed + this.assembled;
  }

  /**
   * Adds a chunk and returns the frames it completes, in order. Throws FrameTooLargeError for an
   * oversize length (then on every later call). The chunk must not be modified afterwards: frames
   * may be views of it.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    const frames: Uint8Array[] = [];
    let rest = chunk;
    if (this.assembly !== undefined) {
      const count = Math.min(rest.length, this.assembly.length - this.assembled);
      this.assembly.set(rest.subarray(0, count), this.assembled);
      this.assembled += count;
      rest = rest.subarray(count);
      if (this.assembled < this.assembly.length) return frames;
      frames.push(this.assembly);
      this.assembly = undefined;
      this.assembled = 0;
      this.pending = -1;
    }
    if (rest.length > 0) {
      this.chunks.push(rest);
      this.listed += rest.length;
    }
    for (;;) {
      if (this.pending < 0) {
        if (this.listed < FRAME_HEADER_BYTES) break;
        const length = this.readHeader();
        if (length > this.maxFrameBytes) {
          this.failure = new FrameTooLargeError(length, this.maxFrameBytes);
          this.chunks = [];
          this.listed = 0;
          this.offset = 0;
          throw this.failure;
        }
        this.pending = length;
      }
      if (this.listed >= this.pending) {
        frames.push(this.take(this.pending));
        this.pending = -1;
        continue;
      }
      if (this.chunks.length > MAX_LISTED_CHUNKS) {
        const listed = this.listed;
        this.assembly = new Uint8Array(this.pending);
        this.assembly.set(this.take(listed), 0);
        this.assembled = listed;
      }
      break;
    }
    return frames;
  }

  private readHeader(): number {
    const bytes = this.take(FRAME_HEADER_BYTES);
    return (
      (bytes[0] ?? 0) * 0x1000000 +
      (((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0))
    );
  }

  /** Removes `n` listed bytes (n ≤ listed): a view when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    const head = this.chunks[0];
    if (head === undefined || n === 0) return new Uint8Array(0);
    if (head.length - this.offset >= n) {
      const view = head.subarray(this.offset, this.offset + n);
      this.advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) break;
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.advance(count);
    }
    return out;
  }

  private advance(n: number): void {
    this.listed -= n;
    this.offset += n;
    const head = this.chunks[0];
    if (head !== undefined && this.offset >= head.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/** A frame for the wire: the u32 big-endian length of `payload`, then `payload` (one copy). */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export function writeFrameHeader(target: Uint8Array, offset: number, length: number): void {
  target[offset] = (length >>> 24) & 0xff;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
}
