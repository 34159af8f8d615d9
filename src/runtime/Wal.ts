/**
 * The Engine's write-ahead log: an append-only, checksummed, group-committed log of Yjs updates
 * and local-only intents in one directory, compacted into a snapshot past a size threshold.
 *
 * Files in `dir`
 *  - `wal-NNNNNNNN.log`  log segments (8-digit decimal number, ascending, contiguous).
 *  - `snapshot.bin`      the latest snapshot: it holds the state of every segment below
 *                        `snapshot.segment`; replay reads it, then segments >= that number.
 *  - `snapshot.tmp`      a snapshot being written; deleted on open.
 *
 * Record frame (little-endian): [u32 length][u32 crc32][u8 type][payload], where `length` counts
 * the type byte plus the payload and the CRC-32 covers the same bytes. Types:
 *  1 yjs update     [f64 version][u8 origin: 0 local, 1 peer][if peer: u16 n][n bytes peer id utf8][update]
 *  2 local intent   JSON {v: version, t: tick time, q: {intent, source, queuedAt, seq}};
 *                   Uint8Array values are written as {"$b64": "<base64>"}.
 *  3 snapshot mark  JSON {segment, version}: first record of a segment started by a compaction.
 *  4 remote counted a local intent `RemoteUpdateReceived` whose update is empty (the Engine's
 *                   record of "an update from this peer was applied"; its bytes are in a type-1
 *                   record): [f64 version][f64 tick time][f64 queuedAt][f64 seq]
 *                   [u8 n][n bytes source, latin1][u16 m][m bytes peer id utf8]. Decodes to the
 *                   same local-intent record as its JSON form would.
 * A frame longer than `maxRecordBytes` (default 64 MiB) is invalid, so a garbage length can never
 * make replay allocate or read gigabytes.
 *
 * Snapshot file: ['TWSN'][u32 format = 1][u32 crc32 of body][u32 body length][body], body =
 * [u32 header length][header JSON {segment, version, state}][Y.encodeStateAsUpdate bytes].
 *
 * Group commit: `append` only encodes and buffers. `commit()` resolves once everything appended
 * before it is durable. One I/O loop writes each group with one write and one fdatasync; commits
 * that arrive while a write/fsync is in flight are coalesced into the next group.
 *
 * Compaction (`compact(snapshot)`, called at a tick boundary with the state that includes every
 * record appended so far). Order, with what a crash at each point leaves:
 *  1. the pending group is written and fsynced into the current segment N.
 *     crash: old snapshot (if any) + segments <= N replay to the same state.
 *  2. segment N+1 is created with a snapshot-marker record, fsynced, directory fsynced.
 *     crash: old snapshot + segments <= N + an (almost) empty N+1: same state.
 *  3. the snapshot is written to snapshot.tmp, fsynced, renamed over snapshot.bin, directory
 *     fsynced. crash before the rename: the tmp file is ignored and deleted on open (state as in
 *     2); after it: the new snapshot plus segments >= N+1, older segments are ignored.
 *  4. segments < N+1 are deleted, directory fsynced. crash: leftovers are deleted on next open.
 * Records appended after `compact` was called go to segment N+1 once step 3 is done.
 *
 * Replay (in `Wal.open`): the snapshot, then every live segment in order. A bad record (short
 * header, short payload, length 0 or over the cap, bad CRC, unknown type) in the last segment with
 * no valid record anywhere after it is a torn tail: it and what follows are dropped with an
 * `engine.wal.torn_tail` warning and the file is truncated to the last good record. Any other bad
 * record (earlier segment, or valid records after it) is a hard error: `engine.wal.corrupt` and a
 * thrown WalCorruptError naming the file, byte position and record index. (The "is anything valid
 * after it" scan treats a tail of zeros or garbage from a partially persisted write as torn, while a
 * flipped byte in the middle of the log is always reported.)
 *
 * Any write or fsync failure is fatal for this Wal: `commit()` and `compact()` reject with it from
 * then on (the caller reports it); nothing is retried behind its back.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { TwinspaceError, describeError } from '../core/errors';
import type { IntentSource, QueuedIntent } from '../core/intents';
import type { Diagnostics } from './Diagnostics';

export const RECORD_HEADER_BYTES = 8;
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
export const DEFAULT_COMPACT_THRESHOLD_BYTES = 8 * 1024 * 1024;
export const SNAPSHOT_FILE = 'snapshot.bin';
export const SNAPSHOT_TMP_FILE = 'snapshot.tmp';
const SNAPSHOT_MAGIC = 0x4e535754; // 'TWSN' little-endian
const SNAPSHOT_FORMAT = 1;
const SEGMENT_RE = /^wal-(\d{8})\.log$/;

const TYPE_YJS = 1;
const TYPE_INTENT = 2;
const TYPE_MARKER = 3;
const TYPE_REMOTE_COUNTED = 4;

function knownType(type: number | undefined): boolean {
  return (
    type === TYPE_YJS ||
    type === TYPE_INTENT ||
    type === TYPE_MARKER ||
    type === TYPE_REMOTE_COUNTED
  );
}

/** What the Engine appends. `peerId` absent means the update was made locally. */
export type WalEntry =
  | {
      readonly type: 'yjs-update';
      readonly version: number;
      readonly update: Uint8Array;
      readonly peerId?: string;
    }
  | {
      readonly type: 'local-intent';
      readonly version: number;
      /** The Engine tick time the intent was reduced at. */
      readonly now: number;
      readonly queued: QueuedIntent;
    };

/** What replay yields: the appended entries plus the markers compaction wrote. */
export type WalRecord =
  | WalEntry
  | { readonly type: 'snapshot-marker'; readonly segment: number; readonly version: number };

export interface WalSnapshot {
  /** The Engine state version the snapshot was taken at. */
  readonly version: number;
  /** The Engine's local (reducer-owned) state, JSON-serialisable. */
  readonly localState: unknown;
  /** Y.encodeStateAsUpdate of the replicated document. */
  readonly ydoc: Uint8Array;
}

export interface WalReplay {
  readonly snapshot?: WalSnapshot;
  readonly records: readonly WalRecord[];
  /** Set when a torn final record was dropped. */
  readonly tornTail?: {
    readonly file: string;
    readonly position: number;
    readonly droppedBytes: number;
    readonly reason: string;
  };
}

export interface WalStats {
  /** Segment currently appended to. */
  readonly segment: number;
  /** Bytes in that segment, including records buffered but not yet written. */
  readonly segmentBytes: number;
  /** Group writes (one write + one fdatasync each). */
  readonly groupCommits: number;
  /** Every fsync/fdatasync issued, including those of compaction. */
  readonly fsyncs: number;
  readonly recordsCommitted: number;
  readonly bytesCommitted: number;
  readonly compactions: number;
}

export interface WalOptions {
  readonly dir: string;
  readonly diagnostics: Diagnostics;
  /** Compaction is suggested (`shouldCompact`) once a segment reaches this size. Default 8 MiB. */
  readonly compactThresholdBytes?: number;
  /** Hard cap on one record frame. Default 64 MiB. */
  readonly maxRecordBytes?: number;
}

/** A bad record that is not a torn tail: replay cannot continue. */
export class WalCorruptError extends TwinspaceError {
  constructor(
    readonly file: string,
    readonly position: number,
    readonly recordIndex: number,
    readonly detail: string,
  ) {
    super(
      'internal',
      `WAL corrupt: ${file} at byte ${position} (record #${recordIndex}): ${detail}`,
    );
    this.name = 'WalCorruptError';
  }
}

// -------------------------------------------------------------------------------------------------
// CRC-32 (IEEE), zlib's when available (Node >= 20.15), else a table.

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
let crcTable: Uint32Array | undefined;

export function crc32(data: Uint8Array): number {
  if (nativeCrc32 !== undefined) return nativeCrc32(data) >>> 0;
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// -------------------------------------------------------------------------------------------------
// Encoding

/**
 * Where encoded frames go: an arena of large buffers, so appending a record allocates nothing but
 * (rarely) a new arena block.
 */
class FrameWriter {
  readonly chunks: Buffer[] = [];
  private block: Buffer | undefined;
  private pos = 0;
  bytes = 0;

  constructor(private readonly blockSize = 64 * 1024) {}

  /** Room for `size` bytes; returns the buffer and the offset to write at. */
  reserve(size: number): [Buffer, number] {
    let block = this.block;
    if (block === undefined || this.pos + size > block.length) {
      if (block !== undefined && this.pos > 0) this.chunks.push(block.subarray(0, this.pos));
      block = Buffer.allocUnsafeSlow(Math.max(this.blockSize, size));
      this.block = block;
      this.pos = 0;
    }
    const at = this.pos;
    this.pos += size;
    this.bytes += size;
    return [block, at];
  }

  /** Everything written so far, as one buffer. */
  take(): Buffer {
    const parts =
      this.block !== undefined && this.pos > 0
        ? [...this.chunks, this.block.subarray(0, this.pos)]
        : this.chunks;
    return parts.length === 1 ? (parts[0] ?? Buffer.alloc(0)) : Buffer.concat(parts, this.bytes);
  }
}

function hasBytes(intent: object): boolean {
  for (const value of Object.values(intent)) if (value instanceof Uint8Array) return true;
  return false;
}

function checkCap(length: number, maxRecordBytes: number): void {
  if (length > maxRecordBytes) {
    throw new TwinspaceError(
      'validation',
      `WAL record of ${length} bytes exceeds the ${maxRecordBytes}-byte cap`,
    );
  }
}

function writeJsonFrame(
  out: FrameWriter,
  type: number,
  json: string,
  maxRecordBytes: number,
): number {
  const n = Buffer.byteLength(json, 'utf8');
  const length = 1 + n;
  checkCap(length, maxRecordBytes);
  const [buf, at] = out.reserve(RECORD_HEADER_BYTES + length);
  buf.writeUInt32LE(length, at);
  buf[at + RECORD_HEADER_BYTES] = type;
  buf.write(json, at + RECORD_HEADER_BYTES + 1, n, 'utf8');
  const start = at + RECORD_HEADER_BYTES;
  buf.writeUInt32LE(crc32(buf.subarray(start, start + length)), at + 4);
  return RECORD_HEADER_BYTES + length;
}

/** Encodes one record as a frame into `out`; returns the frame size. */
function writeRecord(out: FrameWriter, record: WalRecord, maxRecordBytes: number): number {
  switch (record.type) {
    case 'yjs-update': {
      const peerId = record.peerId;
      const peerBytes = peerId === undefined ? 0 : Buffer.byteLength(peerId, 'utf8');
      if (peerId !== undefined && (peerBytes === 0 || peerBytes > 0xffff)) {
        throw new TwinspaceError('validation', 'peer id must be 1..65535 bytes of UTF-8');
      }
      const update = record.update;
      const length = 1 + 8 + 1 + (peerId === undefined ? 0 : 2 + peerBytes) + update.length;
      checkCap(length, maxRecordBytes);
      const [buf, at] = out.reserve(RECORD_HEADER_BYTES + length);
      const start = at + RECORD_HEADER_BYTES;
      buf.writeUInt32LE(length, at);
      buf[start] = TYPE_YJS;
      buf.writeDoubleLE(record.version, start + 1);
      let p = start + 9;
      if (peerId === undefined) {
        buf[p++] = 0;
      } else {
        buf[p++] = 1;
        buf.writeUInt16LE(peerBytes, p);
        p += 2;
        p += buf.write(peerId, p, peerBytes, 'utf8');
      }
      buf.set(update, p);
      buf.writeUInt32LE(crc32(buf.subarray(start, start + length)), at + 4);
      return RECORD_HEADER_BYTES + length;
    }
    case 'local-intent': {
      const q = record.queued;
      const intent = q.intent;
      if (intent.type === 'RemoteUpdateReceived' && intent.update.length === 0) {
        // The common case (the update bytes are in the WAL as a yjs record): a binary form.
        const sourceBytes = Buffer.byteLength(q.source, 'latin1');
        const peerBytes = Buffer.byteLength(intent.peerId, 'utf8');
        if (peerBytes > 0xffff) {
          throw new TwinspaceError('validation', 'peer id must be at most 65535 bytes of UTF-8');
        }
        const length = 1 + 32 + 1 + sourceBytes + 2 + peerBytes;
        const [buf, at] = out.reserve(RECORD_HEADER_BYTES + length);
        const start = at + RECORD_HEADER_BYTES;
        buf.writeUInt32LE(length, at);
        buf[start] = TYPE_REMOTE_COUNTED;
        buf.writeDoubleLE(record.version, start + 1);
        buf.writeDoubleLE(record.now, start + 9);
        buf.writeDoubleLE(q.queuedAt, start + 17);
        buf.writeDoubleLE(q.seq, start + 25);
        let p = start + 33;
        buf[p++] = sourceBytes;
        p += buf.write(q.source, p, sourceBytes, 'latin1');
        buf.writeUInt16LE(peerBytes, p);
        p += 2;
        buf.write(intent.peerId, p, peerBytes, 'utf8');
        buf.writeUInt32LE(crc32(buf.subarray(start, start + length)), at + 4);
        return RECORD_HEADER_BYTES + length;
      }
      const body = {
        v: record.version,
        t: record.now,
        q: { intent: q.intent, source: q.source, queuedAt: q.queuedAt, seq: q.seq },
      };
      const json = hasBytes(q.intent) ? JSON.stringify(body, jsonReplacer) : JSON.stringify(body);
      return writeJsonFrame(out, TYPE_INTENT, json, maxRecordBytes);
    }
    case 'snapshot-marker':
      return writeJsonFrame(
        out,
        TYPE_MARKER,
        JSON.stringify({ segment: record.segment, version: record.version }),
        maxRecordBytes,
      );
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return {
      $b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
    };
  }
  return value;
}

function jsonReviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const b64 = (value as { $b64?: unknown }).$b64;
    if (keys.length === 1 && typeof b64 === 'string') {
      return Uint8Array.from(Buffer.from(b64, 'base64'));
    }
  }
  return value;
}

/** Encodes one record as a complete frame. */
export function encodeRecord(record: WalRecord): Buffer {
  const out = new FrameWriter(0);
  writeRecord(out, record, DEFAULT_MAX_RECORD_BYTES);
  return out.take();
}

/** Decodes a frame body (type byte + payload) whose CRC already matched. Throws on bad shape. */
function decodeBody(body: Buffer): WalRecord {
  const type = body[0];
  const payload = body.subarray(1);
  switch (type) {
    case TYPE_YJS: {
      if (payload.length < 9) throw new Error('yjs record too short');
      const version = payload.readDoubleLE(0);
      const kind = payload[8];
      let p = 9;
      let peerId: string | undefined;
      if (kind === 1) {
        if (payload.length < p + 2) throw new Error('yjs record: short peer id length');
        const n = payload.readUInt16LE(p);
        p += 2;
        if (n === 0 || payload.length < p + n) throw new Error('yjs record: bad peer id');
        peerId = payload.toString('utf8', p, p + n);
        p += n;
      } else if (kind !== 0) {
        throw new Error(`yjs record: unknown origin kind ${String(kind)}`);
      }
      const update = Uint8Array.from(payload.subarray(p));
      return peerId === undefined
        ? { type: 'yjs-update', version, update }
        : { type: 'yjs-update', version, update, peerId };
    }
    case TYPE_INTENT: {
      const text = payload.toString('utf8');
      const raw = JSON.parse(text, text.includes('"$b64"') ? jsonReviver : undefined) as {
        v?: unknown;
        t?: unknown;
        q?: { intent?: unknown; source?: unknown; queuedAt?: unknown; seq?: unknown };
      };
      const q = raw.q;
      if (
        typeof raw.v !== 'number' ||
        typeof raw.t !== 'number' ||
        q === undefined ||
        typeof q.intent !== 'object' ||
        q.intent === null ||
        typeof (q.intent as { type?: unknown }).type !== 'string' ||
        typeof q.source !== 'string' ||
        typeof q.queuedAt !== 'number' ||
        typeof q.seq !== 'number'
      ) {
        throw new Error('local intent record has the wrong shape');
      }
      return {
        type: 'local-intent',
        version: raw.v,
        now: raw.t,
        queued: {
          intent: q.intent as QueuedIntent['intent'],
          source: q.source as IntentSource,
          queuedAt: q.queuedAt,
          seq: q.seq,
        },
      };
    }
    case TYPE_REMOTE_COUNTED: {
      if (payload.length < 35) throw new Error('remote-counted record too short');
      const sourceBytes = payload[32] ?? 0;
      let p = 33 + sourceBytes;
      if (payload.length < p + 2) throw new Error('remote-counted record: short source');
      const source = payload.toString('latin1', 33, p) as IntentSource;
      const peerBytes = payload.readUInt16LE(p);
      p += 2;
      if (payload.length !== p + peerBytes) throw new Error('remote-counted record: bad peer id');
      return {
        type: 'local-intent',
        version: payload.readDoubleLE(0),
        now: payload.readDoubleLE(8),
        queued: {
          intent: {
            type: 'RemoteUpdateReceived',
            peerId: payload.toString('utf8', p, p + peerBytes),
            update: new Uint8Array(0),
          },
          source,
          queuedAt: payload.readDoubleLE(16),
          seq: payload.readDoubleLE(24),
        },
      };
    }
    case TYPE_MARKER: {
      const raw = JSON.parse(payload.toString('utf8')) as { segment?: unknown; version?: unknown };
      if (typeof raw.segment !== 'number' || typeof raw.version !== 'number') {
        throw new Error('snapshot marker has the wrong shape');
      }
      return { type: 'snapshot-marker', segment: raw.segment, version: raw.version };
    }
    default:
      throw new Error(`unknown record type ${String(type)}`);
  }
}

/** Checks the frame at `pos`: its total size when valid, else why not. */
function checkFrame(
  buf: Buffer,
  pos: number,
  maxRecordBytes: number,
): { ok: true; size: number } | { ok: false; reason: string } {
  const left = buf.length - pos;
  if (left < RECORD_HEADER_BYTES) return { ok: false, reason: `short header (${left} bytes)` };
  const length = buf.readUInt32LE(pos);
  if (length === 0) return { ok: false, reason: 'zero length' };
  if (length > maxRecordBytes) {
    return { ok: false, reason: `length ${length} exceeds the ${maxRecordBytes}-byte cap` };
  }
  if (left - RECORD_HEADER_BYTES < length) {
    return {
      ok: false,
      reason: `short payload (${left - RECORD_HEADER_BYTES} of ${length} bytes)`,
    };
  }
  const start = pos + RECORD_HEADER_BYTES;
  const type = buf[start];
  if (!knownType(type)) {
    // Checked after the CRC would be more precise, but a bad type fails the CRC just the same.
    if (crc32(buf.subarray(start, start + length)) !== buf.readUInt32LE(pos + 4)) {
      return { ok: false, reason: 'bad checksum' };
    }
    return { ok: false, reason: `unknown record type ${String(type)}` };
  }
  if (crc32(buf.subarray(start, start + length)) !== buf.readUInt32LE(pos + 4)) {
    return { ok: false, reason: 'bad checksum' };
  }
  return { ok: true, size: RECORD_HEADER_BYTES + length };
}

/** Whether a complete, valid frame starts anywhere in buf[from..]. */
function validFrameAfter(buf: Buffer, from: number, maxRecordBytes: number): number | undefined {
  const last = buf.length - RECORD_HEADER_BYTES - 1;
  for (let off = from; off <= last; off++) {
    const length = buf.readUInt32LE(off);
    if (
      length === 0 ||
      length > maxRecordBytes ||
      off + RECORD_HEADER_BYTES + length > buf.length
    ) {
      continue;
    }
    const type = buf[off + RECORD_HEADER_BYTES];
    if (!knownType(type)) continue;
    const start = off + RECORD_HEADER_BYTES;
    if (crc32(buf.subarray(start, start + length)) === buf.readUInt32LE(off + 4)) return off;
  }
  return undefined;
}

interface ParsedSegment {
  readonly records: WalRecord[];
  readonly goodLength: number;
  readonly torn?: { readonly position: number; readonly reason: string };
}

/**
 * Parses one segment. `tolerateTornTail` only for the last segment. Throws WalCorruptError.
 * Exported for tests and tools.
 */
export function parseSegment(
  buf: Buffer,
  file: string,
  tolerateTornTail: boolean,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): ParsedSegment {
  const records: WalRecord[] = [];
  let pos = 0;
  let index = 0;
  while (pos < buf.length) {
    const check = checkFrame(buf, pos, maxRecordBytes);
    if (!check.ok) {
      const next = validFrameAfter(buf, pos + 1, maxRecordBytes);
      if (tolerateTornTail && next === undefined) {
        return { records, goodLength: pos, torn: { position: pos, reason: check.reason } };
      }
      throw new WalCorruptError(
        file,
        pos,
        index,
        next === undefined
          ? `${check.reason} (not the last segment)`
          : `${check.reason}; a valid record follows at byte ${next}`,
      );
    }
    try {
      records.push(decodeBody(buf.subarray(pos + RECORD_HEADER_BYTES, pos + check.size)));
    } catch (error) {
      throw new WalCorruptError(file, pos, index, `undecodable record: ${describeError(error)}`);
    }
    pos += check.size;
    index += 1;
  }
  return { records, goodLength: pos };
}

function encodeSnapshot(segment: number, snapshot: WalSnapshot): Buffer {
  const header = Buffer.from(
    JSON.stringify({ segment, version: snapshot.version, state: snapshot.localState }),
    'utf8',
  );
  const bodyLength = 4 + header.length + snapshot.ydoc.length;
  const buf = Buffer.allocUnsafe(16 + bodyLength);
  buf.writeUInt32LE(SNAPSHOT_MAGIC, 0);
  buf.writeUInt32LE(SNAPSHOT_FORMAT, 4);
  buf.writeUInt32LE(bodyLength, 12);
  buf.writeUInt32LE(header.length, 16);
  header.copy(buf, 20);
  buf.set(snapshot.ydoc, 20 + header.length);
  buf.writeUInt32LE(crc32(buf.subarray(16)), 8);
  return buf;
}

function decodeSnapshot(buf: Buffer, file: string): { segment: number; snapshot: WalSnapshot } {
  const bad = (position: number, detail: string): WalCorruptError =>
    new WalCorruptError(file, position, 0, detail);
  if (buf.length < 20) throw bad(0, 'snapshot shorter than its header');
  if (buf.readUInt32LE(0) !== SNAPSHOT_MAGIC) throw bad(0, 'not a Twinspace snapshot');
  const format = buf.readUInt32LE(4);
  if (format !== SNAPSHOT_FORMAT) throw bad(4, `unsupported snapshot format ${format}`);
  const bodyLength = buf.readUInt32LE(12);
  if (bodyLength !== buf.length - 16) throw bad(12, 'snapshot length mismatch');
  if (crc32(buf.subarray(16)) !== buf.readUInt32LE(8)) throw bad(8, 'snapshot bad checksum');
  const headerLength = buf.readUInt32LE(16);
  if (20 + headerLength > buf.length) throw bad(16, 'snapshot header overruns the file');
  let header: { segment?: unknown; version?: unknown; state?: unknown };
  try {
    header = JSON.parse(buf.toString('utf8', 20, 20 + headerLength)) as typeof header;
  } catch (error) {
    throw bad(20, `snapshot header is not JSON: ${describeError(error)}`);
  }
  if (
    typeof header.segment !== 'number' ||
    !Number.isSafeInteger(header.segment) ||
    header.segment < 1 ||
    typeof header.version !== 'number'
  ) {
    throw bad(20, 'snapshot header has the wrong shape');
  }
  return {
    segment: header.segment,
    snapshot: {
      version: header.version,
      localState: header.state,
      ydoc: Uint8Array.from(buf.subarray(20 + headerLength)),
    },
  };
}

export function segmentFileName(segment: number): string {
  return `wal-${String(segment).padStart(8, '0')}.log`;
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Windows cannot open or fsync a directory; rename is durable there once it returns.
    if (process.platform !== 'win32') throw error;
  } finally {
    await handle?.close();
  }
}

async function writeAll(handle: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) {
    const { bytesWritten } = await handle.write(buf, offset, buf.length - offset);
    offset += bytesWritten;
  }
}

// -------------------------------------------------------------------------------------------------
// The log

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Marked handled: a failure is reported through whoever awaits commit(), or not at all.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface Group {
  readonly out: FrameWriter;
  records: number;
  requested: boolean;
  readonly done: Deferred;
}

function newGroup(): Group {
  return { out: new FrameWriter(), records: 0, requested: false, done: deferred() };
}

type Op =
  | { readonly kind: 'flush'; readonly group: Group }
  | {
      readonly kind: 'compact';
      readonly segment: number;
      readonly snapshot: WalSnapshot;
      readonly done: Deferred;
    };

export class Wal {
  readonly dir: string;
  private readonly diagnostics: Diagnostics;
  private readonly threshold: number;
  private readonly maxRecordBytes: number;

  /** Segment the I/O loop writes to, and its handle. */
  private writeSegment: number;
  private handle: FileHandle;
  /** Segment `append` goes to (one ahead of writeSegment while a compaction is queued). */
  private appendSegment: number;
  private appendSegmentBytes: number;

  private open: Group = newGroup();
  private readonly ops: Op[] = [];
  private tail: Promise<void> = Promise.resolve();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private compacting = false;
  /** Size of the latest snapshot: compaction waits for a log at least twice that big. */
  private snapshotBytes: number;
  private failure: unknown = undefined;
  private closing: Promise<void> | undefined;
  private replay: WalReplay | undefined;

  private groupCommits = 0;
  private fsyncs = 0;
  private recordsCommitted = 0;
  private bytesCommitted = 0;
  private compactions = 0;

  private constructor(
    options: WalOptions,
    segment: number,
    handle: FileHandle,
    size: number,
    replay: WalReplay,
    snapshotBytes: number,
  ) {
    this.dir = options.dir;
    this.diagnostics = options.diagnostics;
    this.threshold = options.compactThresholdBytes ?? DEFAULT_COMPACT_THRESHOLD_BYTES;
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.writeSegment = segment;
    this.appendSegment = segment;
    this.appendSegmentBytes = size;
    this.handle = handle;
    this.replay = replay;
    this.snapshotBytes = snapshotBytes;
  }

  /**
   * Opens (creating if needed) the log in `options.dir` and replays it: snapshot, then segments.
   * A torn tail is truncated away (with a warning); corruption throws WalCorruptError (with an
   * `engine.wal.corrupt` diagnostic). The replayed content is kept until `takeReplay()`.
   */
  static async open(options: WalOptions): Promise<Wal> {
    const { dir, diagnostics } = options;
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    try {
      await fsp.mkdir(dir, { recursive: true });
      const names = await fsp.readdir(dir);
      if (names.includes(SNAPSHOT_TMP_FILE)) await fsp.rm(path.join(dir, SNAPSHOT_TMP_FILE));

      let snapshot: WalSnapshot | undefined;
      let snapshotBytes = 0;
      let first = 1;
      if (names.includes(SNAPSHOT_FILE)) {
        const bytes = await fsp.readFile(path.join(dir, SNAPSHOT_FILE));
        snapshotBytes = bytes.length;
        const decoded = decodeSnapshot(bytes, SNAPSHOT_FILE);
        snapshot = decoded.snapshot;
        first = decoded.segment;
      }
      const segments = names
        .map((n) => SEGMENT_RE.exec(n)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
      const stale = segments.filter((s) => s < first);
      const live = segments.filter((s) => s >= first);
      live.forEach((s, i) => {
        if (s !== first + i) {
          throw new WalCorruptError(
            segmentFileName(first + i),
            0,
            0,
            `segment missing (found ${segmentFileName(s)} instead)`,
          );
        }
      });
      if (snapshot === undefined && stale.length > 0) {
        throw new WalCorruptError(
          SNAPSHOT_FILE,
          0,
          0,
          'no snapshot, but segments do not start at 1',
        );
      }

      const records: WalRecord[] = [];
      let tornTail: WalReplay['tornTail'];
      let size = 0;
      for (const [i, segment] of live.entries()) {
        const file = segmentFileName(segment);
        const full = path.join(dir, file);
        const buf = await fsp.readFile(full);
        const isLast = i === live.length - 1;
        const parsed = parseSegment(buf, file, isLast, maxRecordBytes);
        for (const r of parsed.records) {
          if (r.type === 'snapshot-marker' && r.segment !== segment) {
            throw new WalCorruptError(file, 0, 0, `marker names segment ${r.segment}`);
          }
          records.push(r);
        }
        size = parsed.goodLength;
        if (parsed.torn) {
          tornTail = {
            file,
            position: parsed.torn.position,
            droppedBytes: buf.length - parsed.goodLength,
            reason: parsed.torn.reason,
          };
          const h = await fsp.open(full, 'r+');
          try {
            await h.truncate(parsed.goodLength);
            await h.sync();
          } finally {
            await h.close();
          }
          diagnostics.emit(
            'engine.wal.torn_tail',
            `dropped a torn record at the end of the WAL (${file} byte ${parsed.torn.position}: ${parsed.torn.reason})`,
            { ...tornTail },
          );
        }
      }

      let segment = live.at(-1);
      if (segment === undefined) {
        segment = first;
        const h = await fsp.open(path.join(dir, segmentFileName(segment)), 'ax');
        await h.sync();
        await h.close();
        await fsyncDir(dir);
      }
      for (const s of stale) await fsp.rm(path.join(dir, segmentFileName(s)), { force: true });
      if (stale.length > 0) await fsyncDir(dir);

      const handle = await fsp.open(path.join(dir, segmentFileName(segment)), 'a');
      const replay: WalReplay = {
        records,
        ...(snapshot !== undefined ? { snapshot } : {}),
        ...(tornTail !== undefined ? { tornTail } : {}),
      };
      diagnostics.emit(
        'engine.wal.replayed',
        `WAL replayed: ${snapshot ? 'snapshot + ' : ''}${records.length} records from ${live.length} segment(s)`,
        { records: records.length, segments: live.length, snapshot: snapshot !== undefined },
      );
      return new Wal(options, segment, handle, size, replay, snapshotBytes);
    } catch (error) {
      if (error instanceof WalCorruptError) {
        diagnostics.emit('engine.wal.corrupt', error.message, {
          file: error.file,
          position: error.position,
          record: error.recordIndex,
        });
      }
      throw error;
    }
  }

  /** The content replayed at open; can be taken once (the Wal drops its reference). */
  takeReplay(): WalReplay {
    const replay = this.replay;
    if (replay === undefined) throw new TwinspaceError('internal', 'WAL replay already taken');
    this.replay = undefined;
    return replay;
  }

  /** Encodes and buffers records; nothing is written until `commit()`. */
  append(entries: readonly WalEntry[]): void {
    if (this.closing !== undefined) throw new TwinspaceError('closed', 'WAL is closed');
    const group = this.open;
    for (const entry of entries) {
      this.appendSegmentBytes += writeRecord(group.out, entry, this.maxRecordBytes);
      group.records += 1;
    }
  }

  /** Resolves when everything appended so far is durable; rejects once the log has failed. */
  commit(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(toError(this.failure));
    if (this.open.records > 0) {
      this.open.requested = true;
      const done = this.open.done.promise;
      this.kick();
      return done;
    }
    return this.tail;
  }

  /**
   * Whether the current segment has outgrown the threshold — and twice the last snapshot, so the
   * cost of writing snapshots stays proportional to the log written — with no compaction under way.
   */
  shouldCompact(): boolean {
    return (
      !this.compacting &&
      this.failure === undefined &&
      this.closing === undefined &&
      this.appendSegmentBytes >= Math.max(this.threshold, 2 * this.snapshotBytes)
    );
  }

  /**
   * Writes `snapshot` (which must include every record appended so far) and starts a new segment;
   * see the file comment for the crash-safe order. One compaction at a time ('busy' otherwise).
   */
  compact(snapshot: WalSnapshot): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(toError(this.failure));
    if (this.closing !== undefined) {
      return Promise.reject(new TwinspaceError('closed', 'WAL is closed'));
    }
    if (this.compacting) {
      return Promise.reject(new TwinspaceError('busy', 'a compaction is already under way'));
    }
    this.compacting = true;
    if (this.open.records > 0) {
      this.open.requested = true;
      this.ops.push({ kind: 'flush', group: this.open });
      this.open = newGroup();
    }
    this.appendSegment += 1;
    const op = {
      kind: 'compact',
      segment: this.appendSegment,
      snapshot,
      done: deferred(),
    } as const;
    this.appendSegmentBytes = encodeRecord({
      type: 'snapshot-marker',
      segment: op.segment,
      version: snapshot.version,
    }).length;
    this.ops.push(op);
    this.tail = op.done.promise;
    this.kick();
    return op.done.promise;
  }

  get stats(): WalStats {
    return {
      segment: this.appendSegment,
      segmentBytes: this.appendSegmentBytes,
      groupCommits: this.groupCommits,
      fsyncs: this.fsyncs,
      recordsCommitted: this.recordsCommitted,
      bytesCommitted: this.bytesCommitted,
      compactions: this.compactions,
    };
  }

  /** Commits what is buffered, waits for the I/O loop, closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (this.failure === undefined) await this.commit();
      } finally {
        while (this.running) await this.loopDone;
        await this.handle.close();
      }
    })();
    return this.closing;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        let op = this.ops.shift();
        if (op === undefined) {
          if (!this.open.requested) return;
          const group = this.open;
          this.open = newGroup();
          this.tail = group.done.promise;
          op = { kind: 'flush', group };
        }
        if (this.failure !== undefined) {
          (op.kind === 'flush' ? op.group.done : op.done).reject(this.failure);
          continue;
        }
        try {
          if (op.kind === 'flush') await this.flushGroup(op.group);
          else await this.runCompaction(op.segment, op.snapshot);
          (op.kind === 'flush' ? op.group.done : op.done).resolve();
        } catch (error) {
          this.failure = error;
          (op.kind === 'flush' ? op.group.done : op.done).reject(error);
          if (this.open.records > 0) this.open.requested = true;
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async flushGroup(group: Group): Promise<void> {
    const buf = group.out.take();
    await writeAll(this.handle, buf);
    await this.handle.datasync();
    this.fsyncs += 1;
    this.groupCommits += 1;
    this.recordsCommitted += group.records;
    this.bytesCommitted += buf.length;
  }

  private async runCompaction(segment: number, snapshot: WalSnapshot): Promise<void> {
    try {
      const dir = this.dir;
      // 2. the new segment, starting with a marker.
      const next = await fsp.open(path.join(dir, segmentFileName(segment)), 'ax');
      try {
        await writeAll(
          next,
          encodeRecord({ type: 'snapshot-marker', segment, version: snapshot.version }),
        );
        await next.datasync();
        this.fsyncs += 1;
        await fsyncDir(dir);
        this.fsyncs += 1;
      } catch (error) {
        await next.close();
        throw error;
      }
      const previous = this.handle;
      this.handle = next;
      this.writeSegment = segment;
      await previous.close();
      // 3. the snapshot: temp file, fsync, rename, directory fsync.
      const bytes = encodeSnapshot(segment, snapshot);
      const tmp = path.join(dir, SNAPSHOT_TMP_FILE);
      const th = await fsp.open(tmp, 'w');
      try {
        await writeAll(th, bytes);
        await th.sync();
        this.fsyncs += 1;
      } finally {
        await th.close();
      }
      await fsp.rename(tmp, path.join(dir, SNAPSHOT_FILE));
      await fsyncDir(dir);
      this.fsyncs += 1;
      this.snapshotBytes = bytes.length;
      // 4. older segments are now garbage.
      let removedBytes = 0;
      for (const name of await fsp.readdir(dir)) {
        const m = SEGMENT_RE.exec(name);
        if (m?.[1] === undefined || Number(m[1]) >= segment) continue;
        const full = path.join(dir, name);
        removedBytes += (await fsp.stat(full)).size;
        await fsp.rm(full, { force: true });
      }
      await fsyncDir(dir);
      this.fsyncs += 1;
      this.compactions += 1;
      this.diagnostics.emit(
        'engine.wal.compacted',
        `WAL compacted into a ${bytes.length}-byte snapshot at version ${snapshot.version} (${removedBytes} log bytes removed)`,
        { segment, snapshotBytes: bytes.length, removedBytes, version: snapshot.version },
      );
    } finally {
      this.compacting = false;
    }
  }

  /** Segment the I/O loop is writing (tests). */
  get writingSegment(): number {
    return this.writeSegment;
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
