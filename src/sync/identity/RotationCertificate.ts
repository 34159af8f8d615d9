/**
 * Key rotation without re-pairing: the old key signs the new one. A peer that trusts the old public
 * key and receives a certificate that verifies may move its trust to the new key (and device id).
 */
import type { KeyObject } from 'node:crypto';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  ed25519Sign,
  ed25519Verify,
} from './ed25519';

export interface RotationCertificate {
  readonly oldPublicKey: Uint8Array;
  readonly newPublicKey: Uint8Array;
  /** Milliseconds since the Unix epoch, an integer. */
  readonly issuedAt: number;
  /** Ed25519 signature by the old key over {@link rotationSigningBytes}. */
  readonly signature: Uint8Array;
}

const DOMAIN = new TextEncoder().encode('TWSP rotation v1\0');
const ENCODING_VERSION = 1;
/** Encoded size: version(1) + old(32) + new(32) + issuedAt(8) + signature(64). */
export const ROTATION_CERTIFICATE_BYTES = 1 + 32 + 32 + 8 + 64;

/** What the old key signs: a domain label, both keys and the issue time (u64 big-endian). */
export function rotationSigningBytes(
  oldPublicKey: Uint8Array,
  newPublicKey: Uint8Array,
  issuedAt: number,
): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + 32 + 32 + 8);
  out.set(DOMAIN, 0);
  out.set(oldPublicKey, DOMAIN.length);
  out.set(newPublicKey, DOMAIN.length + 32);
  new DataView(out.buffer).setBigUint64(DOMAIN.length + 64, BigInt(issuedAt));
  return out;
}

export function signRotation(
  oldPrivateKey: KeyObject,
  oldPublicKey: Uint8Array,
  newPublicKey: Uint8Array,
  issuedAt: number,
): RotationCertificate {
  if (!isValidTime(issuedAt)) throw new RangeError('issuedAt must be a non-negative integer');
  const signature = ed25519Sign(
    oldPrivateKey,
    rotationSigningBytes(oldPublicKey, newPublicKey, issuedAt),
  );
  return {
    oldPublicKey: Uint8Array.from(oldPublicKey),
    newPublicKey: Uint8Array.from(newPublicKey),
    issuedAt,
    signature,
  };
}

/** True when the certificate is well formed and signed by its old key. */
export function verifyRotation(cert: RotationCertificate): boolean {
  if (cert.oldPublicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (cert.newPublicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (cert.signature.length !== ED25519_SIGNATURE_BYTES) return false;
  if (!isValidTime(cert.issuedAt)) return false;
  if (Buffer.from(cert.oldPublicKey).equals(cert.newPublicKey)) return false;
  return ed25519Verify(
    cert.oldPublicKey,
    rotationSigningBytes(cert.oldPublicKey, cert.newPublicKey, cert.issuedAt),
    cert.signature,
  );
}

export function encodeRotationCertificate(cert: RotationCertificate): Uint8Array {
  const out = new Uint8Array(ROTATION_CERTIFICATE_BYTES);
  out[0] = ENCODING_VERSION;
  out.set(cert.oldPublicKey, 1);
  out.set(cert.newPublicKey, 33);
  new DataView(out.buffer).setBigUint64(65, BigInt(cert.issuedAt));
  out.set(cert.signature, 73);
  return out;
}

/** Parses the encoding; undefined when malformed. Does not verify: call {@link verifyRotation}. */
export function decodeRotationCertificate(bytes: Uint8Array): RotationCertificate | undefined {
  if (bytes.length !== ROTATION_CERTIFICATE_BYTES || bytes[0] !== ENCODING_VERSION)
    return undefined;
  const issued = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(65);
  if (issued > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    oldPublicKey: bytes.slice(1, 33),
    newPublicKey: bytes.slice(33, 65),
    issuedAt: Number(issued),
    signature: bytes.slice(73, 137),
  };
}

function isValidTime(t: number): boolean {
  return Number.isSafeInteger(t) && t >= 0;
}
