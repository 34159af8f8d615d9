import { createHash } from 'node:crypto';

/** A content-hash function: the same form as the hashes in the plan (`expectedHash`). */
export type HashFunction = (bytes: Uint8Array) => string;

/** The default content hash: SHA-256, lowercase hex. */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
