/**
 * A pairing from start to end, independent of the transport:
 *
 *   showing side (A)                                   joining side (B)
 *   codes.issue() → shows ABCD-EFGH-JKMN               user types the code
 *   acceptPairing(connect)                             joinPairing(connect, code)
 *     reserve an attempt (code active?)                  normalize the code (format?)
 *     handshake as responder with the code  <──────────>  handshake as initiator with the code
 *     success: code consumed                             (the code's HMAC, both directions)
 *     wait for B's `pair ok {name}`        <───────────  SAS confirmed → `pair ok {name}`
 *     SAS confirmed → store B as trusted
 *     `pair ok {name}`                     ───────────>  store A as trusted
 *
 * The handshake proves the code; the two short messages after it exchange device names and make
 * B store A only once A has stored B, so a failure on either side stores nothing on either side
 * (short of the connection dying between A's store and B's receipt of A's answer). Any failure is
 * a PairingError (a TwinspaceError) whose `reason` says which, with the channel closed.
 *
 * Both sides give the handshake the canonical code (see normalizePairingCode), so the HMAC keys
 * match whatever the user typed around it (dashes, lower case, O for 0).
 */
import { describeError, TwinspaceError, type ResultCode } from '../../core/errors';
import { systemClock, type Clock } from '../../runtime/Clock';
import type { TrustedPeer, TrustStore, WorkspaceGrant } from '../trust/TrustStore';
import {
  describeFailure,
  normalizePairingCode,
  PAIRING_CODE_LENGTH,
  type PairingCodes,
} from './PairingCodes';

/** What the flow needs of a secure channel (SecureChannel satisfies it). */
export interface PairingChannel {
  readonly remoteDeviceId: string;
  /** Raw 32-byte Ed25519 public key of the peer. */
  readonly remotePublicKey: Uint8Array;
  /** Short authentication string, the same on both sides of this session. */
  readonly sas: string;
  /** False when the handshake was not authenticated by a pairing code. */
  readonly paired?: boolean;
  send(message: Uint8Array): Promise<void>;
  /** Messages are held until the first listener is added. Returns the remover. */
  onMessage(listener: (message: Uint8Array) => void): () => void;
  onClose(listener: (info: { readonly message: string }) => void): () => void;
  close(reason?: string): void;
}

export interface PairingHandshakeOptions<I> {
  readonly identity: I;
  readonly role: 'initiator' | 'responder';
  /** Not consulted by a handshake that a pairing code authenticates. */
  readonly isTrusted: (deviceId: string, publicKey: Uint8Array) => boolean;
  /** Initiator: pair with this code. Responder: the code to accept (absent: refuse pairing). */
  readonly pairingCode?: string;
  readonly timeoutMs: number;
}

/** The handshake (src/sync/channel's `handshake` fits). On failure it closes the transport. */
export type PairingHandshake<T, I> = (
  transport: T,
  options: PairingHandshakeOptions<I>,
) => Promise<PairingChannel>;

export type PairingFailureReason =
  /** A: the proof of the code failed (B typed another code). B: the input is not a code at all. */
  | 'wrong'
  | 'expired'
  | 'used'
  /** Too many failed attempts: the code is burned. */
  | 'exhausted'
  /** A: no code is active. */
  | 'none'
  /** A: as many attempts as the code allows are already running. */
  | 'busy'
  /** B: A refused the code (wrong, expired, used or burned: A's side says which). */
  | 'code_rejected'
  /** A: the connecting device did not ask to pair. B: A did not pair. */
  | 'not_pairing'
  /** B: the device that answered is not the one chosen. */
  | 'device_mismatch'
  /** A user did not confirm the short authentication string. */
  | 'sas_rejected'
  /** The connection failed or closed before the pairing was complete. */
  | 'interrupted'
  /** The other side sent something that is not the pairing protocol. */
  | 'protocol'
  /** The trusted device could not be saved. */
  | 'storage';

/** Pairing failed; nothing was stored. `code` is 'unauthorized' unless the cause was not. */
export class PairingError extends TwinspaceError {
  constructor(
    readonly reason: PairingFailureReason,
    message: string,
    options?: { cause?: unknown; code?: ResultCode },
  ) {
    super(
      options?.code ?? 'unauthorized',
      message,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.name = 'PairingError';
  }
}

export interface SasCheck {
  readonly sas: string;
  readonly remoteDeviceId: string;
  /** Aborted when the pairing ends (either way): close the prompt. */
  readonly signal: AbortSignal;
}

export interface PairingFlowOptions<T, I> {
  readonly identity: I;
  readonly trust: Pick<TrustStore, 'add' | 'get' | 'forget' | 'revoke'>;
  readonly codes: PairingCodes;
  readonly handshake: PairingHandshake<T, I>;
  /** This device's name, sent to the other side. */
  readonly localName: string;
  readonly clock?: Clock;
  /** Handshake time limit (default 10 s). */
  readonly timeoutMs?: number;
  /** Time limit for the confirmation messages after the handshake (default 2 minutes). */
  readonly exchangeTimeoutMs?: number;
  /** Grant of a newly paired device on workspaces without their own (default read-write). */
  readonly defaultGrant?: WorkspaceGrant;
  /** Asks the user to compare the SAS with the other screen; false cancels. Default: no prompt. */
  readonly confirmSas?: (check: SasCheck) => boolean | Promise<boolean>;
}

export interface JoinOptions {
  /** The device the user chose (from discovery): pairing fails if another one answers. */
  readonly expectedDeviceId?: string;
  /** Name to store if the other side does not send one (e.g. from its mDNS record). */
  readonly fallbackName?: string;
}

export interface PairingResult {
  /** The entry now in the trust store. */
  readonly peer: TrustedPeer;
  /** Show it: both screens display the same digits. */
  readonly sas: string;
  /**
   * The authenticated channel, still open, with no listener left on it: the caller owns it (close
   * it, or hand it to a sync session).
   */
  readonly channel: PairingChannel;
}

const MESSAGE_TYPE = 'twinspace.pairing';
const MESSAGE_VERSION = 1;
const MAX_MESSAGE_BYTES = 4096;
const MAX_NAME_LENGTH = 256;

type PairingMessage =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export class PairingFlow<T, I> {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly exchangeTimeoutMs: number;

  constructor(private readonly options: PairingFlowOptions<T, I>) {
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.exchangeTimeoutMs = options.exchangeTimeoutMs ?? 120_000;
  }

  /**
   * The showing side: runs the responder handshake on the connection from `connect` with the
   * active code, and stores the joining device as trusted. With no usable code, the handshake runs
   * without one so the other side hears that pairing was refused, and this rejects with the reason
   * ('none', 'expired', 'used', 'exhausted', 'busy'). Every failed proof counts as an attempt.
   */
  async acceptPairing(connect: () => Promise<T>): Promise<PairingResult> {
    const begin = this.options.codes.beginAttempt(this.clock.now());
    let transport: T;
    try {
      transport = await connect();
    } catch (error) {
      if (begin.ok) begin.attempt.abandon();
      throw error;
    }
    if (!begin.ok) {
      await this.refuse(transport);
      throw new PairingError(begin.code, `pairing refused: ${begin.message}`);
    }
    const attempt = begin.attempt;
    const probe = { askedForTrust: false };
    let channel: PairingChannel;
    try {
      channel = await this.options.handshake(transport, {
        identity: this.options.identity,
        role: 'responder',
        pairingCode: attempt.code,
        // Only consulted when the peer did not ask to pair: no guess at the code was made.
        isTrusted: () => {
          probe.askedForTrust = true;
          return false;
        },
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      if (probe.askedForTrust) {
        attempt.abandon();
        throw new PairingError('not_pairing', 'the connecting device did not ask to pair', {
          cause: error,
        });
      }
      const state = attempt.fail(this.clock.now());
      if (!isUnauthorized(error)) {
        throw new PairingError(
          'interrupted',
          `pairing handshake failed (counted as a failed attempt): ${describeError(error)}`,
          { cause: error, code: resultCodeOf(error) },
        );
      }
      if (state.status === 'active') {
        throw new PairingError(
          'wrong',
          `wrong pairing code on the other device (${state.attemptsLeft} attempt${state.attemptsLeft === 1 ? '' : 's'} left)`,
          { cause: error },
        );
      }
      const reason = state.status === 'exhausted' ? 'exhausted' : 'wrong';
      throw new PairingError(reason, `wrong pairing code; ${describeFailure(state.status)}`, {
        cause: error,
      });
    }
    if (channel.paired === false) {
      attempt.abandon();
      channel.close('pairing: not a pairing handshake');
      throw new PairingError('not_pairing', 'the connecting device did not ask to pair');
    }
    // The code is proved: it can never be used again, whatever happens next.
    attempt.succeed();

    return this.withExchange(channel, async (exchange, signal) => {
      // Both users compare the SAS while B's confirmation is on its way.
      const sasCheck = this.confirmSas(channel, signal);
      sasCheck.catch(() => undefined);
      const hello = await exchange.receive();
      if (!hello.ok) {
        throw new PairingError(
          peerReason(hello.reason),
          `the other device cancelled the pairing: ${hello.message}`,
        );
      }
      if (!(await sasCheck)) {
        await exchange.sendFailure('sas_rejected', 'the authentication string was not confirmed');
        throw new PairingError('sas_rejected', 'the authentication string was not confirmed');
      }
      const before = this.options.trust.get(channel.remoteDeviceId);
      let peer: TrustedPeer;
      try {
        peer = await this.store(channel, hello.name, undefined);
      } catch (error) {
        await exchange.sendFailure('storage', 'the other device could not save the pairing');
        throw error;
      }
      try {
        await exchange.send({ ok: true, name: this.options.localName });
      } catch (error) {
        // B cannot have stored us: undo, so that neither side keeps the pairing.
        await this.rollback(channel.remoteDeviceId, before);
        throw error;
      }
      return peer;
    });
  }

  /**
   * The joining side: normalizes the typed code (a malformed one fails at once, without
   * connecting), runs the initiator handshake with it on the connection from `connect`, and stores
   * the other device only once it has confirmed that it stored this one.
   */
  async joinPairing(
    connect: () => Promise<T>,
    code: string,
    options: JoinOptions = {},
  ): Promise<PairingResult> {
    const canonical = normalizePairingCode(code);
    if (canonical === undefined) {
      throw new PairingError(
        'wrong',
        `that is not a pairing code: expected ${PAIRING_CODE_LENGTH} letters and digits like ABCD-EFGH-JKMN`,
      );
    }
    const expected = options.expectedDeviceId;
    const transport = await connect();
    let channel: PairingChannel;
    try {
      channel = await this.options.handshake(transport, {
        identity: this.options.identity,
        role: 'initiator',
        pairingCode: canonical,
        isTrusted: (deviceId) => expected === undefined || deviceId === expected,
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      if (isUnauthorized(error)) {
        throw new PairingError(
          'code_rejected',
          'the other device did not accept the pairing code (wrong, expired, already used, or ' +
            `too many attempts): check the code, or show a new one there (${describeError(error)})`,
          { cause: error },
        );
      }
      throw new PairingError('interrupted', `pairing failed: ${describeError(error)}`, {
        cause: error,
        code: resultCodeOf(error),
      });
    }
    if (channel.paired === false) {
      channel.close('pairing: not a pairing handshake');
      throw new PairingError('not_pairing', 'the other device did not run a pairing handshake');
    }
    if (expected !== undefined && channel.remoteDeviceId !== expected) {
      channel.close('pairing: unexpected device');
      throw new PairingError(
        'device_mismatch',
        `device ${channel.remoteDeviceId} answered instead of the chosen ${expected}`,
      );
    }

    return this.withExchange(channel, async (exchange, signal) => {
      if (!(await this.confirmSas(channel, signal))) {
        await exchange.sendFailure('sas_rejected', 'the authentication string was not confirmed');
        throw new PairingError('sas_rejected', 'the authentication string was not confirmed');
      }
      await exchange.send({ ok: true, name: this.options.localName });
      const answer = await exchange.receive();
      if (!answer.ok) {
        throw new PairingError(
          peerReason(answer.reason),
          `the other device did not complete the pairing: ${answer.message}`,
        );
      }
      return this.store(channel, answer.name, options.fallbackName);
    });
  }

  /** Runs a handshake without a code: a pairing request is refused with a reason the peer sees. */
  private async refuse(transport: T): Promise<void> {
    try {
      const channel = await this.options.handshake(transport, {
        identity: this.options.identity,
        role: 'responder',
        isTrusted: () => false,
        timeoutMs: this.timeoutMs,
      });
      channel.close('pairing refused');
    } catch {
      // Expected: the handshake refuses the pairing request and closes the transport.
    }
  }

  private async confirmSas(channel: PairingChannel, signal: AbortSignal): Promise<boolean> {
    const confirm = this.options.confirmSas;
    if (confirm === undefined) return true;
    const check = { sas: channel.sas, remoteDeviceId: channel.remoteDeviceId, signal };
    return await confirm(check);
  }

  private async store(
    channel: PairingChannel,
    sentName: string,
    fallbackName: string | undefined,
  ): Promise<TrustedPeer> {
    try {
      return await this.options.trust.add({
        deviceId: channel.remoteDeviceId,
        name: pickName(sentName, fallbackName, channel.remoteDeviceId),
        publicKey: channel.remotePublicKey,
        defaultGrant: this.options.defaultGrant ?? 'read-write',
      });
    } catch (error) {
      throw new PairingError(
        'storage',
        `could not save the paired device: ${describeError(error)}`,
        { cause: error, code: resultCodeOf(error) },
      );
    }
  }

  /** Puts the store back as it was before this pairing stored `deviceId`. Best effort. */
  private async rollback(deviceId: string, before: TrustedPeer | undefined): Promise<void> {
    try {
      if (before === undefined) await this.options.trust.forget(deviceId);
      else if (before.revokedAt !== undefined) await this.options.trust.revoke(deviceId);
    } catch {
      // The pairing error being thrown is what the user needs to see.
    }
  }

  /**
   * Runs `body` with a message exchange on the channel. On failure the channel is closed and the
   * error rethrown; on success the flow's listeners are removed and the channel handed over.
   */
  private async withExchange(
    channel: PairingChannel,
    body: (exchange: Exchange, signal: AbortSignal) => Promise<TrustedPeer>,
  ): Promise<PairingResult> {
    const exchange = new Exchange(channel, this.clock, this.exchangeTimeoutMs);
    const done = new AbortController();
    try {
      const peer = await body(exchange, done.signal);
      return { peer, sas: channel.sas, channel };
    } catch (error) {
      channel.close(`pairing failed: ${describeError(error)}`.slice(0, 200));
      throw error;
    } finally {
      exchange.dispose();
      done.abort();
    }
  }
}

/** The pairing messages after the handshake: one each way, JSON, with a deadline. */
class Exchange {
  private readonly inbox: PairingMessage[] = [];
  private waiter: { resolve: (m: PairingMessage) => void; reject: (e: Error) => void } | undefined;
  private failure: PairingError | undefined;
  private readonly disposers: (() => void)[] = [];

  constructor(
    private readonly channel: PairingChannel,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.disposers.push(
      channel.onMessage((bytes) => {
        this.deliver(bytes);
      }),
      channel.onClose((info) => {
        this.fail(
          new PairingError(
            'interrupted',
            `the connection closed before the pairing was confirmed: ${info.message}`,
            { code: 'closed' },
          ),
        );
      }),
    );
  }

  receive(): Promise<PairingMessage> {
    const next = this.inbox.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<PairingMessage>((resolve, reject) => {
      const handle = this.clock.setTimeout(() => {
        this.fail(
          new PairingError(
            'interrupted',
            `the other device did not confirm the pairing within ${Math.round(this.timeoutMs / 1000)} s`,
            { code: 'closed' },
          ),
        );
      }, this.timeoutMs);
      this.waiter = {
        resolve: (message) => {
          this.clock.clearTimeout(handle);
          resolve(message);
        },
        reject: (error) => {
          this.clock.clearTimeout(handle);
          reject(error);
        },
      };
    });
  }

  async send(message: PairingMessage): Promise<void> {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ type: MESSAGE_TYPE, version: MESSAGE_VERSION, ...message }),
    );
    try {
      await this.channel.send(bytes);
    } catch (error) {
      throw new PairingError(
        'interrupted',
        `could not send to the other device: ${describeError(error)}`,
        {
          cause: error,
          code: 'closed',
        },
      );
    }
  }

  /** Tells the other side why the pairing stops; best effort. */
  async sendFailure(reason: PairingFailureReason, message: string): Promise<void> {
    await this.send({ ok: false, reason, message }).catch(() => undefined);
  }

  dispose(): void {
    for (const dispose of this.disposers.splice(0)) dispose();
  }

  private deliver(bytes: Uint8Array): void {
    const message = parseMessage(bytes);
    if (message === undefined) {
      this.fail(new PairingError('protocol', 'the other device sent an invalid pairing message'));
      return;
    }
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.resolve(message);
    else this.inbox.push(message);
  }

  private fail(error: PairingError): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }
}

function parseMessage(bytes: Uint8Array): PairingMessage | undefined {
  if (bytes.length > MAX_MESSAGE_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.type !== MESSAGE_TYPE || m.version !== MESSAGE_VERSION) return undefined;
  if (m.ok === true && typeof m.name === 'string') return { ok: true, name: m.name };
  if (m.ok === false && typeof m.reason === 'string' && typeof m.message === 'string') {
    return { ok: false, reason: m.reason, message: m.message.slice(0, 500) };
  }
  return undefined;
}

const PEER_REASONS = new Set<string>(['sas_rejected', 'storage']);

function peerReason(reason: string): PairingFailureReason {
  return PEER_REASONS.has(reason) ? (reason as PairingFailureReason) : 'protocol';
}

/** The name to store: the one the peer sent, else the fallback, else its short id. */
function pickName(sent: string, fallback: string | undefined, deviceId: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = (s: string): string => s.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const name = clean(sent) || clean(fallback ?? '');
  if (name !== '') return name.slice(0, MAX_NAME_LENGTH);
  return `Device ${deviceId.slice(0, 4)}-${deviceId.slice(4, 8)}-${deviceId.slice(8, 12)}`;
}

function isUnauthorized(error: unknown): boolean {
  return error instanceof TwinspaceError && error.code === 'unauthorized';
}

function resultCodeOf(error: unknown): ResultCode {
  return error instanceof TwinspaceError ? error.code : 'internal';
}
