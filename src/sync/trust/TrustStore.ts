/**
 * The devices this device trusts, with their public keys and per-workspace grants, persisted as one
 * JSON file (see trustFile.ts) that is replaced atomically on every change.
 *
 * Consistency rules:
 * - Memory is the source of truth for `isTrusted`; every mutation applies to memory at once and
 *   then awaits a save. Saves are serialized (never two writes of the file at the same time) and
 *   coalesced (mutations made while a save waits for its turn share the next write).
 * - Trust-granting changes (`add`, `setGrant`, `setDefaultGrant`, `applyRotation`) are undone in
 *   memory if their save fails, so nothing is trusted that a restart would forget. Trust-removing
 *   changes (`revoke`, `forget`) stay in effect even if their save fails (fail safe); the error is
 *   still thrown and the file is rewritten on the next successful save.
 * - `touch` (last seen) is saved lazily after `touchFlushMs`; `close()` flushes it.
 * - `onRevoked` fires synchronously inside `revoke`/`forget`/`applyRotation`, before the save, so
 *   live sessions of that device can be closed at once.
 */
import { timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { TwinspaceError } from '../../core/errors';
import { systemClock, type Clock, type TimerHandle } from '../../runtime/Clock';
import { deviceIdFromPublicKey } from '../identity/DeviceIdentity';
import { atomicWriteFile, removeStaleTempFiles } from '../../runtime/atomicWriteFile';
import {
  decodePublicKey,
  encodePublicKey,
  isTimestamp,
  isValidPeerName,
  isValidWorkspaceId,
  isWorkspaceGrant,
  makePeer,
  MAX_PEER_NAME_LENGTH,
  parseTrustFile,
  serializeTrustFile,
  type TrustedPeer,
  type WorkspaceGrant,
} from './trustFile';

export {
  TrustFileError,
  TRUST_FILE_SCHEMA,
  TRUST_FILE_VERSION,
  type TrustedPeer,
  type WorkspaceGrant,
} from './trustFile';

export interface TrustStoreOptions {
  readonly clock?: Clock;
  /** Delay before a `touch` is written (default 10 s). Other changes are written at once. */
  readonly touchFlushMs?: number;
  /** Device id of a raw public key (default: the identity module's derivation). */
  readonly deviceIdOf?: (publicKey: Uint8Array) => string;
  /** Writes the file (default: atomic temp + fsync + rename + fsync dir). Tests inject failures. */
  readonly writeFile?: (file: string, text: string) => Promise<void>;
  /** Errors nobody awaits: a failed background save, a throwing listener. */
  readonly onError?: (error: unknown, context: string) => void;
}

export interface NewTrustedPeer {
  readonly deviceId: string;
  readonly name: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Default 'read-write'. */
  readonly defaultGrant?: WorkspaceGrant;
  readonly grants?: Readonly<Record<string, WorkspaceGrant>>;
}

/** Why a device stopped being trusted. */
export type TrustLossReason = 'revoked' | 'forgotten' | 'rotated';

export type TrustChangeListener = (peers: readonly TrustedPeer[]) => void;
export type RevokedListener = (deviceId: string, reason: TrustLossReason) => void;

/** Temp files older than this at open are leftovers of a crash and are removed. */
const STALE_TEMP_MS = 10 * 60_000;

export class TrustStore {
  private readonly peers = new Map<string, TrustedPeer>();
  private readonly changeListeners = new Set<TrustChangeListener>();
  private readonly revokedListeners = new Set<RevokedListener>();
  private readonly clock: Clock;
  private readonly touchFlushMs: number;
  private readonly deviceIdOf: (publicKey: Uint8Array) => string;
  private readonly write: (file: string, text: string) => Promise<void>;
  private readonly onError: (error: unknown, context: string) => void;
  /** Memory differs from what the last successful save wrote. */
  private dirty = false;
  /** The next save, not started yet: later mutations join it. */
  private queuedSave: Promise<void> | undefined;
  /** Settles after every save started so far (never rejects). */
  private saveTail: Promise<void> = Promise.resolve();
  private touchTimer: { handle: TimerHandle } | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly file: string,
    peers: readonly TrustedPeer[],
    options: TrustStoreOptions,
  ) {
    for (const peer of peers) this.peers.set(peer.deviceId, peer);
    this.clock = options.clock ?? systemClock;
    this.touchFlushMs = options.touchFlushMs ?? 10_000;
    this.deviceIdOf = options.deviceIdOf ?? deviceIdFromPublicKey;
    this.write = options.writeFile ?? defaultWrite;
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Opens the store in `file`. A missing file is an empty store (created on the first change); an
   * unreadable, corrupt or hand-broken file throws a TrustFileError (code 'validation') naming the
   * file and the field, and nothing is overwritten.
   */
  static async open(file: string, options: TrustStoreOptions = {}): Promise<TrustStore> {
    const absolute = path.resolve(file);
    let text: string | undefined;
    try {
      text = await fs.readFile(absolute, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new TwinspaceError('internal', `cannot read trust store ${absolute}`, {
          cause: error,
        });
      }
    }
    const deviceIdOf = options.deviceIdOf ?? deviceIdFromPublicKey;
    const peers = text === undefined ? [] : parseTrustFile(text, absolute, deviceIdOf);
    await removeStaleTempFiles(absolute, STALE_TEMP_MS);
    return new TrustStore(absolute, peers, options);
  }

  /** Every peer, revoked ones included, oldest first. */
  list(): TrustedPeer[] {
    return [...this.peers.values()].sort(
      (a, b) => a.addedAt - b.addedAt || a.deviceId.localeCompare(b.deviceId),
    );
  }

  get(deviceId: string): TrustedPeer | undefined {
    return this.peers.get(deviceId);
  }

  /**
   * True only when `deviceId` is stored, not revoked, and `publicKey` is exactly the stored key. A
   * device presenting another key for a known id is not trusted.
   */
  isTrusted(deviceId: string, publicKey: Uint8Array): boolean {
    const peer = this.peers.get(deviceId);
    if (peer === undefined || peer.revokedAt !== undefined) return false;
    const stored = decodePublicKey(peer.publicKey);
    if (stored === undefined || publicKey.length !== stored.length) return false;
    return timingSafeEqual(stored, publicKey);
  }

  /**
   * Trusts a device (after a successful pairing). Adding a device already stored replaces its entry
   * and clears a revocation; its grants are kept only if it was trusted with the same key.
   */
  async add(input: NewTrustedPeer): Promise<TrustedPeer> {
    this.assertOpen();
    if (input.publicKey.length !== 32) {
      throw new TwinspaceError('validation', 'a public key is 32 bytes');
    }
    const derived = this.deviceIdOf(input.publicKey);
    if (derived !== input.deviceId) {
      throw new TwinspaceError(
        'validation',
        `device id ${input.deviceId} does not match its public key (expected ${derived})`,
      );
    }
    if (!isValidPeerName(input.name)) {
      throw new TwinspaceError(
        'validation',
        `a device name has at most ${MAX_PEER_NAME_LENGTH} characters`,
      );
    }
    const defaultGrant = input.defaultGrant ?? 'read-write';
    if (!isWorkspaceGrant(defaultGrant)) {
      throw new TwinspaceError('validation', `unknown grant ${String(defaultGrant)}`);
    }
    for (const [workspaceId, grant] of Object.entries(input.grants ?? {})) {
      checkGrantArgs(workspaceId, grant);
    }
    const previous = this.peers.get(input.deviceId);
    const publicKey = encodePublicKey(input.publicKey);
    const keep =
      previous !== undefined &&
      previous.revokedAt === undefined &&
      previous.publicKey === publicKey;
    const peer = makePeer({
      deviceId: input.deviceId,
      name: input.name,
      publicKey,
      addedAt: keep ? previous.addedAt : this.clock.now(),
      ...(keep && previous.lastSeenAt !== undefined ? { lastSeenAt: previous.lastSeenAt } : {}),
      grants: { ...(keep ? previous.grants : {}), ...input.grants },
      defaultGrant,
    });
    await this.commitGranting(input.deviceId, previous, peer);
    return peer;
  }

  /** Records that the device was seen at `at`. Saved lazily; a no-op for an unknown device. */
  touch(deviceId: string, at: number): void {
    if (this.closing !== undefined) return;
    const peer = this.peers.get(deviceId);
    if (peer === undefined || !isTimestamp(at)) return;
    if (peer.lastSeenAt !== undefined && peer.lastSeenAt >= at) return;
    this.peers.set(deviceId, makePeer({ ...peer, lastSeenAt: at }));
    this.dirty = true;
    this.emitChange();
    if (this.touchTimer === undefined) {
      const timer = {
        handle: this.clock.setTimeout(() => {
          if (this.touchTimer !== timer) return;
          this.touchTimer = undefined;
          this.save().catch((error: unknown) => {
            this.onError(error, 'trust store: saving last-seen times');
          });
        }, this.touchFlushMs),
      };
      this.touchTimer = timer;
    }
  }

  async setGrant(deviceId: string, workspaceId: string, grant: WorkspaceGrant): Promise<void> {
    this.assertOpen();
    checkGrantArgs(workspaceId, grant);
    const previous = this.require(deviceId);
    if (Object.hasOwn(previous.grants, workspaceId) && previous.grants[workspaceId] === grant) {
      return;
    }
    const next = makePeer({ ...previous, grants: { ...previous.grants, [workspaceId]: grant } });
    await this.commitGranting(deviceId, previous, next);
  }

  /** Removes the workspace's own grant: the device gets its default grant there again. */
  async clearGrant(deviceId: string, workspaceId: string): Promise<void> {
    this.assertOpen();
    const previous = this.require(deviceId);
    if (!Object.hasOwn(previous.grants, workspaceId)) return;
    const grants = Object.fromEntries(
      Object.entries(previous.grants).filter(([id]) => id !== workspaceId),
    );
    await this.commitGranting(deviceId, previous, makePeer({ ...previous, grants }));
  }

  async setDefaultGrant(deviceId: string, grant: WorkspaceGrant): Promise<void> {
    this.assertOpen();
    if (!isWorkspaceGrant(grant)) throw new TwinspaceError('validation', 'unknown grant');
    const previous = this.require(deviceId);
    if (previous.defaultGrant === grant) return;
    await this.commitGranting(deviceId, previous, makePeer({ ...previous, defaultGrant: grant }));
  }

  /** The device's access to a workspace; undefined when it is not trusted (unknown or revoked). */
  grantFor(deviceId: string, workspaceId: string): WorkspaceGrant | undefined {
    const peer = this.peers.get(deviceId);
    if (peer === undefined || peer.revokedAt !== undefined) return undefined;
    return Object.hasOwn(peer.grants, workspaceId) ? peer.grants[workspaceId] : peer.defaultGrant;
  }

  /**
   * Stops trusting the device but keeps its entry (shown as revoked). `onRevoked` fires at once;
   * the revocation holds in memory even if saving it fails (the error is thrown).
   */
  async revoke(deviceId: string): Promise<void> {
    this.assertOpen();
    const peer = this.require(deviceId);
    if (peer.revokedAt !== undefined) return;
    this.peers.set(deviceId, makePeer({ ...peer, revokedAt: this.clock.now() }));
    this.emitChange();
    this.emitRevoked(deviceId, 'revoked');
    await this.save();
  }

  /** Removes the device entirely. `onRevoked` fires if it was trusted. Unknown: a no-op. */
  async forget(deviceId: string): Promise<void> {
    this.assertOpen();
    const peer = this.peers.get(deviceId);
    if (peer === undefined) return;
    this.peers.delete(deviceId);
    this.emitChange();
    if (peer.revokedAt === undefined) this.emitRevoked(deviceId, 'forgotten');
    await this.save();
  }

  /**
   * Moves trust from the device's current key to `newPublicKey` (the caller has verified a rotation
   * certificate signed by the current key). The device id follows the key, so the entry moves to
   * the new id, keeping its name, grants and pairing time; sessions on the old key get `onRevoked`
   * (reason 'rotated'). Returns the new entry. A revoked or unknown device cannot rotate.
   */
  async applyRotation(deviceId: string, newPublicKey: Uint8Array): Promise<TrustedPeer> {
    this.assertOpen();
    const previous = this.require(deviceId);
    if (previous.revokedAt !== undefined) {
      throw new TwinspaceError('unauthorized', `device ${deviceId} is revoked and cannot rotate`);
    }
    if (newPublicKey.length !== 32)
      throw new TwinspaceError('validation', 'a public key is 32 bytes');
    const newId = this.deviceIdOf(newPublicKey);
    const publicKey = encodePublicKey(newPublicKey);
    if (newId === deviceId) {
      if (previous.publicKey === publicKey) return previous;
      throw new TwinspaceError('validation', 'the new key maps to the same device id');
    }
    const occupant = this.peers.get(newId);
    if (occupant !== undefined) {
      throw new TwinspaceError(
        'validation',
        `the rotated key belongs to device ${newId}, which is already stored`,
      );
    }
    const next = makePeer({ ...previous, deviceId: newId, publicKey });
    this.peers.delete(deviceId);
    this.peers.set(newId, next);
    this.emitChange();
    this.emitRevoked(deviceId, 'rotated');
    try {
      await this.save();
    } catch (error) {
      // Back to what the file still says: the old key. The peer can present its certificate again.
      if (this.peers.get(newId) === next) {
        this.peers.delete(newId);
        if (!this.peers.has(deviceId)) this.peers.set(deviceId, previous);
        this.emitChange();
      }
      throw error;
    }
    return next;
  }

  /** Called with the full list after every change. Returns the unsubscribe function. */
  onChange(listener: TrustChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called when a device stops being trusted, so its live sessions can be closed at once. */
  onRevoked(listener: RevokedListener): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  /** Writes what is pending (last-seen times included) and refuses further changes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.touchTimer !== undefined) {
        this.clock.clearTimeout(this.touchTimer.handle);
        this.touchTimer = undefined;
      }
      await this.saveTail;
      if (this.dirty) await this.save();
    })();
    return this.closing;
  }

  /** Resolves once every change made so far is on disk (rejects if that save fails). */
  flush(): Promise<void> {
    if (this.touchTimer !== undefined) {
      this.clock.clearTimeout(this.touchTimer.handle);
      this.touchTimer = undefined;
    }
    return this.dirty || this.queuedSave !== undefined ? this.save() : this.saveTail;
  }

  private require(deviceId: string): TrustedPeer {
    const peer = this.peers.get(deviceId);
    if (peer === undefined) {
      throw new TwinspaceError('not_found', `device ${deviceId} is not a paired device`);
    }
    return peer;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new TwinspaceError('closed', 'trust store is closed');
  }

  /** Applies a trust-granting change, saves it, and undoes it in memory if the save fails. */
  private async commitGranting(
    deviceId: string,
    previous: TrustedPeer | undefined,
    next: TrustedPeer,
  ): Promise<void> {
    this.peers.set(deviceId, next);
    this.emitChange();
    try {
      await this.save();
    } catch (error) {
      if (this.peers.get(deviceId) === next) {
        if (previous === undefined) this.peers.delete(deviceId);
        else this.peers.set(deviceId, previous);
        this.emitChange();
      }
      throw error;
    }
  }

  /**
   * Resolves after a write that started after this call (so it holds every change made so far).
   * Writes never overlap: each waits for the one before it.
   */
  private save(): Promise<void> {
    this.dirty = true;
    if (this.queuedSave !== undefined) return this.queuedSave;
    const run = async (): Promise<void> => {
      this.queuedSave = undefined;
      if (!this.dirty) return;
      this.dirty = false;
      const text = serializeTrustFile(this.list());
      try {
        await this.write(this.file, text);
      } catch (error) {
        this.dirty = true;
        throw new TwinspaceError('internal', `cannot save trust store ${this.file}`, {
          cause: error,
        });
      }
    };
    const next = this.saveTail.then(run);
    this.queuedSave = next;
    this.saveTail = next.catch(() => undefined);
    return next;
  }

  private emitChange(): void {
    const snapshot = this.list();
    for (const listener of [...this.changeListeners]) {
      try {
        listener(snapshot);
      } catch (error) {
        this.onError(error, 'trust store: change listener');
      }
    }
  }

  private emitRevoked(deviceId: string, reason: TrustLossReason): void {
    for (const listener of [...this.revokedListeners]) {
      try {
        listener(deviceId, reason);
      } catch (error) {
        this.onError(error, 'trust store: revoked listener');
      }
    }
  }
}

function checkGrantArgs(workspaceId: string, grant: WorkspaceGrant): void {
  if (!isValidWorkspaceId(workspaceId)) {
    throw new TwinspaceError('validation', 'invalid workspace id');
  }
  if (!isWorkspaceGrant(grant))
    throw new TwinspaceError('validation', `unknown grant ${String(grant)}`);
}

async function defaultWrite(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await atomicWriteFile(file, text, { mode: 0o600 });
}
