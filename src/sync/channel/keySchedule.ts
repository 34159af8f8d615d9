/**
 * The key schedule of protocol version 1 (docs/protocol.md, "Key schedule"):
 *
 *   th   = SHA-256("TWSP handshake v1" | u32 len | HELLO_I | u32 len | HELLO_R head)
 *   dh   = X25519(e_I, e_R)
 *   okm  = HKDF-SHA256(ikm = dh, salt = th, info = "TWSP v1 keys", 136 bytes)
 *        = hs_i2r(32) | hs_r2i(32) | app_i2r(32) | app_r2i(32) | sas(8)
 *   sig  = Ed25519(static, "TWSP v1 sig <role>\0" | th)
 *   pk   = scrypt(code, salt = "TWSP v1 pairing\0" | th, N=2^14, r=8, p=1, 32 bytes)
 *   mac  = HMAC-SHA256(pk, "TWSP v1 pairing <role>\0" | th)
 */
import { createHash, createHmac, hkdfSync, scrypt, timingSafeEqual } from 'node:crypto';

export type Role = 'initiator' | 'responder';

export interface SessionKeys {
  /** Seals the initiator's FINISH_I payload. */
  readonly handshakeI2R: Uint8Array;
  /** Seals the responder's HELLO_R payload. */
  readonly handshakeR2I: Uint8Array;
  readonly appI2R: Uint8Array;
  readonly appR2I: Uint8Array;
  /** Short authentication string: 6 decimal digits, the same on both sides. */
  readonly sas: string;
}

const encoder = new TextEncoder();
const TRANSCRIPT_LABEL = encoder.encode('TWSP handshake v1');
const KEYS_INFO = 'TWSP v1 keys';
const PAIRING_SALT_LABEL = encoder.encode('TWSP v1 pairing\0');
export const PAIRING_SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export function transcriptHash(
  helloInitiator: Uint8Array,
  helloResponderHead: Uint8Array,
): Uint8Array {
  const hash = createHash('sha256');
  hash.update(TRANSCRIPT_LABEL);
  hash.update(u32(helloInitiator.length));
  hash.update(helloInitiator);
  hash.update(u32(helloResponderHead.length));
  hash.update(helloResponderHead);
  return new Uint8Array(hash.digest());
}

export function deriveSessionKeys(sharedSecret: Uint8Array, transcript: Uint8Array): SessionKeys {
  const okm = new Uint8Array(hkdfSync('sha256', sharedSecret, transcript, KEYS_INFO, 136));
  const sasValue = new DataView(okm.buffer, okm.byteOffset + 128, 8).getBigUint64(0);
  return {
    handshakeI2R: okm.slice(0, 32),
    handshakeR2I: okm.slice(32, 64),
    appI2R: okm.slice(64, 96),
    appR2I: okm.slice(96, 128),
    sas: (sasValue % 1_000_000n).toString().padStart(6, '0'),
  };
}

/** What `role` signs with its static Ed25519 key. */
export function signatureInput(role: Role, transcript: Uint8Array): Uint8Array {
  return concat(encoder.encode(`TWSP v1 sig ${role}\0`), transcript);
}

/**
 * Pairing codes are compared after normalisation: Unicode NFKC, upper case, without white space
 * and dashes (`abcd-efgh ijkl` = `ABCDEFGHIJKL`).
 */
export function normalizePairingCode(code: string): string {
  return code
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[\s-]+/g, '');
}

/** The pairing key: scrypt of the code, salted with this handshake's transcript (no precomputation). */
export function derivePairingKey(code: string, transcript: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    scrypt(
      normalizePairingCode(code),
      concat(PAIRING_SALT_LABEL, transcript),
      32,
      PAIRING_SCRYPT,
      (err, key) => {
        if (err) reject(err);
        else resolve(new Uint8Array(key));
      },
    );
  });
}

export function pairingMac(pairingKey: Uint8Array, role: Role, transcript: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac('sha256', pairingKey)
      .update(encoder.encode(`TWSP v1 pairing ${role}\0`))
      .update(transcript)
      .digest(),
  );
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
