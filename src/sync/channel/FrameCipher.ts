/**
 * ChaCha20-Poly1305 (node:crypto) with implicit 64-bit counter nonces. One FrameCipher per
 * direction: the sender's and the receiver's counters advance in step, so a frame that was
 * dropped, replayed, reordered or altered fails authentication.
 *
 * Application frame (the payload of one transport frame):
 *   flags u8 | ciphertext | tag (16)        AAD = flags, nonce = 0x00000000 | u64 BE counter
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../transport/FrameDecoder';

const ALGORITHM = 'chacha20-poly1305';
export const AEAD_TAG_BYTES = 16;
/** Bytes an application frame adds to its data: flags + tag. */
export const FRAME_OVERHEAD_BYTES = 1 + AEAD_TAG_BYTES;
/** Counters stop short of 2^53 (never reached in practice): the channel closes instead. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export const FrameFlags = {
  /** More frames of the same message follow. */
  More: 0x01,
  /** The sender closes the channel; the data is a UTF-8 reason. */
  Close: 0x02,
} as const;
export const KNOWN_FRAME_FLAGS = FrameFlags.More | FrameFlags.Close;

export interface OpenedFrame {
  readonly flags: number;
  readonly data: Uint8Array;
}

function nonceFor(counter: number, nonce: Buffer): Buffer {
  nonce.writeUInt32BE(0, 0);
  nonce.writeUInt32BE(Math.floor(counter / 0x100000000), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
  return nonce;
}

/** One-shot seal: ciphertext | tag. */
export function aeadSeal(
  key: Uint8Array,
  counter: number,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const cipher = createCipheriv(ALGORITHM, key, nonceFor(counter, Buffer.alloc(12)), {
    authTagLength: AEAD_TAG_BYTES,
  });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  const out = new Uint8Array(body.length + AEAD_TAG_BYTES);
  out.set(body, 0);
  out.set(cipher.getAuthTag(), body.length);
  return out;
}

/** One-shot open of `ciphertext | tag`; undefined when authentication fails. */
export function aeadOpen(
  key: Uint8Array,
  counter: number,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < AEAD_TAG_BYTES) return undefined;
  const split = sealed.length - AEAD_TAG_BYTES;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, nonceFor(counter, Buffer.alloc(12)), {
      authTagLength: AEAD_TAG_BYTES,
    });
    decipher.setAAD(aad, { plaintextLength: split });
    decipher.setAuthTag(sealed.subarray(split));
    const plain = decipher.update(sealed.subarray(0, split));
    decipher.final();
    return plain;
  } catch {
    return undefined;
  }
}

export class FrameCipher {
  private counter = 0;
  private readonly nonce = Buffer.alloc(12);
  private readonly aad = Buffer.alloc(1);

  constructor(private readonly key: Uint8Array) {}

  /** Frames sealed (or opened) so far: the next nonce counter. */
  get count(): number {
    return this.counter;
  }

  get exhausted(): boolean {
    return this.counter >= MAX_COUNTER;
  }

  /**
   * Seals `data` into a complete transport frame, length header included:
   * u32 BE length | flags | ciphertext | tag.
   */
  seal(flags: number, data: Uint8Array): Uint8Array {
    if (this.exhausted) throw new RangeError('frame counter exhausted');
    const payloadLength = FRAME_OVERHEAD_BYTES + data.length;
    const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadLength);
    writeFrameHeader(out, 0, payloadLength);
    out[FRAME_HEADER_BYTES] = flags;
    this.aad[0] = flags;
    const cipher = createCipheriv(ALGORITHM, this.key, nonceFor(this.counter, this.nonce), {
      authTagLength: AEAD_TAG_BYTES,
    });
    this.counter += 1;
    cipher.setAAD(this.aad, { plaintextLength: data.length });
    const body = cipher.update(data);
    cipher.final();
    out.set(body, FRAME_HEADER_BYTES + 1);
    cipher.getAuthTag().copy(out, FRAME_HEADER_BYTES + 1 + data.length);
    return out;
  }

  /**
   * Opens one frame payload (flags | ciphertext | tag). Undefined when it fails authentication
   * under the next counter; the counter advances only on success.
   */
  open(payload: Uint8Array): OpenedFrame | undefined {
    if (payload.length < FRAME_OVERHEAD_BYTES || this.exhausted) return undefined;
    const flags = payload[0] ?? 0;
    const split = payload.length - AEAD_TAG_BYTES;
    this.aad[0] = flags;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, nonceFor(this.counter, this.nonce), {
        authTagLength: AEAD_TAG_BYTES,
      });
      decipher.setAAD(this.aad, { plaintextLength: split - 1 });
      decipher.setAuthTag(payload.subarray(split));
      const data = decipher.update(payload.subarray(1, split));
      decipher.final();
      this.counter += 1;
      return { flags, data };
    } catch {
      return undefined;
    }
  }
}
