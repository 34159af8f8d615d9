/**
 * The SyncWorker (BRIEF §1.2): a supervised worker that runs Device Sync for one workspace.
 *
 *  - Accept loop: `accept(transport)` for every incoming connection (the host owns the listener).
 *    An incoming HELLO_I that asks for pairing goes to the PairingFlow while a code is active;
 *    everything else runs the normal handshake, where the TrustStore decides (an unknown or
 *    revoked device is rejected before any application data: 'sync.worker.peer_rejected').
 *  - Dialer: one loop per target, manual `host:port` addresses and trusted peers found by
 *    discovery, with jittered exponential backoff between attempts ('sync.worker.backoff').
 *  - One PeerSession per peer; when both sides dial at once, the connection initiated by the
 *    lower device id is kept on both sides.
 *  - Every incoming unit is validated (size and schema by the decoder, author signature against
 *    the author's key in the TrustStore, the author's grant, decodes as a Yjs update: a full walk
 *    of its structs and delete set by validateYjsUpdate, which fails wherever Y.decodeUpdate
 *    would but builds no objects) before it is
 *    enqueued to the Engine with `ctx.send` (never dropped). Valid live units are forwarded
 *    unchanged to the other peers (relay), deduplicated by a bounded seen-set of
 *    (author, epoch, seq). SyncStep2 diffs are authenticated by the direct channel and forwarded
 *    once (deduplicated by hash) so devices that are not directly linked still converge.
 *  - Local BroadcastUpdate effects (no exceptPeer) are signed by this device and sent to every
 *    peer; remote ones are not re-sent (the relay already did).
 *  - Workspace linking: a session whose SyncStep1 names another workspace id stays up but is "not
 *    linked" (no SyncStep2, no units either way); `linkTo` changes our id and reconnects. Peers of
 *    protocol version ≥ 2 exchange WorkspaceOffers after SyncStep1 (`peerOffers()`).
 *  - Key rotation: `rotateIdentity` signs a new key with the old one, sends KeyRotated to every
 *    peer and reconnects with the new key; a received certificate whose old key is the trusted key
 *    of its device moves that trust to the new key (TrustStore.applyRotation) and is relayed to
 *    the other peers and to peers that connect later (offline peers learn it through a third).
 *  - Files (protocol version ≥ 3): file messages between linked peers go through a
 *    FileMessageRouter to one FileMessageHandler (`setFileHandler`, `sendFile`, `filePeers`,
 *    `whenWritable`); a read-only peer's FileUpdate is dropped; nothing is relayed.
 *  - PeerStateChanged on every session state change, PeerWentOffline with the reason on every
 *    disconnect; revocation closes live sessions at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as Y from 'yjs';
import type { Effect } from '../core/effects';
import { describeError } from '../core/errors';
import type { Intent, PeerSessionState } from '../core/intents';
import { Backoff, type BackoffPolicy } from '../runtime/Backoff';
import { sleep, type Clock } from '../runtime/Clock';
import type { WorkerContext, WorkerSpec } from '../runtime/Worker';
import { handshake, type HandshakeOptions } from './channel/handshake';
import { ProtocolError } from './channel/ProtocolError';
import type { SecureChannel } from './channel/SecureChannel';
import type { VersionRange } from './channel/wire';
import type { DiscoveredPeer } from './discovery/DiscoveryWorker';
import type { PeerWorkspaceOffer, WorkspaceOffer } from '../core/workspaceLinks';
import { DeviceIdentity, deviceIdFromPublicKey } from './identity/DeviceIdentity';
import { verifyRotation, type RotationCertificate } from './identity/RotationCertificate';
import { PairingCodes, type IssuedPairingCode } from './pairing/PairingCodes';
import { PairingError, PairingFlow, type PairingChannel } from './pairing/PairingFlow';
import { FileMessageRouter, type FileMessageHandler } from './session/FileMessageRouter';
import { PeekableTransport } from './session/PeekableTransport';
import { PeerSession, type LinkState, type PeerSessionOwner } from './session/PeerSession';
import { SeenSet } from './session/SeenSet';
import { validateYjsUpdate } from './session/validateYjsUpdate';
import {
  DEFAULT_MAX_UNIT_UPDATE_BYTES,
  MAX_OFFERS,
  encodeKeyRotated,
  encodeSyncStep2,
  encodeWorkspaceOffers,
  encodeUnit,
  isFileMessage,
  unitSignatureInput,
  verifySignedUnit,
  type FileMessage,
  type SignedUnit,
  type SyncMessage,
  type SyncMessageError,
} from './session/syncMessages';
import { decodePublicKey } from './trust/trustFile';
import type { TrustStore, WorkspaceGrant } from './trust/TrustStore';
import type { Transport } from './transport/Transport';
import { PausedPeers, pausedReason } from './PausedPeers';

export type { FileMessageHandler } from './session/FileMessageRouter';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** What the worker reads from the Engine (read-only). */
export interface SyncDocument {
  encodeStateVector(): Uint8Array;
  encodeDiff(remoteStateVector?: Uint8Array): Uint8Array;
}

export type SyncTrust = Pick<
  TrustStore,
  | 'isTrusted'
  | 'grantFor'
  | 'onRevoked'
  | 'onChange'
  | 'touch'
  | 'get'
  | 'add'
  | 'forget'
  | 'revoke'
  | 'applyRotation'
>;

export interface SyncWorkerOptions {
  readonly identity: DeviceIdentity;
  readonly trust: SyncTrust;
  readonly doc: SyncDocument;
  /** Dials a peer (default: none; the CLI passes TcpTransport.connect). */
  readonly connect: (address: PeerAddress, signal: AbortSignal) => Promise<Transport>;
  readonly deviceName?: string;
  readonly workspaceId?: string;
  /** Grant used when the TrustStore has none for a trusted device (default read-write). */
  readonly defaultGrant?: WorkspaceGrant;
  /** Manual `host:port` peers, dialed for as long as the worker runs. */
  readonly peers?: readonly PeerAddress[];
  readonly name?: string;
  /** Default: the worker context's clock. */
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly handshakeTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly maxQueueBytes?: number;
  readonly maxQueueMessages?: number;
  readonly maxUnitUpdateBytes?: number;
  readonly seenCapacity?: number;
  /** Name of the transport in PeerStateChanged (default 'tcp'). */
  readonly transportName?: string;
  readonly pairingCodes?: PairingCodes;
  /** The workspaces this device offers to peers (WorkspaceOffers); see `setLocalOffers`. */
  readonly offers?: readonly WorkspaceOffer[];
  /** Protocol versions offered in the sync handshake (default: all this build speaks; tests). */
  readonly protocolVersions?: VersionRange;
}

/** A peer as the status shows it. */
export interface SyncPeerView {
  /** Device id, or `addr:host:port` for a manual peer not reached yet. */
  readonly peerId: string;
  readonly state: PeerSessionState;
  readonly transport: string;
  readonly role?: 'initiator' | 'responder';
  readonly address?: string;
  readonly pendingOut: number;
  readonly pendingOutBytes: number;
  readonly pendingIn: number;
  readonly unitsReceived: number;
  readonly unitsRejected: number;
  readonly inSync: boolean;
  /** 'not linked': the peer syncs another workspace id; no content is exchanged. */
  readonly link?: LinkState;
  /** The workspace id of the peer's SyncStep1. */
  readonly workspaceId?: string;
  readonly lastError?: string;
  /** Device Sync with this device is paused (pausePeer): not dialed, connections refused. */
  readonly paused?: true;
}

export interface RejectedPeer {
  readonly at: number;
  readonly deviceId?: string;
  readonly address?: string;
  readonly reason: string;
}

export type PairingOutcome =
  | { readonly ok: true; readonly deviceId: string; readonly name: string; readonly sas: string }
  | { readonly ok: false; readonly reason: string; readonly message: string };

interface DialTarget {
  readonly key: string;
  readonly address: PeerAddress;
  deviceId: string | undefined;
  readonly discovered: boolean;
  attempt: number;
  lastError: string | undefined;
  running: boolean;
}

const DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  keepaliveIntervalMs: 15_000,
  keepaliveTimeoutMs: 45_000,
  maxQueueBytes: 96 * 1024 * 1024,
  maxQueueMessages: 4096,
  seenCapacity: 16_384,
  backoff: { initialMs: 250, maxMs: 10_000, factor: 2 },
} as const;
/** Pause reading from a peer while this many of its intents wait for queue space. */
const INFLIGHT_PAUSE = 64;
const MAX_REJECTED_KEPT = 32;
/** Rotation certificates kept to hand to peers that connect later (own and relayed). */
const MAX_CERTIFICATES_KEPT = 16;
/** HELLO_I: u32 frame length, 9-byte header, then the flags byte (bit 0 = pairing). */
const HELLO_FLAGS_OFFSET = 4 + 9;

export function formatAddress(address: PeerAddress): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** Parses `host:port` (or `[v6]:port`); throws RangeError when it is not one. */
export function parseAddress(text: string): PeerAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`not a host:port address: ${JSON.stringify(text)}`);
  }
  return { host, port };
}

export class SyncWorker implements WorkerSpec, PeerSessionOwner {
  readonly name: string;
  readonly restart = 'on-failure' as const;
  readonly pairingCodes: PairingCodes;
  private linkedWorkspaceId: string;
  private identity: DeviceIdentity;
  private localOffers: readonly WorkspaceOffer[];
  private readonly receivedOffers = new Map<PeerSession, readonly WorkspaceOffer[]>();
  private readonly certificates: RotationCertificate[] = [];
  private readonly offersListeners = new Set<() => void>();
  private readonly trust: SyncTrust;
  private readonly doc: SyncDocument;
  private readonly sessions = new Map<string, PeerSession>();
  private readonly targets = new Map<string, DialTarget>();
  private readonly seenUnits: SeenSet;
  private readonly seenDiffs: SeenSet;
  private readonly backoff: Backoff;
  private readonly rejected: RejectedPeer[] = [];
  private readonly pairingListeners = new Set<(outcome: PairingOutcome) => void>();
  private readonly epoch: number;
  private seq = 0;
  private ctx: WorkerContext | undefined;
  private signal: AbortSignal | undefined;
  private stopped: Promise<void> = Promise.resolve();
  private intentChain: Promise<void> = Promise.resolve();
  private svTimer: unknown;
  private readonly disposers: (() => void)[] = [];
  private readonly handshaking = new Set<Transport>();
  private readonly paused = new PausedPeers();
  private readonly files = new FileMessageRouter({
    grantOf: (deviceId) => this.grantOf(deviceId),
    isCurrent: (session) => this.sessions.get(session.remoteDeviceId) === session,
    diagnostics: () => this.ctx?.diagnostics,
  });
  unitsSent = 0;

  constructor(private readonly options: SyncWorkerOptions) {
    this.name = options.name ?? 'sync';
    this.identity = options.identity;
    this.trust = options.trust;
    this.doc = options.doc;
    this.linkedWorkspaceId = options.workspaceId ?? 'default';
    this.localOffers = options.offers ?? [];
    this.pairingCodes = options.pairingCodes ?? new PairingCodes();
    this.seenUnits = new SeenSet(options.seenCapacity ?? DEFAULTS.seenCapacity);
    this.seenDiffs = new SeenSet(1024);
    this.backoff = new Backoff(options.backoff ?? DEFAULTS.backoff, options.random);
    this.epoch = randomBytes(4).readUInt32BE(0);
    for (const address of options.peers ?? []) this.addPeerAddress(address);
  }

  get deviceId(): string {
    return this.identity.deviceId;
  }

  /** The workspace id this device syncs now (sent in SyncStep1; signed into every unit). */
  get workspaceId(): string {
    return this.linkedWorkspaceId;
  }

  /** The current identity (changes on `rotateIdentity`). */
  get currentIdentity(): DeviceIdentity {
    return this.identity;
  }

  private get clock(): Clock {
    const clock = this.options.clock ?? this.ctx?.clock;
    if (clock === undefined) throw new Error('SyncWorker: not running');
    return clock;
  }

  // ---------------------------------------------------------------- supervision

  async run(signal: AbortSignal, ctx: WorkerContext): Promise<void> {
    this.ctx = ctx;
    this.signal = signal;
    this.disposers.push(
      this.trust.onRevoked((deviceId, reason) => {
        this.paused.delete(deviceId);
        this.sessions.get(deviceId)?.close(`trust ${reason}`);
      }),
      this.trust.onChange(() => {
        for (const target of this.targets.values()) this.startDialing(target);
      }),
    );
    ctx.diagnostics.emit('sync.worker.started', `device sync started for "${this.workspaceId}"`, {
      deviceId: this.deviceId,
      manualPeers: [...this.targets.values()].filter((t) => !t.discovered).length,
    });
    for (const target of this.targets.values()) this.startDialing(target);
    this.stopped = abortPromise(signal);
    await this.stopped;
    for (const dispose of this.disposers.splice(0)) dispose();
    for (const transport of this.handshaking) transport.close('device sync stopped');
    for (const session of [...this.sessions.values()]) session.close('device sync stopped');
    if (this.svTimer !== undefined) this.clock.clearTimeout(this.svTimer);
    this.svTimer = undefined;
    for (const target of this.targets.values()) target.running = false;
    await this.intentChain;
    this.ctx = undefined;
    this.signal = undefined;
  }

  private get running(): boolean {
    return this.ctx !== undefined && this.signal?.aborted === false;
  }

  // ---------------------------------------------------------------- status

  peers(): SyncPeerView[] {
    const out = new Map<string, SyncPeerView>();
    const transport = this.options.transportName ?? 'tcp';
    const local = this.running ? this.stateVectorMap(this.doc.encodeStateVector()) : undefined;
    for (const target of this.targets.values()) {
      const id = target.deviceId ?? `addr:${target.key}`;
      out.set(id, {
        peerId: id,
        state: 'Disconnected',
        transport,
        address: target.key,
        pendingOut: 0,
        pendingOutBytes: 0,
        pendingIn: 0,
        unitsReceived: 0,
        unitsRejected: 0,
        inSync: false,
        ...(target.lastError !== undefined ? { lastError: target.lastError } : {}),
      });
    }
    for (const session of this.sessions.values()) {
      const prev = out.get(session.remoteDeviceId);
      const remote = session.remoteSv;
      out.set(session.remoteDeviceId, {
        peerId: session.remoteDeviceId,
        state: session.state,
        transport,
        role: session.role,
        ...(prev?.address !== undefined ? { address: prev.address } : {}),
        pendingOut: session.pendingOut,
        pendingOutBytes: session.pendingOutBytes,
        pendingIn: session.inflight,
        unitsReceived: session.unitsReceived,
        unitsRejected: session.unitsRejected,
        inSync:
          session.linkState === 'linked' &&
          session.state === 'Idle' &&
          session.pendingOut === 0 &&
          session.inflight === 0 &&
          remote !== undefined &&
          local !== undefined &&
          sameStateVector(local, this.stateVectorMap(remote)),
        link: session.linkState,
        ...(session.remoteWorkspaceId !== undefined
          ? { workspaceId: session.remoteWorkspaceId }
          : {}),
        ...(session.lastError !== undefined ? { lastError: session.lastError } : {}),
      });
    }
    for (const id of this.paused.list()) {
      const view = out.get(id);
      out.set(id, {
        ...(view ?? {
          peerId: id,
          state: 'Disconnected',
          transport,
          pendingOut: 0,
          pendingOutBytes: 0,
          pendingIn: 0,
          unitsReceived: 0,
          unitsRejected: 0,
          inSync: false,
        }),
        paused: true,
      });
    }
    return [...out.values()].sort((a, b) => a.peerId.localeCompare(b.peerId));
  }

  /** Devices (or addresses) refused recently, newest last. */
  rejections(): readonly RejectedPeer[] {
    return [...this.rejected];
  }

  /** True when at least `minPeers` sessions exist and every one is Idle and in sync. */
  isSynced(minPeers = 0): boolean {
    const connected = this.peers().filter(
      (p) => p.state !== 'Disconnected' && p.link !== 'not linked',
    );
    return connected.length >= minPeers && connected.every((p) => p.inSync);
  }

  /** Sums for the status bar / status file. */
  pendingCounts(): { readonly out: number; readonly in: number } {
    let out = 0;
    let inn = 0;
    for (const s of this.sessions.values()) {
      out += s.pendingOut;
      inn += s.inflight;
    }
    return { out, in: inn };
  }

  // ---------------------------------------------------------------- files

  /** Sets (or clears) the file message handler; peers already up are reported to it at once. */
  setFileHandler(handler: FileMessageHandler | undefined): void {
    this.files.setHandler(handler);
  }

  /** Peers currently up for files (linked, protocol version ≥ 3, past the initial sync). */
  filePeers(): string[] {
    return this.files.peers();
  }

  /**
   * Queues a file message for `peerId`: false when that peer is not up for files (or its queue
   * overflowed: the session then closes as a slow consumer; bulk senders await `whenWritable`).
   * Throws RangeError when the message is invalid (encodeFileMessage).
   */
  sendFile(peerId: string, message: FileMessage): boolean {
    return this.files.send(peerId, message);
  }

  /** Resolves when the peer's outgoing queue has room (below half its byte cap) or the session is gone. */
  whenWritable(peerId: string): Promise<void> {
    return this.files.whenWritable(peerId);
  }

  // ---------------------------------------------------------------- linking and offers

  /**
   * Links this device's folder to `workspaceId`: the next SyncStep1 carries it. Live sessions are
   * closed ('workspace link changed') so they reconnect (the dialers redial) with the new id.
   */
  linkTo(workspaceId: string): void {
    if (workspaceId.length === 0 || new TextEncoder().encode(workspaceId).length > 255) {
      throw new RangeError('a workspace id is 1-255 bytes of UTF-8');
    }
    if (workspaceId === this.linkedWorkspaceId) return;
    this.linkedWorkspaceId = workspaceId;
    for (const session of [...this.sessions.values()]) session.close('workspace link changed');
  }

  /** Replaces what this device offers, and sends it to connected peers that understand offers. */
  setLocalOffers(offers: readonly WorkspaceOffer[]): void {
    this.localOffers = offers.slice(0, MAX_OFFERS);
    const message = encodeWorkspaceOffers(this.localOffers);
    for (const session of this.sessions.values()) if (session.speaksOffers) session.send(message);
  }

  /** Offers received from the peers connected now, in peer order. */
  peerOffers(): PeerWorkspaceOffer[] {
    const out: PeerWorkspaceOffer[] = [];
    for (const [session, offers] of this.receivedOffers) {
      if (session.isClosed) continue;
      for (const offer of offers) out.push({ ...offer, deviceId: session.remoteDeviceId });
    }
    return out.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  }

  /** Called when the offers of a connected peer change (arrive or go with its session). */
  onOffersChanged(listener: () => void): () => void {
    this.offersListeners.add(listener);
    return () => this.offersListeners.delete(listener);
  }

  private emitOffersChanged(): void {
    for (const listener of [...this.offersListeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  openingMessages(): readonly Uint8Array[] {
    return [
      encodeWorkspaceOffers(this.localOffers),
      ...this.certificates.map((c) => encodeKeyRotated(c)),
    ];
  }

  // ---------------------------------------------------------------- key rotation

  /**
   * Rotates this device's key: a new identity, a certificate signed by the old key, `save` (which
   * must store the new key durably before anything else happens), KeyRotated to every connected
   * peer of protocol version ≥ 2, then every session is closed once that message is flushed, so
   * the dialers reconnect with the new key. The certificate is kept and sent to peers that connect
   * later (useful to relay, see docs/protocol.md).
   */
  async rotateIdentity(
    save: (identity: DeviceIdentity) => Promise<void>,
    flushTimeoutMs = 2_000,
  ): Promise<{
    readonly oldDeviceId: string;
    readonly newDeviceId: string;
    readonly notified: string[];
  }> {
    const oldDeviceId = this.identity.deviceId;
    const { identity, certificate } = this.identity.rotate(this.clock.now());
    await save(identity);
    this.keepCertificate(certificate);
    this.identity = identity;
    const message = encodeKeyRotated(certificate);
    const sessions = [...this.sessions.values()];
    const notified: string[] = [];
    for (const session of sessions) {
      if (session.speaksOffers && session.send(message)) notified.push(session.remoteDeviceId);
    }
    await Promise.all(sessions.map((s) => s.drained(flushTimeoutMs)));
    for (const session of sessions) session.close('key rotated');
    return { oldDeviceId, newDeviceId: identity.deviceId, notified };
  }

  private keepCertificate(certificate: RotationCertificate): void {
    this.certificates.push(certificate);
    if (this.certificates.length > MAX_CERTIFICATES_KEPT) this.certificates.shift();
  }

  private async onKeyRotated(
    session: PeerSession,
    certificate: RotationCertificate,
  ): Promise<void> {
    const oldId = deviceIdFromPublicKey(certificate.oldPublicKey);
    const newId = deviceIdFromPublicKey(certificate.newPublicKey);
    // Our own certificate relayed back, or one about a device this one does not know (or already
    // moved): nothing to do. It is not the sender's fault that it is irrelevant here.
    if (oldId === this.deviceId || newId === this.deviceId) return;
    const known = this.trust.get(oldId);
    if (known === undefined || known.revokedAt !== undefined) return;
    const trustedKey = decodePublicKey(known.publicKey);
    if (
      trustedKey === undefined ||
      !Buffer.from(trustedKey).equals(certificate.oldPublicKey) ||
      !verifyRotation(certificate)
    ) {
      this.rejectRotation(session, oldId, 'the certificate is not signed by the trusted old key');
      return;
    }
    try {
      await this.trust.applyRotation(oldId, certificate.newPublicKey);
    } catch (error) {
      this.rejectRotation(session, oldId, describeError(error));
      return;
    }
    for (const target of this.targets.values()) {
      if (target.deviceId === oldId) target.deviceId = newId;
    }
    this.keepCertificate(certificate);
    this.ctx?.diagnostics.emit(
      'sync.worker.key_rotated',
      `${oldId} rotated its key: now trusted as ${newId}`,
      {
        deviceId: newId,
        previousDeviceId: oldId,
        reason: 'key_rotated',
        via: session.remoteDeviceId,
      },
      'info',
    );
    const message = encodeKeyRotated(certificate);
    for (const other of this.sessions.values()) {
      if (other !== session && other.speaksOffers && other.remoteDeviceId !== oldId) {
        other.send(message);
      }
    }
  }

  private rejectRotation(session: PeerSession, deviceId: string, why: string): void {
    session.lastError = `key rotation refused: ${why}`;
    this.ctx?.diagnostics.emit(
      'sync.worker.peer_rejected',
      `key rotation of ${deviceId} from ${session.remoteDeviceId} refused: ${why}`,
      { deviceId, via: session.remoteDeviceId, reason: 'rotation_rejected' },
    );
    session.close('forged key rotation');
  }

  // ---------------------------------------------------------------- pause

  /**
   * Pauses Device Sync with a trusted device without forgetting it: stops dialing it, closes its
   * session, and refuses its connections after the handshake (a `sync.worker.peer_rejected`
   * diagnostic with the reason) until `resumePeer`. For this run only (not persisted). Returns
   * false for a device that is not trusted (nothing changes); idempotent otherwise.
   */
  pausePeer(deviceId: string): boolean {
    if (!this.isTrustedId(deviceId)) return false;
    if (!this.paused.add(deviceId)) return true;
    this.sessions.get(deviceId)?.close(this.pausedReason());
    return true;
  }

  /** Resumes Device Sync with a paused device: its addresses are dialed again at once. */
  resumePeer(deviceId: string): boolean {
    if (!this.paused.delete(deviceId)) return false;
    for (const target of this.targets.values()) {
      if (target.deviceId !== deviceId) continue;
      target.attempt = 0;
      target.lastError = undefined;
      this.startDialing(target);
    }
    return true;
  }

  /** The devices Device Sync is paused with, sorted. */
  pausedPeers(): string[] {
    return this.paused.list();
  }

  private pausedReason(): string {
    return pausedReason(this.options.deviceName ?? this.deviceId.slice(0, 12));
  }

  // ---------------------------------------------------------------- targets

  /** Dial `address` for as long as the worker runs (manual peer). Idempotent. */
  addPeerAddress(address: PeerAddress, deviceId?: string): void {
    const key = formatAddress(address);
    const existing = this.targets.get(key);
    if (existing) {
      if (deviceId !== undefined) existing.deviceId = deviceId;
      this.startDialing(existing);
      return;
    }
    const target: DialTarget = {
      key,
      address,
      deviceId,
      discovered: false,
      attempt: 0,
      lastError: undefined,
      running: false,
    };
    this.targets.set(key, target);
    this.startDialing(target);
  }

  /** Discovery found a device: dialed only if trusted (re-checked when the trust store changes). */
  peerFound(peer: DiscoveredPeer): void {
    const host = peer.addresses[0] ?? peer.host;
    const address = { host, port: peer.port };
    const key = formatAddress(address);
    for (const [k, t] of this.targets) {
      if (t.discovered && t.deviceId === peer.deviceId && k !== key) this.targets.delete(k);
    }
    if (this.targets.has(key)) return;
    const target: DialTarget = {
      key,
      address,
      deviceId: peer.deviceId,
      discovered: true,
      attempt: 0,
      lastError: undefined,
      running: false,
    };
    this.targets.set(key, target);
    this.startDialing(target);
  }

  peerLost(deviceId: string): void {
    for (const [key, t] of this.targets) {
      if (t.discovered && t.deviceId === deviceId) this.targets.delete(key);
    }
  }

  private startDialing(target: DialTarget): void {
    if (!this.running || target.running) return;
    if (target.discovered && !this.isTrustedId(target.deviceId)) return;
    if (this.paused.has(target.deviceId)) return;
    target.running = true;
    void this.dialLoop(target).finally(() => {
      target.running = false;
    });
  }

  private isTrustedId(deviceId: string | undefined): boolean {
    if (deviceId === undefined) return false;
    const peer = this.trust.get(deviceId);
    return peer !== undefined && peer.revokedAt === undefined;
  }

  private async dialLoop(target: DialTarget): Promise<void> {
    const signal = this.signal;
    if (signal === undefined) return;
    while (!signal.aborted && this.targets.get(target.key) === target) {
      if (target.discovered && !this.isTrustedId(target.deviceId)) return;
      // Paused: the loop ends; resumePeer starts it again.
      if (this.paused.has(target.deviceId)) return;
      const live = target.deviceId !== undefined ? this.sessions.get(target.deviceId) : undefined;
      if (live !== undefined) {
        await Promise.race([live.closed, this.stopped]);
        target.attempt = 0;
      } else {
        const reached = await this.dialOnce(target, signal);
        if (reached !== undefined) {
          target.attempt = 0;
          target.lastError = undefined;
          await Promise.race([reached.closed, this.stopped]);
          target.lastError = reached.lastError;
        }
      }
      if (isAborted(signal) || this.paused.has(target.deviceId)) return;
      target.attempt += 1;
      const delay = Math.round(this.backoff.delay(target.attempt));
      this.ctx?.diagnostics.emit(
        'sync.worker.backoff',
        `reconnecting to ${target.key} in ${delay} ms (attempt ${target.attempt})`,
        {
          address: target.key,
          attempt: target.attempt,
          delayMs: delay,
          ...(target.lastError !== undefined ? { lastError: target.lastError } : {}),
        },
      );
      try {
        await sleep(this.clock, delay, signal);
      } catch {
        return;
      }
    }
  }

  private async dialOnce(
    target: DialTarget,
    signal: AbortSignal,
  ): Promise<PeerSession | undefined> {
    let transport: Transport;
    try {
      transport = await this.options.connect(target.address, signal);
    } catch (error) {
      target.lastError = `connect failed: ${describeError(error)}`;
      return undefined;
    }
    if (signal.aborted) {
      transport.close('device sync stopped');
      return undefined;
    }
    const expected = target.deviceId;
    if (expected !== undefined) this.emitState(expected, 'Handshaking');
    let seenId: string | undefined;
    let channel: SecureChannel;
    this.handshaking.add(transport);
    try {
      channel = await handshake(transport, {
        ...this.handshakeOptions('initiator'),
        isTrusted: (deviceId, publicKey) => {
          seenId = deviceId;
          if (expected !== undefined && deviceId !== expected) return false;
          return this.trust.isTrusted(deviceId, publicKey);
        },
      });
    } catch (error) {
      const reason = describeError(error);
      target.lastError = reason;
      const id = seenId ?? expected;
      this.recordRejection(error, id, target.key);
      if (expected !== undefined) this.offline(expected, `handshake failed: ${reason}`);
      return undefined;
    } finally {
      this.handshaking.delete(transport);
    }
    target.deviceId = channel.remoteDeviceId;
    return this.attach(channel);
  }

  // ---------------------------------------------------------------- accept

  /** An incoming connection (from the host's listener). */
  accept(transport: Transport): void {
    if (!this.running) {
      transport.close('device sync is not running');
      return;
    }
    void this.acceptConnection(transport);
  }

  private async acceptConnection(inner: Transport): Promise<void> {
    const transport = new PeekableTransport(inner);
    this.handshaking.add(inner);
    try {
      const timeoutMs = this.options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs;
      const head = await transport.peek(HELLO_FLAGS_OFFSET + 1, timeoutMs);
      const wantsPairing = head !== undefined && ((head[HELLO_FLAGS_OFFSET] ?? 0) & 1) === 1;
      if (wantsPairing && this.pairingCodes.state(this.clock.now()).status === 'active') {
        await this.acceptPairing(transport);
        return;
      }
      let seenId: string | undefined;
      let channel: SecureChannel;
      try {
        channel = await handshake(transport, {
          ...this.handshakeOptions('responder'),
          isTrusted: (deviceId, publicKey) => {
            seenId = deviceId;
            return this.trust.isTrusted(deviceId, publicKey);
          },
        });
      } catch (error) {
        this.recordRejection(error, seenId, inner.description);
        return;
      }
      this.attach(channel);
    } finally {
      this.handshaking.delete(inner);
    }
  }

  private handshakeOptions(role: 'initiator' | 'responder'): Omit<HandshakeOptions, 'isTrusted'> {
    return {
      identity: this.identity,
      role,
      timeoutMs: this.options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
      ...(this.options.clock !== undefined ? { clock: this.options.clock } : {}),
      ...(this.options.protocolVersions !== undefined
        ? { versions: this.options.protocolVersions }
        : {}),
    };
  }

  private recordRejection(
    error: unknown,
    deviceId: string | undefined,
    address: string,
    kind?: 'paused',
  ): void {
    const reason = kind ?? (error instanceof ProtocolError ? error.reason : 'internal');
    const message = describeError(error);
    const entry: RejectedPeer = {
      at: this.clock.now(),
      reason: `${reason}: ${message}`,
      address,
      ...(deviceId !== undefined ? { deviceId } : {}),
    };
    this.rejected.push(entry);
    if (this.rejected.length > MAX_REJECTED_KEPT) this.rejected.shift();
    this.ctx?.diagnostics.emit(
      'sync.worker.peer_rejected',
      `connection ${deviceId !== undefined ? `with ${deviceId}` : `from ${address}`} refused: ${message}`,
      { reason, address, ...(deviceId !== undefined ? { deviceId } : {}) },
    );
  }

  // ---------------------------------------------------------------- pairing

  /** Shows a pairing code: incoming pairing handshakes may use it until it expires or is used. */
  issuePairingCode(): IssuedPairingCode {
    return this.pairingCodes.issue(this.clock.now());
  }

  onPairing(listener: (outcome: PairingOutcome) => void): () => void {
    this.pairingListeners.add(listener);
    return () => this.pairingListeners.delete(listener);
  }

  private pairingFlow(): PairingFlow<Transport, DeviceIdentity> {
    return new PairingFlow<Transport, DeviceIdentity>({
      identity: this.identity,
      trust: this.trust,
      codes: this.pairingCodes,
      localName: this.options.deviceName ?? this.deviceId,
      ...(this.options.clock !== undefined ? { clock: this.options.clock } : {}),
      timeoutMs: this.options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
      handshake: (transport, o): Promise<PairingChannel> =>
        handshake(transport, {
          identity: o.identity,
          role: o.role,
          isTrusted: o.isTrusted,
          timeoutMs: o.timeoutMs,
          ...(o.pairingCode !== undefined ? { pairingCode: o.pairingCode } : {}),
          ...(this.options.clock !== undefined ? { clock: this.options.clock } : {}),
        }),
    });
  }

  private async acceptPairing(transport: Transport): Promise<void> {
    try {
      const result = await this.pairingFlow().acceptPairing(() => Promise.resolve(transport));
      // The pairing channel is closed; the joining side dials again as a trusted device.
      result.channel.close('paired');
      this.emitPairing({
        ok: true,
        deviceId: result.peer.deviceId,
        name: result.peer.name,
        sas: result.sas,
      });
    } catch (error) {
      const reason = error instanceof PairingError ? error.reason : 'interrupted';
      this.recordRejection(error, undefined, transport.description);
      this.emitPairing({ ok: false, reason, message: describeError(error) });
    }
  }

  /**
   * The joining side: pairs with the device at `address` using its code, then keeps dialing it
   * as a trusted peer. Rejects with a PairingError (nothing stored) on a wrong, expired or used code.
   */
  async pairJoin(address: PeerAddress, code: string): Promise<PairingOutcome & { ok: true }> {
    const signal = this.signal;
    if (signal === undefined) throw new ProtocolError('closed', 'device sync is not running');
    const result = await this.pairingFlow().joinPairing(
      () => this.options.connect(address, signal),
      code,
    );
    result.channel.close('paired');
    this.addPeerAddress(address, result.peer.deviceId);
    const outcome = {
      ok: true as const,
      deviceId: result.peer.deviceId,
      name: result.peer.name,
      sas: result.sas,
    };
    this.emitPairing(outcome);
    return outcome;
  }

  private emitPairing(outcome: PairingOutcome): void {
    for (const listener of [...this.pairingListeners]) {
      try {
        listener(outcome);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  // ---------------------------------------------------------------- sessions

  /** Takes an authenticated channel; keeps one session per peer. */
  private attach(channel: SecureChannel): PeerSession | undefined {
    const id = channel.remoteDeviceId;
    if (!this.running) {
      channel.close('device sync stopped');
      return undefined;
    }
    if (this.paused.has(id)) {
      // Authenticated, so the refusal names the device; the CLOSE tells it why.
      const reason = this.pausedReason();
      channel.close(reason);
      this.recordRejection(new Error(reason), id, channel.transportDescription, 'paused');
      return undefined;
    }
    const existing = this.sessions.get(id);
    if (existing !== undefined && !existing.isClosed) {
      const initiatorOf = (role: 'initiator' | 'responder'): string =>
        role === 'initiator' ? this.deviceId : id;
      const newInit = initiatorOf(channel.role);
      const oldInit = initiatorOf(existing.role);
      const keepNew = newInit === oldInit || newInit < oldInit;
      if (!keepNew) {
        channel.close('duplicate connection');
        return undefined;
      }
      this.sessions.delete(id);
      existing.close(newInit === oldInit ? 'replaced by a new connection' : 'duplicate connection');
    }
    const session = new PeerSession(channel, this, {
      clock: this.clock,
      keepaliveIntervalMs: this.options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
      keepaliveTimeoutMs: this.options.keepaliveTimeoutMs ?? DEFAULTS.keepaliveTimeoutMs,
      maxQueueBytes: this.options.maxQueueBytes ?? DEFAULTS.maxQueueBytes,
      maxQueueMessages: this.options.maxQueueMessages ?? DEFAULTS.maxQueueMessages,
      limits: {
        maxUnitUpdateBytes: this.options.maxUnitUpdateBytes ?? DEFAULT_MAX_UNIT_UPDATE_BYTES,
      },
      transportName: this.options.transportName ?? 'tcp',
    });
    this.sessions.set(id, session);
    this.trust.touch(id, this.clock.now());
    this.ctx?.diagnostics.emit('sync.worker.peer_connected', `connected to ${id}`, {
      deviceId: id,
      role: channel.role,
      transport: channel.transportDescription,
    });
    session.start();
    return session;
  }

  onStateChanged(session: PeerSession, state: PeerSessionState): void {
    if (this.sessions.get(session.remoteDeviceId) !== session) return;
    this.emitState(session.remoteDeviceId, state);
    this.files.sessionStateChanged(session);
  }

  onClosed(session: PeerSession, reason: string): void {
    session.lastError = reason;
    this.files.sessionClosed(session);
    if (this.receivedOffers.delete(session)) this.emitOffersChanged();
    if (this.sessions.get(session.remoteDeviceId) !== session) return;
    this.sessions.delete(session.remoteDeviceId);
    this.trust.touch(session.remoteDeviceId, this.clock.now());
    this.offline(session.remoteDeviceId, reason);
  }

  private offline(deviceId: string, reason: string): void {
    this.ctx?.diagnostics.emit('sync.worker.peer_offline', `${deviceId} went offline: ${reason}`, {
      deviceId,
      reason,
    });
    this.enqueue({ type: 'PeerWentOffline', peerId: deviceId, reason });
  }

  private emitState(peerId: string, state: PeerSessionState): void {
    this.enqueue({
      type: 'PeerStateChanged',
      peerId,
      state,
      transport: this.options.transportName ?? 'tcp',
    });
  }

  onMalformed(session: PeerSession, error: SyncMessageError): void {
    session.unitsRejected += 1;
    this.rejectUnit(session, `malformed sync message (${error.reason}): ${error.message}`);
  }

  onWorkspaceMismatch(session: PeerSession, workspaceId: string): void {
    this.ctx?.diagnostics.emit(
      'sync.worker.not_linked',
      `${session.remoteDeviceId} syncs workspace "${workspaceId}", not "${this.workspaceId}": not linked, no content is exchanged`,
      { deviceId: session.remoteDeviceId, reason: 'not_linked', workspaceId },
      'info',
    );
  }

  encodeStateVector(): Uint8Array {
    return this.doc.encodeStateVector();
  }

  encodeDiff(stateVector: Uint8Array): Uint8Array {
    return this.doc.encodeDiff(stateVector);
  }

  onApplicationMessage(session: PeerSession, message: SyncMessage, raw: Uint8Array): void {
    if (isFileMessage(message)) this.files.received(session, message);
    else if (message.type === 'SyncStep2') this.onStep2(session, message.update);
    else if (message.type === 'Unit') this.onUnit(session, message, raw);
    else if (message.type === 'WorkspaceOffers') {
      this.receivedOffers.set(session, message.offers);
      this.emitOffersChanged();
    } else if (message.type === 'KeyRotated') {
      // Serialised with the intents, so two certificates are applied in the order they came.
      this.intentChain = this.intentChain
        .then(() => this.onKeyRotated(session, message.certificate))
        .catch((error: unknown) => {
          this.rejectRotation(session, session.remoteDeviceId, describeError(error));
        });
    }
  }

  private rejectUnit(session: PeerSession, why: string, data: Record<string, unknown> = {}): void {
    session.lastError = why;
    this.ctx?.diagnostics.emit(
      'sync.worker.unit_rejected',
      `from ${session.remoteDeviceId}: ${why}`,
      {
        deviceId: session.remoteDeviceId,
        ...data,
      },
    );
  }

  private grantOf(deviceId: string): WorkspaceGrant {
    return (
      this.trust.grantFor(deviceId, this.workspaceId) ?? this.options.defaultGrant ?? 'read-write'
    );
  }

  private onStep2(session: PeerSession, update: Uint8Array): void {
    const peer = session.remoteDeviceId;
    if (this.grantOf(peer) !== 'read-write') {
      session.unitsRejected += 1;
      this.rejectUnit(session, 'read-only device: its changes are not accepted', {
        kind: 'SyncStep2',
      });
      return;
    }
    const decoded = validateYjsUpdate(update);
    if (decoded === undefined) {
      session.unitsRejected += 1;
      this.rejectUnit(session, 'SyncStep2 is not a valid Yjs update', { kind: 'SyncStep2' });
      session.close('invalid update');
      return;
    }
    if (!decoded.hasContent) return;
    this.deliver(session, update);
    // Forwarding only matters with another peer connected (the hash of a big diff is not free).
    if (this.sessions.size < 2) return;
    const hash = createHash('sha256').update(update).digest('base64');
    if (this.seenDiffs.add(hash)) {
      const forwarded = encodeSyncStep2(update, true);
      for (const other of this.sessions.values()) {
        if (other !== session && carriesContent(other)) other.send(forwarded);
      }
    }
  }

  private onUnit(session: PeerSession, unit: SignedUnit, raw: Uint8Array): void {
    const key = `${unit.author}:${unit.epoch}:${unit.seq}`;
    if (this.seenUnits.has(key)) return;
    if (unit.author === this.deviceId) {
      this.seenUnits.add(key);
      return;
    }
    const authorPeer = this.trust.get(unit.author);
    const publicKey =
      authorPeer !== undefined && authorPeer.revokedAt === undefined
        ? decodePublicKey(authorPeer.publicKey)
        : undefined;
    if (publicKey === undefined) {
      session.unitsRejected += 1;
      this.rejectUnit(session, `unit by unknown or revoked author ${unit.author}`, {
        author: unit.author,
        reason: 'unknown_author',
      });
      return;
    }
    if (!verifySignedUnit(this.workspaceId, unit, publicKey)) {
      session.unitsRejected += 1;
      this.rejectUnit(session, `unit signature does not verify for author ${unit.author}`, {
        author: unit.author,
        reason: 'bad_signature',
      });
      session.close('forged unit');
      return;
    }
    if (this.grantOf(unit.author) !== 'read-write') {
      session.unitsRejected += 1;
      this.rejectUnit(session, `read-only device ${unit.author}: its changes are not accepted`, {
        author: unit.author,
        reason: 'read_only',
      });
      return;
    }
    if (validateYjsUpdate(unit.update) === undefined) {
      session.unitsRejected += 1;
      this.rejectUnit(session, 'unit is not a valid Yjs update', {
        author: unit.author,
        reason: 'invalid_update',
      });
      session.close('invalid update');
      return;
    }
    this.seenUnits.add(key);
    session.unitsReceived += 1;
    this.deliver(session, unit.update);
    for (const other of this.sessions.values()) {
      if (other !== session && carriesContent(other)) other.send(raw);
    }
  }

  /** Enqueues a validated update with `send` (never dropped); pauses a peer that outruns the queue. */
  private deliver(session: PeerSession, update: Uint8Array): void {
    session.inflight += 1;
    if (session.inflight === INFLIGHT_PAUSE) session.channel.pause();
    this.enqueue({ type: 'RemoteUpdateReceived', peerId: session.remoteDeviceId, update }, () => {
      session.inflight -= 1;
      if (session.inflight === INFLIGHT_PAUSE - 1 || session.inflight === 0) {
        session.channel.resume();
      }
    });
  }

  /** Intents go out in order, each with `send` (waits for queue space, never drops). */
  private enqueue(intent: Intent, done?: () => void): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    this.intentChain = this.intentChain
      .then(() => ctx.send(intent, 'PeerSync'))
      .catch((error: unknown) => {
        ctx.diagnostics.emit(
          'sync.worker.unit_rejected',
          `could not enqueue ${intent.type}: ${describeError(error)}`,
        );
      })
      .finally(done);
  }

  // ---------------------------------------------------------------- effects

  /** Register with `runtime.onEffect`: sends local updates to every peer. */
  handleEffect = (effect: Effect): void => {
    if (effect.type !== 'BroadcastUpdate' || !this.running) return;
    if (effect.exceptPeer === undefined) this.broadcastLocal(effect.update);
    this.scheduleStateVectorReport();
  };

  private broadcastLocal(update: Uint8Array): void {
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    const signature = this.identity.sign(
      unitSignatureInput(this.workspaceId, this.deviceId, this.epoch, seq, update),
    );
    this.seenUnits.add(`${this.deviceId}:${this.epoch}:${seq}`);
    if (this.sessions.size === 0) return;
    const bytes = encodeUnit({ author: this.deviceId, epoch: this.epoch, seq, update, signature });
    this.unitsSent += 1;
    for (const session of this.sessions.values()) {
      if (carriesContent(session)) session.send(bytes);
    }
  }

  private scheduleStateVectorReport(): void {
    if (this.svTimer !== undefined) return;
    this.svTimer = this.clock.setTimeout(() => {
      this.svTimer = undefined;
      for (const session of this.sessions.values()) {
        if (session.state === 'Idle' && session.linkState === 'linked') session.sendStateVector();
      }
    }, 20);
  }

  private stateVectorMap(sv: Uint8Array): Map<number, number> {
    try {
      return Y.decodeStateVector(sv);
    } catch {
      return new Map();
    }
  }
}

/** Content (units, forwarded diffs) goes to sessions past the handshake that are not unlinked. */
function carriesContent(session: PeerSession): boolean {
  return session.state !== 'Authenticated' && session.linkState !== 'not linked';
}

function sameStateVector(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [client, clock] of a) if (b.get(client) !== clock) return false;
  return true;
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
  });
}

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
