/**
 * Where a device keeps its private key. The CLI uses {@link FileKeyStore}; the VS Code host
 * implements this interface with SecretStorage. The secret is opaque bytes to the store (for a
 * DeviceIdentity, its 32-byte Ed25519 seed).
 */
import { TwinspaceError } from '../../core/errors';
import type { ResultCode } from '../../core/errors';

export interface KeyStore {
  /** The saved secret, or undefined when none was saved yet. Rejects on an unsafe or corrupt store. */
  load(): Promise<Uint8Array | undefined>;
  /** Saves the secret durably, replacing any previous one. */
  save(secret: Uint8Array): Promise<void>;
}

/** Fine-grained, stable reasons a key store refuses to work. */
export type KeyStoreErrorReason =
  /** The key file can be read or written by group or others (or belongs to another user). */
  | 'key_file_insecure'
  /** The key file is not a regular file (a directory, a device, a symlink…). */
  | 'key_file_not_regular'
  /** The key file does not parse, or holds a secret of the wrong size. */
  | 'key_file_corrupt';

const RESULT_CODES: Record<KeyStoreErrorReason, ResultCode> = {
  key_file_insecure: 'unauthorized',
  key_file_not_regular: 'validation',
  key_file_corrupt: 'validation',
};

export class KeyStoreError extends TwinspaceError {
  constructor(
    readonly reason: KeyStoreErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(RESULT_CODES[reason], message, options);
    this.name = 'KeyStoreError';
  }
}
