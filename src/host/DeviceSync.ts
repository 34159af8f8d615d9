/**
 * Device Sync inside the VS Code host, wired the way `twinspace serve` wires it (src/cli/serve.ts):
 * the device identity (private key in SecretStorage), the TrustStore (per device: in the global
 * storage folder, not per workspace), a TCP listener, the SyncWorker and, when enabled, the
 * DiscoveryWorker. One instance per runtime; `close` after the runtime has shut down.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import type { RegistryRuntime } from '../runtime/RegistryRuntime';
import { PROTOCOL_VERSION } from '../sync/channel/wire';
import { DiscoveryWorker, type DiscoveredPeer } from '../sync/discovery/DiscoveryWorker';
import { DeviceIdentity } from '../sync/identity/DeviceIdentity';
import {
  SyncWorker,
  formatAddress,
  parseAddress,
  type PairingOutcome,
  type PeerAddress,
  type SyncPeerView,
} from '../sync/SyncWorker';
import { TcpTransport, type TcpListener } from '../sync/transport/TcpTransport';
import { TrustStore, type TrustedPeer } from '../sync/trust/TrustStore';
import { describeFolder } from '../sync/workspace/describeFolder';
import { rankOffers, type RankedOffer, type WorkspaceOffer } from '../core/workspaceLinks';
import { SecretKeyStore } from './SecretKeyStore';
import { HostFolderSync } from './HostFolderSync';
import type { DeviceSyncSettings } from './syncSettings';

/** Where peers paired by address are remembered (dialed again after a restart). */
const KNOWN_PEERS_KEY = 'twinspace.knownPeers.v1';
/** Workspace links chosen with "Link This Folder…": folder path → workspace id. */
const LINKS_KEY = 'twinspace.workspaceLinks.v1';

interface KnownPeer {
  readonly address: string;
  readonly deviceId?: string;
}

export interface DeviceSyncOptions {
  readonly runtime: RegistryRuntime;
  readonly secrets: vscode.SecretStorage;
  /** Global (per device) state: known peer addresses. */
  readonly globalState: vscode.Memento;
  /** Global storage folder: trust.json lives here. */
  readonly globalStorageDir: string;
  readonly settings: DeviceSyncSettings;
  /** Errors nobody awaits (trust store background saves). */
  readonly onError: (message: string) => void;
  /** Something the Sync Panel shows changed (discovery, pairing, trust). */
  readonly onChange: () => void;
  /**
   * The folder this window syncs: its offer (name, git remote, file count) goes to peers, and a
   * link saved for it (globalState) replaces `settings.workspaceId`.
   */
  readonly folder?: string;
}

export class DeviceSync {
  private closed = false;
  private listenerClosing: Promise<void> | undefined;
  private listenerOpen = true;
  private readonly disposers: (() => void)[] = [];
  private offer: WorkspaceOffer;
  /** The file sync of the window's folder (none without a folder). */
  files: HostFolderSync | undefined;

  private constructor(
    readonly identity: DeviceIdentity,
    readonly trust: TrustStore,
    readonly worker: SyncWorker,
    readonly listener: TcpListener,
    readonly discovery: DiscoveryWorker | undefined,
    readonly settings: DeviceSyncSettings,
    private readonly globalState: vscode.Memento,
    readonly folder: string | undefined,
  ) {
    this.offer = { workspaceId: worker.workspaceId, name: worker.workspaceId, fileCount: 0 };
  }

  static async start(o: DeviceSyncOptions): Promise<DeviceSync> {
    const { runtime, settings } = o;
    const identity = await DeviceIdentity.loadOrCreate(new SecretKeyStore(o.secrets));
    const trust = await TrustStore.open(path.join(o.globalStorageDir, 'trust.json'), {
      onError: (error, context) => {
        o.onError(`trust store: ${context}: ${describeError(error)}`);
      },
    });
    const known = readKnownPeers(o.globalState);
    const peers = new Map<string, PeerAddress>();
    for (const a of [...settings.manualPeers, ...known.map((k) => parseAddress(k.address))]) {
      peers.set(formatAddress(a), a);
    }
    const linked = o.folder !== undefined ? readLinks(o.globalState)[o.folder] : undefined;
    const workspaceId = linked ?? settings.workspaceId;
    const offer =
      o.folder !== undefined
        ? await describeFolder(o.folder, workspaceId).catch(() => undefined)
        : undefined;
    const worker = new SyncWorker({
      identity,
      trust,
      doc: runtime.engine,
      deviceName: settings.deviceName,
      workspaceId,
      ...(offer !== undefined ? { offers: [offer] } : {}),
      peers: [...peers.values()],
      connect: (address, signal) =>
        TcpTransport.connect({ host: address.host, port: address.port, timeoutMs: 5_000, signal }),
    });
    let listener: TcpListener;
    try {
      listener = await TcpTransport.listen(
        { host: settings.listenHost, port: settings.listenPort },
        (transport) => {
          worker.accept(transport);
        },
      );
    } catch (error) {
      await trust.close();
      throw new Error(
        `cannot listen on ${settings.listenHost}:${settings.listenPort}: ${describeError(error)}`,
        { cause: error },
      );
    }
    const discovery = settings.mdns
      ? new DiscoveryWorker({
          deviceId: identity.deviceId,
          deviceName: settings.deviceName,
          port: listener.port,
          protocolVersion: PROTOCOL_VERSION,
          onPeerFound: (peer) => {
            worker.peerFound(peer);
            o.onChange();
          },
          onPeerLost: (deviceId) => {
            worker.peerLost(deviceId);
            o.onChange();
          },
        })
      : undefined;
    const sync = new DeviceSync(
      identity,
      trust,
      worker,
      listener,
      discovery,
      settings,
      o.globalState,
      o.folder,
    );
    if (offer !== undefined) sync.offer = offer;
    sync.disposers.push(
      runtime.onEffect(worker.handleEffect),
      trust.onChange(() => {
        o.onChange();
      }),
      worker.onPairing(() => {
        o.onChange();
      }),
      worker.onOffersChanged(() => {
        o.onChange();
      }),
    );
    runtime.addWorker(worker);
    if (discovery) runtime.addWorker(discovery);
    if (o.folder !== undefined) {
      const config = vscode.workspace.getConfiguration('twinspace');
      const maxMb = config.get<number>('maxFileSizeMB');
      sync.files = new HostFolderSync({
        runtime,
        worker,
        folder: o.folder,
        globalStorageDir: o.globalStorageDir,
        deviceId: identity.deviceId,
        syncUnsavedEdits: config.get<boolean>('syncUnsavedEdits') ?? true,
        ...(typeof maxMb === 'number' && maxMb > 0 ? { maxFileBytes: maxMb * 1024 * 1024 } : {}),
      });
      const files = sync.files;
      sync.disposers.push(() => {
        files.dispose();
      });
    }
    return sync;
  }

  get listenAddress(): string {
    return formatAddress({ host: this.listener.host, port: this.listener.port });
  }

  /** Trusted (not revoked) devices, oldest first. */
  trusted(): TrustedPeer[] {
    return this.closed ? [] : this.trust.list().filter((p) => p.revokedAt === undefined);
  }

  peers(): SyncPeerView[] {
    return this.worker.peers();
  }

  /** Devices found by mDNS that are not trusted: offered for pairing. */
  untrustedDiscovered(): DiscoveredPeer[] {
    const trusted = new Set(this.trusted().map((p) => p.deviceId));
    return (this.discovery?.peers() ?? []).filter(
      (p) => !trusted.has(p.deviceId) && p.deviceId !== this.identity.deviceId,
    );
  }

  /** Every discovered device (for "Pair a device": pick the one to join). */
  discovered(): DiscoveredPeer[] {
    return (this.discovery?.peers() ?? []).filter((p) => p.deviceId !== this.identity.deviceId);
  }

  /** What this window offers for its folder. */
  localOffer(): WorkspaceOffer {
    return this.offer;
  }

  /** The workspaces connected peers offer, ranked for this folder (same git remote first). */
  rankedOffers(): RankedOffer[] {
    return rankOffers(this.offer, this.worker.peerOffers());
  }

  /** Links this folder to `workspaceId` (saved per folder); sessions reconnect with the new id. */
  async link(workspaceId: string): Promise<void> {
    this.worker.linkTo(workspaceId);
    this.offer = { ...this.offer, workspaceId };
    this.worker.setLocalOffers([this.offer]);
    if (this.folder !== undefined) {
      await this.globalState.update(LINKS_KEY, {
        ...readLinks(this.globalState),
        [this.folder]: workspaceId,
      });
    }
  }

  /** Joins the device at `address` with its code, and remembers the address. */
  async pairJoin(address: PeerAddress, code: string): Promise<PairingOutcome & { ok: true }> {
    const outcome = await this.worker.pairJoin(address, code);
    await this.remember({ address: formatAddress(address), deviceId: outcome.deviceId });
    return outcome;
  }

  /** Dials `address` for as long as this runtime runs (the caller persists it in the settings). */
  addPeerAddress(address: PeerAddress): void {
    this.worker.addPeerAddress(address);
  }

  /** Revokes the device: its live session closes at once; its address is no longer remembered. */
  async forget(deviceId: string): Promise<void> {
    await this.trust.revoke(deviceId);
    const kept = readKnownPeers(this.globalState).filter((k) => k.deviceId !== deviceId);
    await this.globalState.update(KNOWN_PEERS_KEY, kept);
  }

  /**
   * Pauses Device Sync with a trusted device for this run (not persisted: a restart resumes it):
   * its session closes, it is not dialed, its connections are refused. False if not trusted.
   */
  pause(deviceId: string): boolean {
    return this.worker.pausePeer(deviceId);
  }

  /** Resumes Device Sync with a paused device (dialed again at once). False if not paused. */
  resume(deviceId: string): boolean {
    return this.worker.resumePeer(deviceId);
  }

  /** The devices Device Sync is paused with. */
  paused(): string[] {
    return this.worker.pausedPeers();
  }

  private async remember(entry: KnownPeer): Promise<void> {
    const list = readKnownPeers(this.globalState).filter((k) => k.address !== entry.address);
    await this.globalState.update(KNOWN_PEERS_KEY, [...list, entry]);
  }

  /** What is still open: the listener, live sessions, the trust store. */
  openResources(): string[] {
    const open = this.listenerOpen ? [`listener:${this.listenAddress}`] : [];
    if (!this.closed) open.push('trust-store');
    for (const p of this.worker.peers()) {
      if (p.state !== 'Disconnected') open.push(`session:${p.peerId}`);
    }
    return open;
  }

  /**
   * Stops accepting connections. Call before the runtime shuts down (which stops the workers and
   * closes the sessions); the listener finishes closing once their sockets are gone.
   */
  stopAccepting(): void {
    this.listenerClosing ??= this.listener.close().then(() => {
      this.listenerOpen = false;
    });
  }

  /** After the runtime has shut down: detaches from it and flushes the trust store. */
  async close(timeoutMs = 3_000): Promise<void> {
    if (this.closed) return;
    this.stopAccepting();
    for (const dispose of this.disposers.splice(0)) dispose();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.listenerClosing,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    await this.trust.close();
    this.closed = true;
  }
}

function readLinks(state: vscode.Memento): Record<string, string> {
  const raw = state.get<unknown>(LINKS_KEY);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const out: Record<string, string> = {};
  for (const [folder, id] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof id === 'string' && id.length > 0) out[folder] = id;
  }
  return out;
}

function readKnownPeers(state: vscode.Memento): KnownPeer[] {
  const raw = state.get<unknown>(KNOWN_PEERS_KEY);
  if (!Array.isArray(raw)) return [];
  const out: KnownPeer[] = [];
  for (const entry of raw as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { address, deviceId } = entry as { address?: unknown; deviceId?: unknown };
    if (typeof address !== 'string') continue;
    try {
      parseAddress(address);
    } catch {
      continue;
    }
    out.push({ address, ...(typeof deviceId === 'string' ? { deviceId } : {}) });
  }
  return out;
}
