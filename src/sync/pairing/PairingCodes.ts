/**
 * One-time pairing codes, shown by the device that accepts a pairing and typed on the one that
 * joins. A code is 12 characters of Crockford base32 (60 bits from crypto.randomBytes), shown as
 * `ABCD-EFGH-JKMN`; it expires (default 5 minutes), is single use, and is burned after a few failed
 * attempts (default 5). Only one code is active at a time: issuing a new one replaces the old.
 *
 * The real proof of the code happens inside the handshake (an HMAC keyed by the code), so besides
 * `check` (a typed code compared in constant time) the responder can read `currentCode` and report
 * the outcome with `recordFailure` / `consume`, or, better, take a reservation with `beginAttempt`
 * so that concurrent handshakes cannot exceed the attempt limit.
 */
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';

/** Crockford's base32 alphabet: digits and letters without I, L, O, U. */
export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const PAIRING_CODE_LENGTH = 12;
export const PAIRING_CODE_BITS = PAIRING_CODE_LENGTH * 5;
export const DEFAULT_PAIRING_TTL_MS = 5 * 60_000;
export const DEFAULT_PAIRING_MAX_ATTEMPTS = 5;

export type PairingFailureCode = 'expired' | 'wrong' | 'used' | 'exhausted' | 'none';

export type PairingCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly code: PairingFailureCode;
      readonly message: string;
      /** Failed attempts the code still allows (0 once burned or unusable). */
      readonly attemptsLeft: number;
    };

export interface IssuedPairingCode {
  /** For display: `ABCD-EFGH-JKMN`. */
  readonly code: string;
  /** The canonical form (12 characters, no dashes): what the handshake keys its HMAC with. */
  readonly canonical: string;
  readonly expiresAt: number;
}

export type PairingCodeState =
  | {
      readonly status: 'active';
      readonly expiresAt: number;
      readonly attemptsLeft: number;
      readonly inFlight: number;
    }
  | { readonly status: PairingFailureCode; readonly message: string };

/** A reserved attempt: report its outcome exactly once. */
export interface PairingAttempt {
  /** The canonical code the handshake must use. */
  readonly code: string;
  /** The handshake proved the code: the code is consumed (single use). */
  succeed(): void;
  /** The handshake failed: counts as a failed attempt. Returns the code's state afterwards. */
  fail(now: number): PairingCodeState;
  /** Released without a guess being made (e.g. the connection never came up): not counted. */
  abandon(): void;
}

export type BeginAttemptResult =
  | { readonly ok: true; readonly attempt: PairingAttempt }
  | {
      readonly ok: false;
      /** `busy`: as many attempts as remain are already running. */
      readonly code: PairingFailureCode | 'busy';
      readonly message: string;
    };

export interface PairingCodesOptions {
  /** Lifetime of an issued code (default 5 minutes). */
  readonly ttlMs?: number;
  /** Failed attempts that burn a code (default 5). */
  readonly maxAttempts?: number;
  /** Randomness source (default crypto.randomBytes). */
  readonly randomBytes?: (size: number) => Uint8Array;
  /** Fixed-time comparison of two equal-length digests (default crypto.timingSafeEqual). */
  readonly constantTimeEqual?: (a: Uint8Array, b: Uint8Array) => boolean;
}

interface ActiveCode {
  readonly canonical: string;
  readonly digest: Buffer;
  readonly expiresAt: number;
  failures: number;
  inFlight: number;
  used: boolean;
}

/**
 * The canonical form of what a user typed: upper case, dashes and white space dropped, Crockford's
 * look-alikes mapped (O→0, I and L→1). Undefined when it cannot be a pairing code (wrong length or
 * a character outside the alphabet).
 */
export function normalizePairingCode(input: string): string | undefined {
  const canonical = input
    .toUpperCase()
    .replace(/[\s\-–—_]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (canonical.length !== PAIRING_CODE_LENGTH) return undefined;
  for (const char of canonical) if (!CROCKFORD_ALPHABET.includes(char)) return undefined;
  return canonical;
}

/** `ABCDEFGHJKMN` → `ABCD-EFGH-JKMN`. */
export function formatPairingCode(canonical: string): string {
  return canonical.match(/.{1,4}/g)?.join('-') ?? canonical;
}

/** Encodes the top `PAIRING_CODE_BITS` bits of 8 random bytes as 12 Crockford characters. */
export function encodePairingCode(bytes: Uint8Array): string {
  if (bytes.length < 8) throw new RangeError('a pairing code needs 8 random bytes');
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  value >>= BigInt(64 - PAIRING_CODE_BITS);
  let out = '';
  for (let i = PAIRING_CODE_LENGTH - 1; i >= 0; i--) {
    out += CROCKFORD_ALPHABET.charAt(Number((value >> BigInt(i * 5)) & 31n));
  }
  return out;
}

function digestOf(text: string): Buffer {
  return createHash('sha256').update(`twinspace pairing code\0${text}`).digest();
}

export class PairingCodes {
  readonly ttlMs: number;
  readonly maxAttempts: number;
  private readonly randomBytes: (size: number) => Uint8Array;
  private readonly constantTimeEqual: (a: Uint8Array, b: Uint8Array) => boolean;
  private active: ActiveCode | undefined;

  constructor(options: PairingCodesOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_PAIRING_TTL_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_PAIRING_MAX_ATTEMPTS;
    if (!(this.ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new RangeError('maxAttempts must be a positive integer');
    }
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
    this.constantTimeEqual = options.constantTimeEqual ?? timingSafeEqual;
  }

  /** A new code, replacing any previous one. */
  issue(now: number): IssuedPairingCode {
    const canonical = encodePairingCode(this.randomBytes(8));
    const expiresAt = now + this.ttlMs;
    this.active = {
      canonical,
      digest: digestOf(canonical),
      expiresAt,
      failures: 0,
      inFlight: 0,
      used: false,
    };
    return { code: formatPairingCode(canonical), canonical, expiresAt };
  }

  /** Withdraws the active code (the user closed the pairing dialog). */
  cancel(): void {
    this.active = undefined;
  }

  state(now: number): PairingCodeState {
    const active = this.active;
    if (active === undefined) return unusable('none');
    if (active.used) return unusable('used');
    if (active.failures >= this.maxAttempts) return unusable('exhausted');
    if (now >= active.expiresAt) return unusable('expired');
    return {
      status: 'active',
      expiresAt: active.expiresAt,
      attemptsLeft: this.maxAttempts - active.failures,
      inFlight: active.inFlight,
    };
  }

  /**
   * Compares a typed code with the active one in constant time. Success consumes the code; a wrong
   * code counts as a failed attempt (input that cannot be a code at all does not).
   */
  check(candidate: string, now: number): PairingCheck {
    const active = this.active;
    const state = this.state(now);
    if (active === undefined || state.status !== 'active') {
      return failure(state.status === 'active' ? 'none' : state.status, 0);
    }
    const normalized = normalizePairingCode(candidate);
    // Digests of equal length, compared in constant time whatever the input looked like.
    const matches = this.constantTimeEqual(digestOf(normalized ?? candidate), active.digest);
    if (normalized === undefined) {
      return {
        ok: false,
        code: 'wrong',
        message: `not a pairing code: expected ${PAIRING_CODE_LENGTH} characters like ABCD-EFGH-JKMN`,
        attemptsLeft: this.maxAttempts - active.failures,
      };
    }
    if (matches) {
      active.used = true;
      return { ok: true };
    }
    return this.failed(active);
  }

  /** The canonical active code, if it can still be used (for the handshake responder's HMAC). */
  currentCode(now: number): string | undefined {
    return this.state(now).status === 'active' ? this.active?.canonical : undefined;
  }

  /** Reports a failed proof of the active code (e.g. a handshake HMAC that did not verify). */
  recordFailure(now: number): PairingCodeState {
    const active = this.active;
    if (active !== undefined && !active.used) active.failures += 1;
    return this.state(now);
  }

  /** Reports a successful proof: the active code can never be used again. */
  consume(): void {
    if (this.active !== undefined) this.active.used = true;
  }

  /**
   * Reserves an attempt for a handshake about to run. Attempts in flight count against the limit,
   * so parallel handshakes cannot try more codes than `maxAttempts`.
   */
  beginAttempt(now: number): BeginAttemptResult {
    const active = this.active;
    const state = this.state(now);
    if (active === undefined || state.status !== 'active') {
      const code = state.status === 'active' ? 'none' : state.status;
      return { ok: false, code, message: describeFailure(code) };
    }
    if (active.failures + active.inFlight >= this.maxAttempts) {
      return {
        ok: false,
        code: 'busy',
        message: 'pairing refused: as many attempts as the code allows are already in progress',
      };
    }
    active.inFlight += 1;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      active.inFlight -= 1;
      return true;
    };
    return {
      ok: true,
      attempt: {
        code: active.canonical,
        succeed: () => {
          if (settle()) active.used = true;
        },
        fail: (at: number) => {
          if (settle() && !active.used) active.failures += 1;
          return this.active === active ? this.state(at) : unusable('none');
        },
        abandon: () => {
          settle();
        },
      },
    };
  }

  private failed(active: ActiveCode): PairingCheck {
    active.failures += 1;
    const left = this.maxAttempts - active.failures;
    if (left <= 0) return failure('exhausted', 0);
    return {
      ok: false,
      code: 'wrong',
      message: `wrong pairing code (${left} attempt${left === 1 ? '' : 's'} left)`,
      attemptsLeft: left,
    };
  }
}

/** A user-facing sentence for each way a code can fail. */
export function describeFailure(code: PairingFailureCode): string {
  switch (code) {
    case 'none':
      return 'no pairing code is active: choose "Pair a device" to show one';
    case 'expired':
      return 'the pairing code has expired: show a new one';
    case 'used':
      return 'the pairing code was already used: show a new one';
    case 'exhausted':
      return 'too many wrong attempts: the pairing code is no longer valid, show a new one';
    case 'wrong':
      return 'wrong pairing code';
  }
}

function unusable(status: PairingFailureCode): PairingCodeState {
  return { status, message: describeFailure(status) };
}

function failure(code: PairingFailureCode, attemptsLeft: number): PairingCheck {
  return { ok: false, code, message: describeFailure(code), attemptsLeft };
}
