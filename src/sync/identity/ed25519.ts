/**
 * Ed25519 and X25519 with node:crypto, on raw 32-byte keys. node:crypto wants KeyObjects: raw
 * public keys go in and out as JWK (`x`, base64url), which is ~10x faster than DER in Node 20
 * (about 6 µs against 70 µs per import); seeds go in as PKCS#8 DER (fixed prefix + seed).
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== ED25519_SEED_BYTES) {
    throw new RangeError(`an Ed25519 seed is ${ED25519_SEED_BYTES} bytes, got ${seed.length}`);
  }
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

export function ed25519PublicKeyFromRaw(publicKey: Uint8Array): KeyObject {
  return publicKeyFromRaw('Ed25519', publicKey);
}

export function x25519PublicKeyFromRaw(publicKey: Uint8Array): KeyObject {
  return publicKeyFromRaw('X25519', publicKey);
}

function publicKeyFromRaw(crv: 'Ed25519' | 'X25519', publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== 32) {
    throw new RangeError(`an ${crv} public key is 32 bytes, got ${publicKey.length}`);
  }
  const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv, x }, format: 'jwk' });
}

/** The raw 32 bytes of an Ed25519 or X25519 public key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  return jwkBytes(key.export({ format: 'jwk' }).x, 'x');
}

/** The raw 32-byte seed of an Ed25519 private key. */
export function rawEd25519Seed(key: KeyObject): Uint8Array {
  return jwkBytes(key.export({ format: 'jwk' }).d, 'd');
}

function jwkBytes(value: string | undefined, field: string): Uint8Array {
  if (value === undefined) throw new TypeError(`key has no JWK "${field}"`);
  const bytes = new Uint8Array(Buffer.from(value, 'base64url'));
  if (bytes.length !== 32) throw new TypeError(`JWK "${field}" is not 32 bytes`);
  return bytes;
}

export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey));
}

/** True only for a valid signature; malformed keys or signatures give false, never a throw. */
export function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, message, ed25519PublicKeyFromRaw(publicKey), signature);
  } catch {
    return false;
  }
}
