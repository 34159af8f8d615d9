/**
 * Wire constants and the handshake messages of protocol versions 1 to 3 (docs/protocol.md is the spec;
 * keep the two in step). Every handshake message is one frame and starts with a 9-byte header:
 *
 *   magic "TWSP" (4) | max version u16 BE | min version u16 BE | message type u8
 *
 * The header layout is frozen for all versions, so any two versions can tell each other apart.
 */
import { ProtocolError } from './ProtocolError';

export const PROTOCOL_MAGIC = new Uint8Array([0x54, 0x57, 0x53, 0x50]); // "TWSP"
/**
 * The newest protocol version this build speaks. Versions 2 and 3 have the same handshake and
 * channel as version 1; version 2 adds the sync messages WorkspaceOffers and KeyRotated, version 3
 * the file messages FileStep1, FileUpdate, BlobRequest, BlobChunk and BlobMissing
 * (docs/protocol.md).
 */
export const PROTOCOL_VERSION = 3;
/** The oldest protocol version this build still speaks. */
export const MIN_PROTOCOL_VERSION = 1;

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const SUPPORTED_VERSIONS: VersionRange = {
  min: MIN_PROTOCOL_VERSION,
  max: PROTOCOL_VERSION,
};

export const HEADER_BYTES = 9;
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MAC_BYTES = 32;
export const TAG_BYTES = 16;
/** Frame cap while the handshake runs: no unauthenticated peer can make us buffer more. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4096;

export const MessageType = {
  HelloInitiator: 1,
  HelloResponder: 2,
  FinishInitiator: 3,
  Abort: 15,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** HELLO flags. Bit 0: pairing mode. Bits 1–7 are reserved: sent as 0, ignored in HELLO_I. */
export const FLAG_PAIRING = 0x01;

/** Why a side aborts the handshake; sent in clear in an ABORT message (diagnostics only). */
export const AbortReason = {
  Version: 1,
  Untrusted: 2,
  Pairing: 3,
  Auth: 4,
  Malformed: 5,
  Timeout: 6,
  Internal: 7,
} as const;

export interface Header {
  readonly versions: VersionRange;
  readonly type: number;
}

export interface HelloInitiator {
  readonly kind: 'hello_initiator';
  readonly header: Header;
  readonly flags: number;
  readonly ephemeral: Uint8Array;
  readonly staticKey: Uint8Array;
}

export interface HelloResponder {
  readonly kind: 'hello_responder';
  readonly header: Header;
  readonly flags: number;
  readonly ephemeral: Uint8Array;
  readonly staticKey: Uint8Array;
  /** The bytes before `sealed`: they enter the transcript hash. */
  readonly head: Uint8Array;
  readonly sealed: Uint8Array;
}

export interface FinishInitiator {
  readonly kind: 'finish_initiator';
  readonly header: Header;
  readonly sealed: Uint8Array;
}

export interface Abort {
  readonly kind: 'abort';
  readonly header: Header;
  readonly reason: number;
}

export type HandshakeMessage = HelloInitiator | HelloResponder | FinishInitiator | Abort;

/** Bytes of the sealed part of HELLO_R and FINISH_I: signature [+ pairing MAC] + AEAD tag. */
export function sealedBytes(pairing: boolean): number {
  return SIGNATURE_BYTES + (pairing ? MAC_BYTES : 0) + TAG_BYTES;
}

export function writeHeader(out: Uint8Array, versions: VersionRange, type: number): void {
  out.set(PROTOCOL_MAGIC, 0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint16(4, versions.max);
  view.setUint16(6, versions.min);
  out[8] = type;
}

export function encodeHelloInitiator(
  versions: VersionRange,
  flags: number,
  ephemeral: Uint8Array,
  staticKey: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + 1 + KEY_BYTES * 2);
  writeHeader(out, versions, MessageType.HelloInitiator);
  out[HEADER_BYTES] = flags;
  out.set(ephemeral, HEADER_BYTES + 1);
  out.set(staticKey, HEADER_BYTES + 1 + KEY_BYTES);
  return out;
}

/** HELLO_R without its sealed part (the part that enters the transcript). */
export function encodeHelloResponderHead(
  versions: VersionRange,
  flags: number,
  ephemeral: Uint8Array,
  staticKey: Uint8Array,
): Uint8Array {
  const out = encodeHelloInitiator(versions, flags, ephemeral, staticKey);
  out[8] = MessageType.HelloResponder;
  return out;
}

export function encodeFinishInitiator(versions: VersionRange, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + sealed.length);
  writeHeader(out, versions, MessageType.FinishInitiator);
  out.set(sealed, HEADER_BYTES);
  return out;
}

export function encodeAbort(versions: VersionRange, reason: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + 1);
  writeHeader(out, versions, MessageType.Abort);
  out[HEADER_BYTES] = reason;
  return out;
}

/** Parses the frozen header. Throws ProtocolError bad_magic / malformed. */
export function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.length < PROTOCOL_MAGIC.length) {
    throw new ProtocolError('bad_magic', 'not a Twinspace peer (message too short for the magic)');
  }
  for (let i = 0; i < PROTOCOL_MAGIC.length; i++) {
    if (bytes[i] !== PROTOCOL_MAGIC[i]) {
      throw new ProtocolError('bad_magic', 'not a Twinspace peer (wrong protocol magic)');
    }
  }
  if (bytes.length < HEADER_BYTES) {
    throw new ProtocolError('malformed', 'handshake message shorter than its header');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const max = view.getUint16(4);
  const min = view.getUint16(6);
  if (min === 0 || min > max) {
    throw new ProtocolError('malformed', `invalid protocol version range ${min}..${max}`);
  }
  return { versions: { min, max }, type: bytes[8] ?? 0 };
}

/**
 * Decodes one handshake frame expected to be `expected` (or an ABORT, always accepted).
 * `pairing` tells the size of a sealed part (HELLO_R, FINISH_I). Throws ProtocolError.
 */
export function decodeHandshakeMessage(
  bytes: Uint8Array,
  expected: MessageTypeValue,
  pairing = false,
): HandshakeMessage {
  const header = decodeHeader(bytes);
  if (header.type === MessageType.Abort) {
    if (bytes.length !== HEADER_BYTES + 1) throw malformed('ABORT');
    return { kind: 'abort', header, reason: bytes[HEADER_BYTES] ?? 0 };
  }
  if (header.type !== expected) {
    throw new ProtocolError(
      'malformed',
      `unexpected handshake message type ${header.type} (expected ${expected})`,
    );
  }
  const keysEnd = HEADER_BYTES + 1 + KEY_BYTES * 2;
  switch (expected) {
    case MessageType.HelloInitiator:
      // Trailing bytes are reserved for later versions: ignored here, but hashed.
      if (bytes.length < keysEnd) throw malformed('HELLO_I');
      return {
        kind: 'hello_initiator',
        header,
        flags: bytes[HEADER_BYTES] ?? 0,
        ephemeral: bytes.slice(HEADER_BYTES + 1, HEADER_BYTES + 1 + KEY_BYTES),
        staticKey: bytes.slice(HEADER_BYTES + 1 + KEY_BYTES, keysEnd),
      };
    case MessageType.HelloResponder:
      if (bytes.length !== keysEnd + sealedBytes(pairing)) throw malformed('HELLO_R');
      return {
        kind: 'hello_responder',
        header,
        flags: bytes[HEADER_BYTES] ?? 0,
        ephemeral: bytes.slice(HEADER_BYTES + 1, HEADER_BYTES + 1 + KEY_BYTES),
        staticKey: bytes.slice(HEADER_BYTES + 1 + KEY_BYTES, keysEnd),
        head: bytes.slice(0, keysEnd),
        sealed: bytes.slice(keysEnd),
      };
    case MessageType.FinishInitiator:
      if (bytes.length !== HEADER_BYTES + sealedBytes(pairing)) throw malformed('FINISH_I');
      return { kind: 'finish_initiator', header, sealed: bytes.slice(HEADER_BYTES) };
    case MessageType.Abort:
      throw malformed('ABORT');
  }
}

function malformed(what: string): ProtocolError {
  return new ProtocolError('malformed', `${what} has the wrong length`);
}

/** The version both sides use, or which side is out of date. */
export type Negotiation =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly reason: 'peer_too_old' | 'peer_too_new' };

export function negotiateVersion(local: VersionRange, peer: VersionRange): Negotiation {
  if (peer.max < local.min) return { ok: false, reason: 'peer_too_old' };
  if (peer.min > local.max) return { ok: false, reason: 'peer_too_new' };
  return { ok: true, version: Math.min(local.max, peer.max) };
}

export function versionError(
  reason: 'peer_too_old' | 'peer_too_new',
  local: VersionRange,
  peer: VersionRange,
): ProtocolError {
  const mine = formatRange(local);
  const theirs = formatRange(peer);
  return reason === 'peer_too_old'
    ? new ProtocolError(
        'peer_too_old',
        `peer too old: it speaks protocol ${theirs}, this device needs ${mine}. Update Twinspace on the peer.`,
      )
    : new ProtocolError(
        'peer_too_new',
        `peer too new: it speaks protocol ${theirs}, this device only ${mine}. Update Twinspace on this device.`,
      );
}

function formatRange(range: VersionRange): string {
  return range.min === range.max ? `v${range.max}` : `v${range.min}–v${range.max}`;
}
