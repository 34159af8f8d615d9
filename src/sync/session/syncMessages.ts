/**
 * Sync messages: what two devices send each other inside the secure channel once the handshake
 * is done (docs/protocol.md, "Sync messages"). Every message is one channel message:
 *
 *   version: u8 (= 1) | type: u8 | body
 *
 *   1 SyncStep1    wsLen: u8 | workspaceId | svLen: u32 | state vector
 *   2 SyncStep2    flags: u8 (bit 0 = forwarded) | updLen: u32 | update
 *   3 Unit         author: 32 ASCII | epoch: u32 | seq: u32 | updLen: u32 | update | sig: 64
 *   4 Ping         nonce: u32
 *   5 Pong         nonce: u32
 *   6 StateVector  svLen: u32 | state vector
 *   7 WorkspaceOffers  count: u8 | count × (idLen: u8 | id | nameLen: u8 | name
 *                      | remoteLen: u16 | gitRemote | fileCount: u32)      (protocol version ≥ 2)
 *   8 KeyRotated   certificate: 137 bytes (RotationCertificate encoding)   (protocol version ≥ 2)
 *   9 FileStep1    idLen: u8 | fileId | svLen: u32 | state vector         (protocol version ≥ 3)
 *  10 FileUpdate   idLen: u8 | fileId | updLen: u32 | update (≥ 1 byte)   (protocol version ≥ 3)
 *  11 BlobRequest  hash: 32 | offset: u64 | length: u32 (1..1 MiB)         (protocol version ≥ 3)
 *  12 BlobChunk    hash: 32 | offset: u64 | total: u64 | len: u32 | bytes (protocol version ≥ 3)
 *  13 BlobMissing  hash: 32                                               (protocol version ≥ 3)
 *
 * File ids are 1-64 bytes of [A-Za-z0-9_-]; a hash is a SHA-256, 64 lowercase hex chars in memory
 * and 32 raw bytes on the wire; u64 offsets and totals are at most 2^40 (MAX_BLOB_OFFSET), and a
 * chunk never ends past its total.
 *
 * Decoding is strict: an unknown version or type, a length past the end, trailing bytes, reserved
 * flag bits, or a field over its cap is a SyncMessageError, never a partial message.
 */
import { createHash } from 'node:crypto';
import { TwinspaceError } from '../../core/errors';
import type { WorkspaceOffer } from '../../core/workspaceLinks';
import { DeviceIdentity, isDeviceId } from '../identity/DeviceIdentity';
import {
  ROTATION_CERTIFICATE_BYTES,
  decodeRotationCertificate,
  encodeRotationCertificate,
  type RotationCertificate,
} from '../identity/RotationCertificate';

export const SYNC_MESSAGE_VERSION = 1;
export const SIGNATURE_BYTES = 64;
export const AUTHOR_BYTES = 32;
/** Default cap of the Yjs update inside one live unit. */
export const DEFAULT_MAX_UNIT_UPDATE_BYTES = 8 * 1024 * 1024;
/** Default cap of a SyncStep2 update (the channel's message cap bounds it anyway). */
export const DEFAULT_MAX_STEP2_BYTES = 64 * 1024 * 1024 - 64;
/** Cap of an encoded state vector. */
export const MAX_STATE_VECTOR_BYTES = 1024 * 1024;
export const MAX_WORKSPACE_ID_BYTES = 255;
/** Caps of a WorkspaceOffers message. */
export const MAX_OFFERS = 64;
export const MAX_OFFER_NAME_BYTES = 255;
export const MAX_GIT_REMOTE_BYTES = 2048;
/**
 * The lowest negotiated protocol version (handshake) whose peers understand WorkspaceOffers and
 * KeyRotated. A version 1 peer closes the session on an unknown type, so they are never sent to it.
 */
export const OFFERS_MIN_PROTOCOL_VERSION = 2;
/**
 * The lowest negotiated protocol version whose peers understand the file messages (types 9-13).
 * They are never sent to an older peer, and one received on an older session is malformed.
 */
export const FILES_MIN_PROTOCOL_VERSION = 3;
/** Caps of the file messages. */
export const MAX_FILE_ID_BYTES = 64;
export const MAX_BLOB_CHUNK_BYTES = 1024 * 1024;
/** Largest blob offset or total (1 TiB): safe integers, and a u64 whose high word is ≤ 256. */
export const MAX_BLOB_OFFSET = 2 ** 40;
export const BLOB_HASH_BYTES = 32;

export const SyncMessageType = {
  SyncStep1: 1,
  SyncStep2: 2,
  Unit: 3,
  Ping: 4,
  Pong: 5,
  StateVector: 6,
  WorkspaceOffers: 7,
  KeyRotated: 8,
  FileStep1: 9,
  FileUpdate: 10,
  BlobRequest: 11,
  BlobChunk: 12,
  BlobMissing: 13,
} as const;

export const STEP2_FLAG_FORWARDED = 1;

/** A live update, signed by the device that authored it. */
export interface SignedUnit {
  readonly author: string;
  readonly epoch: number;
  readonly seq: number;
  readonly update: Uint8Array;
  readonly signature: Uint8Array;
}

/** The file messages of protocol version 3 (docs/protocol.md, "File messages"). */
export type FileMessage =
  /** "Send me what I lack of file document `fileId`" (answered with FileUpdate). */
  | { readonly type: 'FileStep1'; readonly fileId: string; readonly stateVector: Uint8Array }
  /** A Yjs update of file document `fileId` (an answer to FileStep1, or a live edit). */
  | { readonly type: 'FileUpdate'; readonly fileId: string; readonly update: Uint8Array }
  /** Ask for bytes [offset, offset+length) of the blob with this sha-256. */
  | {
      readonly type: 'BlobRequest';
      readonly hash: string;
      readonly offset: number;
      readonly length: number;
    }
  | {
      readonly type: 'BlobChunk';
      readonly hash: string;
      readonly offset: number;
      readonly total: number;
      readonly bytes: Uint8Array;
    }
  | { readonly type: 'BlobMissing'; readonly hash: string };

export type FileMessageType = FileMessage['type'];

const FILE_MESSAGE_TYPES: ReadonlySet<string> = new Set<FileMessageType>([
  'FileStep1',
  'FileUpdate',
  'BlobRequest',
  'BlobChunk',
  'BlobMissing',
]);

/** True for the five file messages (types 9-13). */
export function isFileMessage(message: SyncMessage): message is FileMessage {
  return FILE_MESSAGE_TYPES.has(message.type);
}

export type SyncMessage =
  | { readonly type: 'SyncStep1'; readonly workspaceId: string; readonly stateVector: Uint8Array }
  | { readonly type: 'SyncStep2'; readonly forwarded: boolean; readonly update: Uint8Array }
  | ({ readonly type: 'Unit' } & SignedUnit)
  | { readonly type: 'Ping'; readonly nonce: number }
  | { readonly type: 'Pong'; readonly nonce: number }
  | { readonly type: 'StateVector'; readonly stateVector: Uint8Array }
  | { readonly type: 'WorkspaceOffers'; readonly offers: readonly WorkspaceOffer[] }
  | { readonly type: 'KeyRotated'; readonly certificate: RotationCertificate }
  | FileMessage;

export type SyncMessageErrorReason = 'malformed' | 'unknown_type' | 'bad_version' | 'oversize';

export class SyncMessageError extends TwinspaceError {
  constructor(
    readonly reason: SyncMessageErrorReason,
    message: string,
  ) {
    super('validation', message);
    this.name = 'SyncMessageError';
  }
}

export interface DecodeLimits {
  readonly maxUnitUpdateBytes?: number;
  readonly maxStep2Bytes?: number;
}

const ascii = new TextEncoder();
// ignoreBOM: a leading U+FEFF stays part of the id (otherwise two byte strings would decode to the
// same workspace id, and decoding would not be the inverse of encoding).
const asciiDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Writer {
  readonly bytes: Uint8Array;
  private view: DataView;
  private at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.view.setUint8(this.at, v);
    this.at += 1;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.at, v);
    this.at += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v);
    this.at += 4;
    return this;
  }
  /** A u64 (big-endian) from a safe integer. */
  u64(v: number): this {
    return this.u32(Math.floor(v / 2 ** 32)).u32(v % 2 ** 32);
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.at);
    this.at += b.length;
    return this;
  }
  done(): Uint8Array {
    if (this.at !== this.bytes.length) throw new Error('sync message size mismatch');
    return this.bytes;
  }
}

class Reader {
  private at = 2;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) {
      throw new SyncMessageError('malformed', `sync message truncated in ${what}`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    const v = this.view.getUint8(this.at);
    this.at += 1;
    return v;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  /** A u64 (big-endian) that must be at most `max` (a safe integer). */
  u64(max: number, what: string): number {
    this.need(8, what);
    const high = this.view.getUint32(this.at);
    const low = this.view.getUint32(this.at + 4);
    this.at += 8;
    const v = high * 2 ** 32 + low;
    if (high > 0x1fffff || v > max) {
      throw new SyncMessageError('oversize', `${what} ${v} exceeds ${max}`);
    }
    return v;
  }
  raw(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  /** A u32 length, checked against `cap` before anything is read. */
  sized(cap: number, what: string): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n > cap) throw new SyncMessageError('oversize', `${what} of ${n} bytes exceeds ${cap}`);
    return this.raw(n, what);
  }
  end(): void {
    if (this.at !== this.bytes.length) {
      throw new SyncMessageError(
        'malformed',
        `${this.bytes.length - this.at} trailing bytes after the sync message`,
      );
    }
  }
}

function header(size: number, type: number): Writer {
  return new Writer(size + 2).u8(SYNC_MESSAGE_VERSION).u8(type);
}

export function encodeSyncStep1(workspaceId: string, stateVector: Uint8Array): Uint8Array {
  const ws = ascii.encode(workspaceId);
  if (ws.length > MAX_WORKSPACE_ID_BYTES) throw new RangeError('workspace id too long');
  return header(1 + ws.length + 4 + stateVector.length, SyncMessageType.SyncStep1)
    .u8(ws.length)
    .raw(ws)
    .u32(stateVector.length)
    .raw(stateVector)
    .done();
}

export function encodeSyncStep2(update: Uint8Array, forwarded = false): Uint8Array {
  return header(1 + 4 + update.length, SyncMessageType.SyncStep2)
    .u8(forwarded ? STEP2_FLAG_FORWARDED : 0)
    .u32(update.length)
    .raw(update)
    .done();
}

export function encodeUnit(unit: SignedUnit): Uint8Array {
  const author = ascii.encode(unit.author);
  if (author.length !== AUTHOR_BYTES) throw new RangeError('author must be a 32-char device id');
  if (unit.signature.length !== SIGNATURE_BYTES) throw new RangeError('signature must be 64 bytes');
  return header(AUTHOR_BYTES + 12 + unit.update.length + SIGNATURE_BYTES, SyncMessageType.Unit)
    .raw(author)
    .u32(unit.epoch)
    .u32(unit.seq)
    .u32(unit.update.length)
    .raw(unit.update)
    .raw(unit.signature)
    .done();
}

export function encodePing(nonce: number): Uint8Array {
  return header(4, SyncMessageType.Ping).u32(nonce).done();
}

export function encodePong(nonce: number): Uint8Array {
  return header(4, SyncMessageType.Pong).u32(nonce).done();
}

export function encodeStateVectorReport(stateVector: Uint8Array): Uint8Array {
  return header(4 + stateVector.length, SyncMessageType.StateVector)
    .u32(stateVector.length)
    .raw(stateVector)
    .done();
}

/** WorkspaceOffers; throws RangeError when a field is over its cap (callers truncate names). */
export function encodeWorkspaceOffers(offers: readonly WorkspaceOffer[]): Uint8Array {
  if (offers.length > MAX_OFFERS) throw new RangeError(`at most ${MAX_OFFERS} offers`);
  const parts = offers.map((o) => {
    const id = ascii.encode(o.workspaceId);
    const name = ascii.encode(o.name);
    const remote = ascii.encode(o.gitRemote ?? '');
    if (id.length === 0 || id.length > MAX_WORKSPACE_ID_BYTES) {
      throw new RangeError('workspace id must be 1-255 bytes');
    }
    if (name.length > MAX_OFFER_NAME_BYTES) throw new RangeError('offer name too long');
    if (remote.length > MAX_GIT_REMOTE_BYTES) throw new RangeError('git remote too long');
    if (!Number.isInteger(o.fileCount) || o.fileCount < 0 || o.fileCount > 0xffffffff) {
      throw new RangeError('fileCount must be a u32');
    }
    return { id, name, remote, fileCount: o.fileCount };
  });
  const size = parts.reduce(
    (n, p) => n + 1 + p.id.length + 1 + p.name.length + 2 + p.remote.length + 4,
    1,
  );
  const w = header(size, SyncMessageType.WorkspaceOffers).u8(parts.length);
  for (const p of parts) {
    w.u8(p.id.length).raw(p.id).u8(p.name.length).raw(p.name).u16(p.remote.length).raw(p.remote);
    w.u32(p.fileCount);
  }
  return w.done();
}

export function encodeKeyRotated(certificate: RotationCertificate): Uint8Array {
  return header(ROTATION_CERTIFICATE_BYTES, SyncMessageType.KeyRotated)
    .raw(encodeRotationCertificate(certificate))
    .done();
}

const FILE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const BLOB_HASH = /^[0-9a-f]{64}$/;

/** A file id of the file messages: 1-64 characters of [A-Za-z0-9_-]. */
export function isFileId(value: string): boolean {
  return FILE_ID.test(value);
}

/** A blob hash of the file messages: a SHA-256 as 64 lowercase hex characters. */
export function isBlobHash(value: string): boolean {
  return BLOB_HASH.test(value);
}

function fileIdBytes(fileId: string): Uint8Array {
  if (!isFileId(fileId)) throw new RangeError('a file id is 1-64 characters of [A-Za-z0-9_-]');
  return ascii.encode(fileId);
}

function hashBytes(hash: string): Uint8Array {
  if (!isBlobHash(hash)) throw new RangeError('a blob hash is 64 lowercase hex characters');
  return Uint8Array.from(Buffer.from(hash, 'hex'));
}

function checkOffset(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_BLOB_OFFSET) {
    throw new RangeError(`${what} must be an integer in 0..2^40`);
  }
}

/**
 * Encodes one of the five file messages (protocol version ≥ 3 only: the caller checks the peer).
 * Throws RangeError when a field is invalid or over its cap (the decoder would refuse it).
 */
export function encodeFileMessage(message: FileMessage): Uint8Array {
  switch (message.type) {
    case 'FileStep1': {
      const id = fileIdBytes(message.fileId);
      const sv = message.stateVector;
      if (sv.length > MAX_STATE_VECTOR_BYTES) throw new RangeError('state vector too long');
      return header(1 + id.length + 4 + sv.length, SyncMessageType.FileStep1)
        .u8(id.length)
        .raw(id)
        .u32(sv.length)
        .raw(sv)
        .done();
    }
    case 'FileUpdate': {
      const id = fileIdBytes(message.fileId);
      const update = message.update;
      if (update.length === 0 || update.length > DEFAULT_MAX_STEP2_BYTES) {
        throw new RangeError('a file update is 1..DEFAULT_MAX_STEP2_BYTES bytes');
      }
      return header(1 + id.length + 4 + update.length, SyncMessageType.FileUpdate)
        .u8(id.length)
        .raw(id)
        .u32(update.length)
        .raw(update)
        .done();
    }
    case 'BlobRequest': {
      const hash = hashBytes(message.hash);
      checkOffset(message.offset, 'offset');
      const { length } = message;
      if (!Number.isInteger(length) || length < 1 || length > MAX_BLOB_CHUNK_BYTES) {
        throw new RangeError('a blob request length is 1..MAX_BLOB_CHUNK_BYTES');
      }
      return header(BLOB_HASH_BYTES + 8 + 4, SyncMessageType.BlobRequest)
        .raw(hash)
        .u64(message.offset)
        .u32(length)
        .done();
    }
    case 'BlobChunk': {
      const hash = hashBytes(message.hash);
      checkOffset(message.offset, 'offset');
      checkOffset(message.total, 'total');
      const bytes = message.bytes;
      if (bytes.length > MAX_BLOB_CHUNK_BYTES) throw new RangeError('blob chunk too long');
      if (message.offset + bytes.length > message.total) {
        throw new RangeError('a blob chunk ends past its total');
      }
      return header(BLOB_HASH_BYTES + 8 + 8 + 4 + bytes.length, SyncMessageType.BlobChunk)
        .raw(hash)
        .u64(message.offset)
        .u64(message.total)
        .u32(bytes.length)
        .raw(bytes)
        .done();
    }
    case 'BlobMissing':
      return header(BLOB_HASH_BYTES, SyncMessageType.BlobMissing)
        .raw(hashBytes(message.hash))
        .done();
  }
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return asciiDecoder.decode(bytes);
  } catch {
    throw new SyncMessageError('malformed', `${what} is not UTF-8`);
  }
}

/** Strict decoder: throws SyncMessageError on anything that is not exactly one valid message. */
export function decodeSyncMessage(bytes: Uint8Array, limits: DecodeLimits = {}): SyncMessage {
  if (bytes.length < 2)
    throw new SyncMessageError('malformed', 'sync message shorter than 2 bytes');
  const version = bytes[0] ?? 0;
  if (version !== SYNC_MESSAGE_VERSION) {
    throw new SyncMessageError('bad_version', `unknown sync message version ${version}`);
  }
  const type = bytes[1] ?? 0;
  const r = new Reader(bytes);
  let message: SyncMessage;
  switch (type) {
    case SyncMessageType.SyncStep1: {
      const wsLen = r.u8('workspace id length');
      const workspaceId = utf8(r.raw(wsLen, 'workspace id'), 'workspace id');
      const stateVector = r.sized(MAX_STATE_VECTOR_BYTES, 'state vector');
      message = { type: 'SyncStep1', workspaceId, stateVector };
      break;
    }
    case SyncMessageType.SyncStep2: {
      const flags = r.u8('flags');
      if ((flags & ~STEP2_FLAG_FORWARDED) !== 0) {
        throw new SyncMessageError(
          'malformed',
          `reserved SyncStep2 flag bits 0x${flags.toString(16)}`,
        );
      }
      const update = r.sized(limits.maxStep2Bytes ?? DEFAULT_MAX_STEP2_BYTES, 'SyncStep2 update');
      message = { type: 'SyncStep2', forwarded: (flags & STEP2_FLAG_FORWARDED) !== 0, update };
      break;
    }
    case SyncMessageType.Unit: {
      const authorBytes = r.raw(AUTHOR_BYTES, 'author');
      const author = String.fromCharCode(...authorBytes);
      if (!isDeviceId(author))
        throw new SyncMessageError('malformed', 'unit author is not a device id');
      const epoch = r.u32('epoch');
      const seq = r.u32('seq');
      const update = r.sized(
        limits.maxUnitUpdateBytes ?? DEFAULT_MAX_UNIT_UPDATE_BYTES,
        'unit update',
      );
      const signature = r.raw(SIGNATURE_BYTES, 'signature');
      message = { type: 'Unit', author, epoch, seq, update, signature };
      break;
    }
    case SyncMessageType.Ping:
      message = { type: 'Ping', nonce: r.u32('nonce') };
      break;
    case SyncMessageType.Pong:
      message = { type: 'Pong', nonce: r.u32('nonce') };
      break;
    case SyncMessageType.StateVector:
      message = {
        type: 'StateVector',
        stateVector: r.sized(MAX_STATE_VECTOR_BYTES, 'state vector'),
      };
      break;
    case SyncMessageType.WorkspaceOffers: {
      const count = r.u8('offer count');
      if (count > MAX_OFFERS) {
        throw new SyncMessageError('oversize', `${count} offers exceed ${MAX_OFFERS}`);
      }
      const offers: WorkspaceOffer[] = [];
      for (let i = 0; i < count; i++) {
        const idLen = r.u8('workspace id length');
        if (idLen === 0) throw new SyncMessageError('malformed', 'empty workspace id in an offer');
        const workspaceId = utf8(r.raw(idLen, 'workspace id'), 'workspace id');
        const name = utf8(r.raw(r.u8('name length'), 'name'), 'offer name');
        const remoteLen = r.u16('git remote length');
        if (remoteLen > MAX_GIT_REMOTE_BYTES) {
          throw new SyncMessageError('oversize', `git remote of ${remoteLen} bytes`);
        }
        const gitRemote = utf8(r.raw(remoteLen, 'git remote'), 'git remote');
        const fileCount = r.u32('file count');
        offers.push({
          workspaceId,
          name,
          ...(gitRemote.length > 0 ? { gitRemote } : {}),
          fileCount,
        });
      }
      message = { type: 'WorkspaceOffers', offers };
      break;
    }
    case SyncMessageType.KeyRotated: {
      const certificate = decodeRotationCertificate(
        r.raw(ROTATION_CERTIFICATE_BYTES, 'rotation certificate'),
      );
      if (certificate === undefined) {
        throw new SyncMessageError('malformed', 'rotation certificate does not parse');
      }
      message = { type: 'KeyRotated', certificate };
      break;
    }
    case SyncMessageType.FileStep1: {
      const fileId = readFileId(r);
      const stateVector = r.sized(MAX_STATE_VECTOR_BYTES, 'file state vector');
      message = { type: 'FileStep1', fileId, stateVector };
      break;
    }
    case SyncMessageType.FileUpdate: {
      const fileId = readFileId(r);
      const update = r.sized(limits.maxStep2Bytes ?? DEFAULT_MAX_STEP2_BYTES, 'file update');
      if (update.length === 0) throw new SyncMessageError('malformed', 'empty file update');
      message = { type: 'FileUpdate', fileId, update };
      break;
    }
    case SyncMessageType.BlobRequest: {
      const hash = readHash(r);
      const offset = r.u64(MAX_BLOB_OFFSET, 'blob offset');
      const length = r.u32('blob request length');
      if (length === 0) throw new SyncMessageError('malformed', 'blob request of 0 bytes');
      if (length > MAX_BLOB_CHUNK_BYTES) {
        throw new SyncMessageError('oversize', `blob request of ${length} bytes`);
      }
      message = { type: 'BlobRequest', hash, offset, length };
      break;
    }
    case SyncMessageType.BlobChunk: {
      const hash = readHash(r);
      const offset = r.u64(MAX_BLOB_OFFSET, 'blob offset');
      const total = r.u64(MAX_BLOB_OFFSET, 'blob total');
      const chunk = r.sized(MAX_BLOB_CHUNK_BYTES, 'blob chunk');
      if (offset + chunk.length > total) {
        throw new SyncMessageError('malformed', 'blob chunk ends past its total');
      }
      message = { type: 'BlobChunk', hash, offset, total, bytes: chunk };
      break;
    }
    case SyncMessageType.BlobMissing:
      message = { type: 'BlobMissing', hash: readHash(r) };
      break;
    default:
      throw new SyncMessageError('unknown_type', `unknown sync message type ${type}`);
  }
  r.end();
  return message;
}

function readFileId(r: Reader): string {
  const n = r.u8('file id length');
  if (n === 0) throw new SyncMessageError('malformed', 'empty file id');
  if (n > MAX_FILE_ID_BYTES) throw new SyncMessageError('oversize', `file id of ${n} bytes`);
  const id = String.fromCharCode(...r.raw(n, 'file id'));
  if (!FILE_ID.test(id)) throw new SyncMessageError('malformed', 'file id is not [A-Za-z0-9_-]');
  return id;
}

function readHash(r: Reader): string {
  return Buffer.from(r.raw(BLOB_HASH_BYTES, 'blob hash')).toString('hex');
}

const UNIT_LABEL = ascii.encode('TWSP sync unit v1\0');

/**
 * The bytes a unit's author signs: label | len8(workspaceId) | workspaceId | author (32 ASCII)
 * | epoch u32 | seq u32 | SHA-256(update).
 */
export function unitSignatureInput(
  workspaceId: string,
  author: string,
  epoch: number,
  seq: number,
  update: Uint8Array,
): Uint8Array {
  const ws = ascii.encode(workspaceId);
  const authorBytes = ascii.encode(author);
  const hash = createHash('sha256').update(update).digest();
  const w = new Writer(UNIT_LABEL.length + 1 + ws.length + authorBytes.length + 8 + 32);
  return w
    .raw(UNIT_LABEL)
    .u8(ws.length)
    .raw(ws)
    .raw(authorBytes)
    .u32(epoch)
    .u32(seq)
    .raw(hash)
    .done();
}

/**
 * True when `unit.signature` is `publicKey`'s signature over the unit's signature input for
 * `workspaceId`. Never throws: any malformed key or signature is simply not a valid signature.
 */
export function verifySignedUnit(
  workspaceId: string,
  unit: SignedUnit,
  publicKey: Uint8Array,
): boolean {
  if (unit.signature.length !== SIGNATURE_BYTES) return false;
  try {
    const input = unitSignatureInput(workspaceId, unit.author, unit.epoch, unit.seq, unit.update);
    return DeviceIdentity.verify(publicKey, input, unit.signature);
  } catch {
    return false;
  }
}
