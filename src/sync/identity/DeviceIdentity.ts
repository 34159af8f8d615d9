/**
 * A device's identity: an Ed25519 key pair (node:crypto). The device id is the base32 (RFC 4648,
 * upper case, no padding) of the first 20 bytes of SHA-256(public key): 32 characters. Its short,
 * human-checkable form is the first 12 characters in groups of four: `ABCD-EFGH-IJKL`.
 */
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { encodeBase32 } from './base32';
import {
  ED25519_SEED_BYTES,
  ed25519PrivateKeyFromSeed,
  ed25519Sign,
  ed25519Verify,
  rawEd25519Seed,
  rawPublicKey,
} from './ed25519';
import { KeyStoreError } from './KeyStore';
import type { KeyStore } from './KeyStore';
import { signRotation, verifyRotation } from './RotationCertificate';
import type { RotationCertificate } from './RotationCertificate';

/** Bytes of SHA-256(public key) kept in the device id (160 bits, 32 base32 characters). */
export const DEVICE_ID_HASH_BYTES = 20;
export const DEVICE_ID_LENGTH = 32;
const DEVICE_ID_PATTERN = /^[A-Z2-7]{32}$/;

/** The device id of a raw 32-byte Ed25519 public key. */
export function deviceIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) {
    throw new RangeError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  }
  const digest = createHash('sha256').update(publicKey).digest();
  return encodeBase32(digest.subarray(0, DEVICE_ID_HASH_BYTES));
}

/** `ABCD-EFGH-IJKL`: the first 12 characters of a device id, grouped for reading aloud. */
export function shortDeviceId(deviceId: string): string {
  const head = deviceId.slice(0, 12);
  return `${head.slice(0, 4)}-${head.slice(4, 8)}-${head.slice(8, 12)}`;
}

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

export interface RotationResult {
  readonly identity: DeviceIdentity;
  readonly certificate: RotationCertificate;
}

export class DeviceIdentity {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly deviceId: string;
  readonly shortId: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = rawPublicKey(createPublicKey(privateKey));
    this.deviceId = deviceIdFromPublicKey(this.publicKey);
    this.shortId = shortDeviceId(this.deviceId);
  }

  /** A new random identity. */
  static generate(): DeviceIdentity {
    return new DeviceIdentity(generateKeyPairSync('ed25519').privateKey);
  }

  /** The identity of a 32-byte Ed25519 seed (the secret a KeyStore keeps). */
  static fromSeed(seed: Uint8Array): DeviceIdentity {
    return new DeviceIdentity(ed25519PrivateKeyFromSeed(seed));
  }

  /** Loads the identity from `store`, or creates one and saves it there first. */
  static async loadOrCreate(store: KeyStore): Promise<DeviceIdentity> {
    const seed = await store.load();
    if (seed !== undefined) {
      if (seed.length !== ED25519_SEED_BYTES) {
        throw new KeyStoreError(
          'key_file_corrupt',
          `stored device key has ${seed.length} bytes, expected ${ED25519_SEED_BYTES}`,
        );
      }
      return DeviceIdentity.fromSeed(seed);
    }
    const identity = DeviceIdentity.generate();
    await store.save(identity.exportSeed());
    return identity;
  }

  /** Verifies an Ed25519 signature by a raw public key. Never throws: malformed input is false. */
  static verify(publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array): boolean {
    return ed25519Verify(publicKey, bytes, signature);
  }

  /** True when `certificate` is well formed and signed by its old key. */
  static verifyRotation(certificate: RotationCertificate): boolean {
    return verifyRotation(certificate);
  }

  /** The secret seed, for a KeyStore. Handle with care: it is the device's private key. */
  exportSeed(): Uint8Array {
    return rawEd25519Seed(this.privateKey);
  }

  /** A 64-byte Ed25519 signature. */
  sign(bytes: Uint8Array): Uint8Array {
    return ed25519Sign(this.privateKey, bytes);
  }

  /**
   * A fresh identity plus a certificate in which this (old) key signs the new public key. Save the
   * new identity's seed before handing the certificate to peers.
   */
  rotate(issuedAt: number = Date.now()): RotationResult {
    const identity = DeviceIdentity.generate();
    const certificate = signRotation(this.privateKey, this.publicKey, identity.publicKey, issuedAt);
    return { identity, certificate };
  }

  /** Never prints key material. */
  toJSON(): { deviceId: string } {
    return { deviceId: this.deviceId };
  }
}
