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
 *
 * Decoding is strict: an unknown version or type, a length past the end, trailing bytes, reserved
 * flag bits, or a field over its cap is a SyncMessageError, never a partial message.
 */
import { createHash } from 'node:crypto';
import { TwinspaceError } from '../../core/errors';
import { DeviceIdentity, isDeviceId } from '../identity/DeviceIdentity';

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

export const SyncMessageType = {
  SyncStep1: 1,
  SyncStep2: 2,
  Unit: 3,
  Ping: 4,
  Pong: 5,
  StateVector: 6,
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

export type SyncMessage =
  | { readonly type: 'SyncStep1'; readonly workspaceId: string; readonly stateVector: Uint8Array }
  | { readonly type: 'SyncStep2'; readonly forwarded: boolean; readonly update: Uint8Array }
  | ({ readonly type: 'Unit' } & SignedUnit)
  | { readonly type: 'Ping'; readonly nonce: number }
  | { readonly type: 'Pong'; readonly nonce: number }
  | { readonly type: 'StateVector'; readonly stateVector: Uint8Array };

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
  u32(v: number): this {
    this.view.setUint32(this.at, v);
    this.at += 4;
    return this;
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
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at);
    this.at += 4;
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
      const wsBytes = r.raw(wsLen, 'workspace id');
      let workspaceId: string;
      try {
        workspaceId = asciiDecoder.decode(wsBytes);
      } catch {
        throw new SyncMessageError('malformed', 'workspace id is not UTF-8');
      }
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
    default:
      throw new SyncMessageError('unknown_type', `unknown sync message type ${type}`);
  }
  r.end();
  return message;
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
