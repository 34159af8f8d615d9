/**
 * Every failure of the handshake or the secure channel. `reason` is fine grained and stable (switch
 * on it; the docs list them); `code` is the coarse ResultCode every layer shares.
 */
import { TwinspaceError } from '../../core/errors';
import type { ResultCode } from '../../core/errors';

export type ProtocolErrorReason =
  /** The first bytes are not the Twinspace magic: not a Twinspace peer. */
  | 'bad_magic'
  /** The peer speaks only older protocol versions: the PEER must update. */
  | 'peer_too_old'
  /** The peer speaks only newer protocol versions: THIS device must update. */
  | 'peer_too_new'
  /** A message does not parse, or breaks the protocol's rules (wrong type, bad flags, …). */
  | 'malformed'
  /** Our isTrusted hook refused the peer's key (unknown or revoked device). */
  | 'untrusted_peer'
  /** The peer refused us: it does not trust this device (not paired, or revoked). */
  | 'rejected_by_peer'
  /** A handshake signature or encrypted handshake payload failed to verify. */
  | 'auth_failed'
  /** Pairing mode: the codes differ, or the peer has no pairing code active. */
  | 'pairing_failed'
  /** A frame's length is over the cap. */
  | 'frame_too_large'
  /** A chunked application message is over the total message cap. */
  | 'message_too_large'
  /** An application frame failed authentication: tampered, replayed, reordered or dropped. */
  | 'decrypt_failed'
  /** The handshake did not finish in time. */
  | 'timeout'
  /** The transport closed, or the channel was closed. */
  | 'closed'
  /** A local failure (e.g. an onMessage listener threw). */
  | 'internal';

const RESULT_CODES: Record<ProtocolErrorReason, ResultCode> = {
  bad_magic: 'validation',
  peer_too_old: 'validation',
  peer_too_new: 'validation',
  malformed: 'validation',
  untrusted_peer: 'unauthorized',
  rejected_by_peer: 'unauthorized',
  auth_failed: 'unauthorized',
  pairing_failed: 'unauthorized',
  frame_too_large: 'validation',
  message_too_large: 'validation',
  decrypt_failed: 'unauthorized',
  timeout: 'closed',
  closed: 'closed',
  internal: 'internal',
};

export class ProtocolError extends TwinspaceError {
  constructor(
    readonly reason: ProtocolErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(RESULT_CODES[reason], message, options);
    this.name = 'ProtocolError';
  }
}

export function isProtocolError(err: unknown, reason?: ProtocolErrorReason): err is ProtocolError {
  return err instanceof ProtocolError && (reason === undefined || err.reason === reason);
}
