/**
 * The Twinspace handshake (protocol version 1; docs/protocol.md is the spec). Three messages,
 * Noise-XX-like but built from node:crypto primitives, in the SIGMA style:
 *
 *   I -> R  HELLO_I   header | flags | e_I | s_I
 *   R -> I  HELLO_R   header | flags | e_R | s_R | AEAD(hs_r2i; sig_R [| mac_R])
 *   I -> R  FINISH_I  header | AEAD(hs_i2r; sig_I [| mac_I])
 *
 * e = fresh X25519 keys, s = static Ed25519 device keys. Both signatures cover the transcript hash
 * (magic, versions, flags, both ephemerals, both statics) under a role label, so an old handshake
 * cannot be replayed: the other side's fresh ephemeral changes the transcript. The peer's static
 * key goes to `isTrusted` as soon as it arrives and before anything else from the peer is read;
 * in pairing mode an HMAC keyed by the pairing code replaces that check, in both directions.
 */
import { diffieHellman, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { systemClock } from '../../runtime/Clock';
import type { Clock } from '../../runtime/Clock';
import type { DeviceIdentity } from '../identity/DeviceIdentity';
import { deviceIdFromPublicKey } from '../identity/DeviceIdentity';
import { ed25519Verify, rawPublicKey, x25519PublicKeyFromRaw } from '../identity/ed25519';
import type { Transport } from '../transport/Transport';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame } from '../transport/FrameDecoder';
import { aeadOpen, aeadSeal } from './FrameCipher';
import { FrameQueue } from './FrameQueue';
import { ProtocolError } from './ProtocolError';
import type { ProtocolErrorReason } from './ProtocolError';
import { DEFAULT_MAX_MESSAGE_BYTES, SecureChannel } from './SecureChannel';
import {
  constantTimeEqual,
  derivePairingKey,
  deriveSessionKeys,
  pairingMac,
  signatureInput,
  transcriptHash,
} from './keySchedule';
import type { Role, SessionKeys } from './keySchedule';
import {
  AbortReason,
  FLAG_PAIRING,
  HANDSHAKE_MAX_FRAME_BYTES,
  MessageType,
  SIGNATURE_BYTES,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
  decodeHandshakeMessage,
  encodeAbort,
  encodeFinishInitiator,
  encodeHelloInitiator,
  encodeHelloResponderHead,
  negotiateVersion,
  versionError,
} from './wire';
import type { Abort, HandshakeMessage, VersionRange } from './wire';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Is this device key allowed in? Consulted before anything else the peer sends is read. */
export type TrustCheck = (deviceId: string, publicKey: Uint8Array) => boolean | Promise<boolean>;

export interface HandshakeOptions {
  readonly identity: DeviceIdentity;
  readonly role: Role;
  /**
   * Authorization of the peer's static key (unknown or revoked: return false). Not consulted in
   * pairing mode, where the pairing code authenticates the peer instead.
   */
  readonly isTrusted: TrustCheck;
  /**
   * Initiator: run in pairing mode with this code. Responder: the code to accept when the
   * initiator asks for pairing (without it, pairing requests are refused; a normal handshake is
   * unaffected either way).
   */
  readonly pairingCode?: string;
  /** The whole handshake must finish within this time (default 10 s). */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  /** Cap of one application frame, in bytes (default 1 MiB). */
  readonly maxFrameBytes?: number;
  /** Cap of one reassembled application message, in bytes (default 64 MiB). */
  readonly maxMessageBytes?: number;
  /** The protocol versions this side speaks (default: this build's). For tests and upgrades. */
  readonly versions?: VersionRange;
}

interface Outcome {
  readonly keys: SessionKeys;
  readonly remotePublicKey: Uint8Array;
  readonly remoteDeviceId: string;
  readonly paired: boolean;
  readonly version: number;
}

/** An error that already came from the peer's ABORT: not echoed back. */
class PeerAbort extends ProtocolError {}

/**
 * Runs the handshake on `transport` and resolves with the secure channel. On failure the
 * transport is closed (after a best-effort ABORT telling the peer why) and the promise rejects
 * with a ProtocolError: see its `reason`.
 */
export async function handshake(
  transport: Transport,
  options: HandshakeOptions,
): Promise<SecureChannel> {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const versions = options.versions ?? SUPPORTED_VERSIONS;
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const queue = new FrameQueue(transport, HANDSHAKE_MAX_FRAME_BYTES);
  const timer = clock.setTimeout(() => {
    queue.fail(new ProtocolError('timeout', `handshake did not finish within ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    const outcome =
      options.role === 'initiator'
        ? await runInitiator(queue, options, versions)
        : await runResponder(queue, options, versions);
    const initiator = options.role === 'initiator';
    return new SecureChannel({
      queue,
      role: options.role,
      sendKey: initiator ? outcome.keys.appI2R : outcome.keys.appR2I,
      receiveKey: initiator ? outcome.keys.appR2I : outcome.keys.appI2R,
      remotePublicKey: outcome.remotePublicKey,
      remoteDeviceId: outcome.remoteDeviceId,
      sas: outcome.keys.sas,
      paired: outcome.paired,
      protocolVersion: outcome.version,
      maxFrameBytes,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    });
  } catch (err) {
    const error =
      err instanceof ProtocolError
        ? err
        : new ProtocolError('internal', `handshake failed: ${String(err)}`, { cause: err });
    queue.fail(error);
    const reason = abortReasonFor(error);
    if (reason !== undefined && !(error instanceof PeerAbort) && !transport.closed) {
      transport.write(encodeFrame(encodeAbort(versions, reason)));
    }
    queue.close(error.message);
    throw error;
  } finally {
    clock.clearTimeout(timer);
  }
}

async function runInitiator(
  queue: FrameQueue,
  options: HandshakeOptions,
  versions: VersionRange,
): Promise<Outcome> {
  const pairing = options.pairingCode !== undefined;
  const flags = pairing ? FLAG_PAIRING : 0;
  const ephemeral = generateKeyPairSync('x25519');
  const helloI = encodeHelloInitiator(
    versions,
    flags,
    rawPublicKey(ephemeral.publicKey),
    options.identity.publicKey,
  );
  queue.write(encodeFrame(helloI));

  const helloR = expect(
    decodeHandshakeMessage(await queue.next(), MessageType.HelloResponder, pairing),
    versions,
  );
  if (helloR.kind !== 'hello_responder') throw unexpected();
  const negotiation = negotiateVersion(versions, helloR.header.versions);
  if (!negotiation.ok) throw versionError(negotiation.reason, versions, helloR.header.versions);
  if (negotiation.version > PROTOCOL_VERSION) throw unexpected();
  if (helloR.flags !== flags) {
    throw new ProtocolError('malformed', 'the peer answered with different handshake flags');
  }
  const remoteDeviceId = checkPeerKey(helloR.staticKey, options.identity);
  if (!pairing) await checkTrust(queue, options.isTrusted, remoteDeviceId, helloR.staticKey);

  const transcript = transcriptHash(helloI, helloR.head);
  const keys = deriveSessionKeys(agree(ephemeral.privateKey, helloR.ephemeral), transcript);
  const payload = aeadOpen(keys.handshakeR2I, 0, transcript, helloR.sealed);
  if (payload === undefined) {
    throw new ProtocolError('auth_failed', 'the peer handshake payload failed authentication');
  }
  verifySignature(payload, 'responder', helloR.staticKey, transcript);
  let mac: Uint8Array | undefined;
  if (options.pairingCode !== undefined) {
    const pairingKey = await queue.guard(derivePairingKey(options.pairingCode, transcript));
    const expected = pairingMac(pairingKey, 'responder', transcript);
    if (!constantTimeEqual(payload.subarray(SIGNATURE_BYTES), expected)) {
      throw new ProtocolError('pairing_failed', 'pairing failed: the pairing code does not match');
    }
    mac = pairingMac(pairingKey, 'initiator', transcript);
  }
  const signature = options.identity.sign(signatureInput('initiator', transcript));
  const sealed = aeadSeal(keys.handshakeI2R, 0, transcript, join(signature, mac));
  queue.write(encodeFrame(encodeFinishInitiator(versions, sealed)));
  return {
    keys,
    remotePublicKey: helloR.staticKey,
    remoteDeviceId,
    paired: pairing,
    version: negotiation.version,
  };
}

async function runResponder(
  queue: FrameQueue,
  options: HandshakeOptions,
  versions: VersionRange,
): Promise<Outcome> {
  const first = await queue.next();
  const helloI = expect(decodeHandshakeMessage(first, MessageType.HelloInitiator), versions);
  if (helloI.kind !== 'hello_initiator') throw unexpected();
  const negotiation = negotiateVersion(versions, helloI.header.versions);
  if (!negotiation.ok) throw versionError(negotiation.reason, versions, helloI.header.versions);
  if (negotiation.version > PROTOCOL_VERSION) throw unexpected();
  const pairing = (helloI.flags & FLAG_PAIRING) !== 0;
  const code = options.pairingCode;
  if (pairing && code === undefined) {
    throw new ProtocolError('pairing_failed', 'the peer asked to pair, but no pairing is active');
  }
  const remoteDeviceId = checkPeerKey(helloI.staticKey, options.identity);
  if (!pairing) await checkTrust(queue, options.isTrusted, remoteDeviceId, helloI.staticKey);

  const ephemeral = generateKeyPairSync('x25519');
  const flags = pairing ? FLAG_PAIRING : 0;
  const head = encodeHelloResponderHead(
    versions,
    flags,
    rawPublicKey(ephemeral.publicKey),
    options.identity.publicKey,
  );
  const transcript = transcriptHash(first, head);
  const keys = deriveSessionKeys(agree(ephemeral.privateKey, helloI.ephemeral), transcript);
  const pairingKey =
    code !== undefined && pairing
      ? await queue.guard(derivePairingKey(code, transcript))
      : undefined;
  const signature = options.identity.sign(signatureInput('responder', transcript));
  const mac = pairingKey ? pairingMac(pairingKey, 'responder', transcript) : undefined;
  const sealed = aeadSeal(keys.handshakeR2I, 0, transcript, join(signature, mac));
  queue.write(encodeFrame(join(head, sealed)));

  const finish = expect(
    decodeHandshakeMessage(await queue.next(), MessageType.FinishInitiator, pairing),
    versions,
  );
  if (finish.kind !== 'finish_initiator') throw unexpected();
  if (
    finish.header.versions.min !== helloI.header.versions.min ||
    finish.header.versions.max !== helloI.header.versions.max
  ) {
    throw new ProtocolError('malformed', 'the peer changed its protocol versions mid-handshake');
  }
  const payload = aeadOpen(keys.handshakeI2R, 0, transcript, finish.sealed);
  if (payload === undefined) {
    throw new ProtocolError('auth_failed', 'the peer handshake payload failed authentication');
  }
  verifySignature(payload, 'initiator', helloI.staticKey, transcript);
  if (pairingKey) {
    const expected = pairingMac(pairingKey, 'initiator', transcript);
    if (!constantTimeEqual(payload.subarray(SIGNATURE_BYTES), expected)) {
      throw new ProtocolError('pairing_failed', 'pairing failed: the pairing code does not match');
    }
  }
  return {
    keys,
    remotePublicKey: helloI.staticKey,
    remoteDeviceId,
    paired: pairing,
    version: negotiation.version,
  };
}

/** Turns an ABORT from the peer into the matching error; passes other messages through. */
function expect(message: HandshakeMessage, versions: VersionRange): HandshakeMessage {
  if (message.kind !== 'abort') return message;
  throw errorFromAbort(message, versions);
}

function errorFromAbort(abort: Abort, versions: VersionRange): ProtocolError {
  const peer = abort.header.versions;
  switch (abort.reason) {
    case AbortReason.Version: {
      const negotiation = negotiateVersion(versions, peer);
      const reason: ProtocolErrorReason = negotiation.ok ? 'malformed' : negotiation.reason;
      if (reason === 'malformed') {
        return new PeerAbort('malformed', 'the peer refused our protocol version');
      }
      const error = versionError(reason, versions, peer);
      return new PeerAbort(error.reason, error.message);
    }
    case AbortReason.Untrusted:
      return new PeerAbort(
        'rejected_by_peer',
        'the peer does not trust this device (not paired with it, or revoked): pair again',
      );
    case AbortReason.Pairing:
      return new PeerAbort(
        'pairing_failed',
        'pairing failed on the peer: wrong or expired pairing code, or no pairing active there',
      );
    case AbortReason.Auth:
      return new PeerAbort('auth_failed', 'the peer could not authenticate this device');
    case AbortReason.Malformed:
      return new PeerAbort('malformed', 'the peer could not parse our handshake');
    case AbortReason.Timeout:
      return new PeerAbort('timeout', 'the handshake timed out on the peer');
    default:
      return new PeerAbort('closed', `the peer aborted the handshake (reason ${abort.reason})`);
  }
}

function abortReasonFor(error: ProtocolError): number | undefined {
  switch (error.reason) {
    case 'peer_too_old':
    case 'peer_too_new':
      return AbortReason.Version;
    case 'untrusted_peer':
      return AbortReason.Untrusted;
    case 'pairing_failed':
      return AbortReason.Pairing;
    case 'auth_failed':
      return AbortReason.Auth;
    case 'malformed':
      return AbortReason.Malformed;
    case 'timeout':
      return AbortReason.Timeout;
    case 'internal':
      return AbortReason.Internal;
    case 'bad_magic': // not a Twinspace peer: say nothing
    case 'closed':
    default:
      return undefined;
  }
}

function checkPeerKey(staticKey: Uint8Array, identity: DeviceIdentity): string {
  if (constantTimeEqual(staticKey, identity.publicKey)) {
    throw new ProtocolError('auth_failed', "the peer presented this device's own key");
  }
  return deviceIdFromPublicKey(staticKey);
}

async function checkTrust(
  queue: FrameQueue,
  isTrusted: TrustCheck,
  deviceId: string,
  publicKey: Uint8Array,
): Promise<void> {
  let trusted: boolean;
  try {
    trusted = await queue.guard(Promise.resolve(isTrusted(deviceId, Uint8Array.from(publicKey))));
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError('internal', `the trust check failed: ${String(err)}`, { cause: err });
  }
  if (!trusted) {
    throw new ProtocolError(
      'untrusted_peer',
      `device ${deviceId} is not trusted (unknown or revoked)`,
    );
  }
}

function agree(privateKey: KeyObject, peerEphemeral: Uint8Array): Uint8Array {
  try {
    return new Uint8Array(
      diffieHellman({ privateKey, publicKey: x25519PublicKeyFromRaw(peerEphemeral) }),
    );
  } catch (err) {
    // A low-order point gives an all-zero secret, which OpenSSL refuses.
    throw new ProtocolError('malformed', 'invalid ephemeral key from the peer', { cause: err });
  }
}

function verifySignature(
  payload: Uint8Array,
  role: Role,
  staticKey: Uint8Array,
  transcript: Uint8Array,
): void {
  const signature = payload.subarray(0, SIGNATURE_BYTES);
  if (!ed25519Verify(staticKey, signatureInput(role, transcript), signature)) {
    throw new ProtocolError('auth_failed', `the peer's ${role} signature does not verify`);
  }
}

function join(a: Uint8Array, b: Uint8Array | undefined): Uint8Array {
  if (b === undefined) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function unexpected(): ProtocolError {
  return new ProtocolError('malformed', 'unexpected handshake message');
}
