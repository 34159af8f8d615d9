import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../core/errors';
import { FILE_SYNC_OFF, type FileSyncStatus, type LinkChoice } from '../core/files/fileSyncStatus';
import { readGitHeads } from '../core/gitHeads';
import { FolderSync } from '../sync/files/FolderSync';
import type { RegisterState } from '../core/state';
import type { DiagnosticEvent } from '../runtime/Diagnostics';
import { RegistryRuntime } from '../runtime/RegistryRuntime';
import { PROTOCOL_VERSION } from '../sync/channel/wire';
import {
  DEFAULT_REFRESH_INTERVAL_MS,
  DEFAULT_STALE_AFTER_MS,
  DiscoveryWorker,
  type DiscoveredPeer,
} from '../sync/discovery/DiscoveryWorker';
import { DeviceIdentity } from '../sync/identity/DeviceIdentity';
import { FileKeyStore } from '../sync/identity/FileKeyStore';
import { TcpTransport } from '../sync/transport/TcpTransport';
import { TrustStore } from '../sync/trust/TrustStore';
import { describeFolder } from '../sync/workspace/describeFolder';
import { rankOffers, type WorkspaceOffer } from '../core/workspaceLinks';
import { PairingError } from '../sync/pairing/PairingFlow';
import {
  SyncWorker,
  formatAddress,
  parseAddress,
  type PairingOutcome,
  type PeerAddress,
  type RejectedPeer,
  type SyncPeerView,
} from '../sync/SyncWorker';
import { ControlServer, type ControlRequest, type ControlResponse } from './ControlServer';

export const SHUTDOWN_TIMEOUT_MS = 3_000;
const STATUS_INTERVAL_MS = 250;
/**
 * The status file's document hash (a pass over the whole document) is computed once the document
 * has stood still this long, and at least this often while it keeps changing.
 */
const DOC_HASH_QUIET_MS = 200;
const DOC_HASH_MAX_AGE_MS = 10_000;

export interface ServeOptions {
  readonly folder: string;
  readonly name?: string;
  readonly stateDir?: string;
  readonly port: number;
  readonly mdns: boolean;
  readonly mdnsHost?: string;
  /** Manual peers (`host:port`), dialed for as long as the process runs. */
  readonly peers?: readonly string[];
  /**
   * Workspace id this folder is linked to (default 'default'). A link saved by `twinspace link`
   * in the state folder (link.json) takes precedence: it is the later, explicit choice.
   */
  readonly workspaceId?: string;
  /** Bind address of the sync listener (default 0.0.0.0). */
  readonly host?: string;
  /** Sync the folder's files (default true; `--no-files` syncs only the workspace graph). */
  readonly files?: boolean;
  /** Largest file synced, in bytes. */
  readonly maxFileBytes?: number;
  /** The first sync of the folder when a peer already has files (default merge). */
  readonly firstSync?: LinkChoice;
  /** mDNS re-query interval (DiscoveryWorker refreshIntervalMs; default 10 s). */
  readonly mdnsRefreshMs?: number;
  /** A discovered peer not heard from this long is lost (staleAfterMs; default 35 s). */
  readonly mdnsStaleMs?: number;
  /** Ping a silent peer after this long (SyncWorker keepaliveIntervalMs; default 15 s). */
  readonly keepaliveIntervalMs?: number;
  /** Close a session silent this long (keepaliveTimeoutMs; default 3 x the interval or 45 s). */
  readonly keepaliveTimeoutMs?: number;
  /** Longest pause between two dials of a peer (reconnect backoff maxMs; default 10 s). */
  readonly reconnectMaxMs?: number;
}

/** What `serve` writes to `<state-dir>/status.json` and `twinspace status` prints. */
export interface PeerStatus {
  readonly pid: number;
  /** The file sync of the folder (state, progress, conflicts). */
  readonly files: FileSyncStatus;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly folder: string;
  readonly port: number;
  readonly protocolVersion: number;
  readonly state: RegisterState;
  readonly shortId: string;
  readonly discovered: readonly DiscoveredPeer[];
  /** Device Sync sessions and manual peers (state, transport, pending out, last error). */
  readonly peers: readonly SyncPeerView[];
  /** Connections refused recently (unknown or revoked devices, failed pairings). */
  readonly rejected: readonly RejectedPeer[];
  readonly pending: { readonly out: number; readonly in: number };
  /** SHA-256 (hex) of the stable JSON of the workspace document: equal on converged replicas. */
  readonly docHash: string;
  readonly workspaceId: string;
  /** What this device offers to its peers for the folder. */
  readonly offer?: WorkspaceOffer;
  readonly controlSocket: string;
  readonly updatedAt: number;
  readonly stopped?: boolean;
}

/**
 * The state folder of a folder served without --state-dir: outside the folder (the file sync
 * refuses state inside what it syncs), under $XDG_STATE_HOME (default ~/.local/state).
 */
export function defaultStateDir(folder: string): string {
  const base = process.env['XDG_STATE_HOME'] ?? path.join(os.homedir(), '.local', 'state');
  const key = createHash('sha256').update(folder).digest('hex').slice(0, 16);
  return path.join(base, 'twinspace', `${path.basename(folder) || 'root'}-${key}`);
}

function formatDiagnostic(event: DiagnosticEvent): string {
  const time = new Date(event.at).toISOString();
  const data = event.data !== undefined ? ` ${JSON.stringify(event.data)}` : '';
  return `${time} ${event.severity.toUpperCase().padEnd(5)} [${event.channel}] ${event.message}${data}\n`;
}

let tempSeq = 0;

async function writeFileAtomic(file: string, text: string): Promise<void> {
  // A name per write: two writes of one file may overlap (status timer and a control request).
  tempSeq += 1;
  const tmp = `${file}.${process.pid}.${tempSeq}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}

/** Runs a headless peer until SIGINT/SIGTERM. Returns the process exit code. */
export async function serve(options: ServeOptions): Promise<number> {
  const folder = path.resolve(options.folder);
  const stat = await fs.stat(folder).catch(() => undefined);
  if (!stat?.isDirectory()) throw new TwinspaceError('not_found', `not a folder: ${folder}`);
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(folder));
  const deviceName = options.name ?? os.hostname();
  // Checked before anything starts: a throw once the runtime runs would leave the process up.
  const keepalive = keepaliveOptions(options);
  checkDiscoveryTiming(options);

  let dirty = true;
  let stopped = false;
  // Resources opened so far, closed in reverse if starting fails half way (otherwise the open
  // runtime, listener or trust store would keep a failed process alive).
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const keyStore = new FileKeyStore(path.join(stateDir, 'device.key'));
    const identity = await DeviceIdentity.loadOrCreate(keyStore);
    const linkFile = path.join(stateDir, 'link.json');
    const workspaceId = (await readLink(linkFile)) ?? options.workspaceId ?? 'default';
    let offer = await describeFolder(folder, workspaceId);
    const runtime = await RegistryRuntime.start({
      stateDir,
      sinks: [(event) => process.stderr.write(formatDiagnostic(event))],
    });
    closers.push(() => runtime.shutdown(SHUTDOWN_TIMEOUT_MS));
    const trust = await TrustStore.open(path.join(stateDir, 'trust.json'), {
      onError: (error, context) => {
        process.stderr.write(`twinspace: ${context}: ${String(error)}\n`);
      },
    });
    closers.push(() => trust.close());
    const knownPeersFile = path.join(stateDir, 'peers.json');
    const manual = [
      ...(options.peers ?? []).map(parseAddress),
      ...(await readKnownPeers(knownPeersFile)),
    ];
    const worker = new SyncWorker({
      identity,
      trust,
      doc: runtime.engine,
      deviceName,
      workspaceId,
      offers: [offer],
      peers: manual,
      ...keepalive,
      ...(options.reconnectMaxMs !== undefined
        ? {
            backoff: {
              initialMs: Math.min(250, options.reconnectMaxMs),
              maxMs: options.reconnectMaxMs,
              factor: 2,
            },
          }
        : {}),
      connect: (address, signal) =>
        TcpTransport.connect({ host: address.host, port: address.port, timeoutMs: 5_000, signal }),
    });
    const offEffect = runtime.onEffect(worker.handleEffect);
    const listener = await TcpTransport.listen(
      { port: options.port, ...(options.host !== undefined ? { host: options.host } : {}) },
      (transport) => {
        worker.accept(transport);
      },
    );
    closers.push(() => listener.close());
    runtime.addWorker(worker);
    const fileSync =
      options.files === false
        ? undefined
        : new FolderSync({
            folder,
            stateDir: path.join(stateDir, 'files'),
            deviceId: identity.deviceId,
            index: runtime.engine,
            peers: worker,
            ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}),
            ...(options.firstSync !== undefined ? { firstSync: options.firstSync } : {}),
            gitHeads: () => runtime.engine.readDoc(readGitHeads),
            onStatus: () => {
              dirty = true;
            },
          });
    if (fileSync) runtime.addWorker(fileSync);
    const discovery = options.mdns
      ? new DiscoveryWorker({
          deviceId: identity.deviceId,
          deviceName,
          port: listener.port,
          protocolVersion: PROTOCOL_VERSION,
          ...(options.mdnsHost !== undefined ? { host: options.mdnsHost } : {}),
          ...(options.mdnsRefreshMs !== undefined
            ? { refreshIntervalMs: options.mdnsRefreshMs }
            : {}),
          ...(options.mdnsStaleMs !== undefined ? { staleAfterMs: options.mdnsStaleMs } : {}),
          onPeerFound: (peer) => {
            worker.peerFound(peer);
            dirty = true;
          },
          onPeerLost: (deviceId) => {
            worker.peerLost(deviceId);
            dirty = true;
          },
        })
      : undefined;
    if (discovery) runtime.addWorker(discovery);

    const pairingWaiters = new Set<(outcome: PairingOutcome) => void>();
    worker.onPairing((outcome) => {
      dirty = true;
      for (const waiter of [...pairingWaiters]) waiter(outcome);
    });
    let docHashVersion = -1;
    let docHash = '';
    let docHashAt = 0;
    const currentDocHash = (): string => {
      const version = runtime.snapshot().version;
      if (version !== docHashVersion) {
        docHashVersion = version;
        docHashAt = Date.now();
        docHash = createHash('sha256')
          .update(JSON.stringify(runtime.engine.docJSON()))
          .digest('hex');
      }
      return docHash;
    };
    // The status file is written four times a second: while the document keeps changing (a large
    // first sync), its hash keeps its last value, refreshed at most every 10 s; it is exact one
    // status write after the document stops changing. Control requests are always exact.
    let seenVersion = -1;
    let seenAt = 0;
    const statusDocHash = (): string => {
      const version = runtime.snapshot().version;
      const now = Date.now();
      if (version !== seenVersion) {
        seenVersion = version;
        seenAt = now;
      }
      const quiet = now - seenAt >= DOC_HASH_QUIET_MS;
      return quiet || now - docHashAt >= DOC_HASH_MAX_AGE_MS ? currentDocHash() : docHash;
    };
    const controlSocket = path.join(stateDir, 'control.sock');
    const control = await ControlServer.listen(controlSocket, (request) =>
      handleControl(request, {
        worker,
        fileSync,
        runtime,
        status: () => statusOf(),
        docHash: currentDocHash,
        pairingWaiters,
        remember: async (address, deviceId) => {
          await rememberPeer(knownPeersFile, address, deviceId);
        },
        folder,
        offer: () => offer,
        link: async (id) => {
          await fs.mkdir(stateDir, { recursive: true });
          await writeFileAtomic(linkFile, `${JSON.stringify({ workspaceId: id }, null, 2)}\n`);
          worker.linkTo(id);
          offer = await describeFolder(folder, id);
          worker.setLocalOffers([offer]);
          dirty = true;
        },
        rotateKey: async () => {
          const result = await worker.rotateIdentity(async (next) => {
            await keyStore.save(next.exportSeed());
          });
          dirty = true;
          return result;
        },
      }),
    );

    const statusFile = path.join(stateDir, 'status.json');
    const statusOf = (): PeerStatus => ({
      pid: process.pid,
      deviceId: worker.currentIdentity.deviceId,
      shortId: worker.currentIdentity.shortId,
      deviceName,
      folder,
      port: listener.port,
      protocolVersion: PROTOCOL_VERSION,
      state: runtime.snapshot(),
      discovered: discovery?.peers() ?? [],
      peers: worker.peers(),
      rejected: worker.rejections(),
      pending: worker.pendingCounts(),
      docHash: statusDocHash(),
      files: fileSync?.status() ?? FILE_SYNC_OFF,
      workspaceId: worker.workspaceId,
      offer,
      controlSocket,
      updatedAt: Date.now(),
      ...(stopped ? { stopped: true } : {}),
    });
    const unsubscribe = runtime.onSnapshot(() => {
      dirty = true;
    });
    let lastWritten = '';
    const writeStatus = async (): Promise<void> => {
      const status = statusOf();
      // Peer sessions change without a new snapshot: compare what would be written.
      const text = `${JSON.stringify({ ...status, updatedAt: 0 }, null, 2)}\n`;
      if (!dirty && text === lastWritten) return;
      dirty = false;
      lastWritten = text;
      await writeFileAtomic(statusFile, `${JSON.stringify(status, null, 2)}\n`);
    };
    await writeStatus();
    const timer = setInterval(() => {
      writeStatus().catch((error: unknown) => {
        process.stderr.write(`twinspace: cannot write ${statusFile}: ${String(error)}\n`);
      });
    }, STATUS_INTERVAL_MS);
    runtime.diagnostics.emit('cli.serve.started', `serving ${folder} as "${deviceName}"`, {
      stateDir,
      pid: process.pid,
    });

    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals > 1) {
          process.stderr.write(`twinspace: second ${signal}, exiting now\n`);
          process.exit(130);
        }
        process.stderr.write(`twinspace: ${signal}, shutting down\n`);
        resolve();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });

    clearInterval(timer);
    unsubscribe();
    await control.close();
    const report = await runtime.shutdown(SHUTDOWN_TIMEOUT_MS);
    offEffect();
    await listener.close();
    await trust.close();
    stopped = true;
    dirty = true;
    await writeStatus();
    return report.timedOut.length > 0 || report.leftover.length > 0 ? 1 : 0;
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

function keepaliveOptions(options: ServeOptions): {
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
} {
  const interval = options.keepaliveIntervalMs;
  const timeout = options.keepaliveTimeoutMs ?? (interval !== undefined ? interval * 3 : undefined);
  if (interval !== undefined && timeout !== undefined && !(timeout > interval)) {
    throw new TwinspaceError('validation', '--keepalive-timeout-ms must exceed --keepalive-ms');
  }
  return {
    ...(interval !== undefined ? { keepaliveIntervalMs: interval } : {}),
    ...(timeout !== undefined ? { keepaliveTimeoutMs: timeout } : {}),
  };
}

function checkDiscoveryTiming(options: ServeOptions): void {
  const refresh = options.mdnsRefreshMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const stale = options.mdnsStaleMs ?? DEFAULT_STALE_AFTER_MS;
  if (refresh < 10) throw new TwinspaceError('validation', '--mdns-refresh-ms must be >= 10');
  if (!(stale > refresh)) {
    throw new TwinspaceError(
      'validation',
      `--mdns-stale-ms (${stale}) must exceed --mdns-refresh-ms (${refresh})`,
    );
  }
}

/** Reads the status file of a peer (by state folder, or by the folder it serves). */
export async function readStatus(
  stateDir: string | undefined,
  folder: string | undefined,
): Promise<PeerStatus> {
  const dir =
    stateDir ?? (folder !== undefined ? defaultStateDir(path.resolve(folder)) : undefined);
  if (dir === undefined)
    throw new TwinspaceError('validation', 'status needs --state-dir or a folder');
  const file = path.join(dir, 'status.json');
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new TwinspaceError(
      'not_found',
      `no peer status at ${file} (is "twinspace serve" running?)`,
    );
  });
  return JSON.parse(text) as PeerStatus;
}

interface ControlContext {
  readonly worker: SyncWorker;
  readonly fileSync: FolderSync | undefined;
  readonly runtime: RegistryRuntime;
  status(): PeerStatus;
  docHash(): string;
  readonly pairingWaiters: Set<(outcome: PairingOutcome) => void>;
  remember(address: PeerAddress, deviceId: string): Promise<void>;
  readonly folder: string;
  offer(): WorkspaceOffer;
  link(workspaceId: string): Promise<void>;
  rotateKey(): Promise<{ oldDeviceId: string; newDeviceId: string; notified: string[] }>;
}

function stringField(request: ControlRequest, name: string): string {
  const value = request[name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new TwinspaceError('validation', `"${name}" must be a non-empty string`);
  }
  return value;
}

function numberField(request: ControlRequest, name: string, fallback: number): number {
  const value = request[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TwinspaceError('validation', `"${name}" must be a non-negative number`);
  }
  return value;
}

async function handleControl(
  request: ControlRequest,
  ctx: ControlContext,
): Promise<ControlResponse> {
  switch (request.op) {
    case 'status':
      return { ok: true, status: ctx.status() };
    case 'issue-pairing-code': {
      const issued = ctx.worker.issuePairingCode();
      return { ok: true, code: issued.code, expiresAt: issued.expiresAt };
    }
    case 'await-pairing': {
      const timeoutMs = numberField(request, 'timeoutMs', 300_000);
      const outcome = await new Promise<PairingOutcome | undefined>((resolve) => {
        const timer = setTimeout(() => {
          ctx.pairingWaiters.delete(waiter);
          resolve(undefined);
        }, timeoutMs);
        const waiter = (o: PairingOutcome): void => {
          // A wrong guess leaves the code usable: keep waiting unless it is burned or gone.
          if (!o.ok && (o.reason === 'wrong' || o.reason === 'not_pairing' || o.reason === 'busy'))
            return;
          clearTimeout(timer);
          ctx.pairingWaiters.delete(waiter);
          resolve(o);
        };
        ctx.pairingWaiters.add(waiter);
      });
      if (outcome === undefined) {
        return {
          ok: false,
          code: 'closed',
          reason: 'timeout',
          message: 'no device paired in time',
        };
      }
      if (!outcome.ok) {
        return {
          ok: false,
          code: 'unauthorized',
          reason: outcome.reason,
          message: outcome.message,
        };
      }
      return { ...outcome, ok: true };
    }
    case 'pair-join': {
      const address = parseAddress(stringField(request, 'address'));
      const code = stringField(request, 'code');
      try {
        const outcome = await ctx.worker.pairJoin(address, code);
        await ctx.remember(address, outcome.deviceId);
        return { ...outcome, ok: true };
      } catch (error) {
        if (error instanceof PairingError) {
          return { ok: false, code: error.code, reason: error.reason, message: error.message };
        }
        throw error;
      }
    }
    case 'visit': {
      const nodeId = stringField(request, 'nodeId');
      const label = typeof request['label'] === 'string' ? request['label'] : nodeId;
      await ctx.runtime.dispatch({ type: 'VisitNode', nodeId, kind: 'file', label }, 'LocalUI');
      return { ok: true };
    }
    case 'index-file': {
      await ctx.runtime.dispatch(
        {
          type: 'IndexFile',
          path: stringField(request, 'path'),
          size: numberField(request, 'size', 0),
          hash: stringField(request, 'hash'),
        },
        'LocalUI',
      );
      return { ok: true };
    }
    case 'workspaces': {
      const local = ctx.offer();
      return {
        ok: true,
        local: { ...local, folder: ctx.folder },
        offers: rankOffers(local, ctx.worker.peerOffers()),
      };
    }
    case 'link': {
      const workspaceId = stringField(request, 'workspaceId');
      if (Buffer.byteLength(workspaceId) > 255) {
        throw new TwinspaceError('validation', 'a workspace id is at most 255 bytes');
      }
      await ctx.link(workspaceId);
      return { ok: true, workspaceId };
    }
    case 'rotate-key': {
      const result = await ctx.rotateKey();
      return { ok: true, ...result };
    }
    case 'sync-status': {
      const minPeers = numberField(request, 'minPeers', 1);
      const files = request['files'] === true;
      if (files && ctx.fileSync === undefined) {
        throw new TwinspaceError('validation', 'file sync is off (serve --no-files)');
      }
      const synced =
        ctx.worker.isSynced(minPeers) && (!files || (ctx.fileSync?.isInSync() ?? false));
      return {
        ok: true,
        synced,
        ...(files && ctx.fileSync ? { files: ctx.fileSync.status() } : {}),
        // A pass over the whole document: only for the answer a waiting client keeps (pollers
        // ask ten times a second during a large sync).
        ...(synced ? { docHash: ctx.docHash() } : {}),
        peers: ctx.worker.peers(),
      };
    }
    default:
      throw new TwinspaceError('validation', `unknown control op ${JSON.stringify(request.op)}`);
  }
}

/** The workspace id saved by `twinspace link`, or undefined. */
async function readLink(file: string): Promise<string | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const id = (JSON.parse(text) as { workspaceId?: unknown } | null)?.workspaceId;
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  } catch {
    process.stderr.write(`twinspace: ignoring unreadable ${file}\n`);
    return undefined;
  }
}

/** Peers this device paired with by address (`pair --join`), dialed again after a restart. */
async function readKnownPeers(file: string): Promise<PeerAddress[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return [];
    const out: PeerAddress[] = [];
    for (const entry of parsed as unknown[]) {
      const address = (entry as { address?: unknown } | null)?.address;
      if (typeof address === 'string') out.push(parseAddress(address));
    }
    return out;
  } catch (error) {
    process.stderr.write(`twinspace: ignoring unreadable ${file}: ${String(error)}\n`);
    return [];
  }
}

async function rememberPeer(file: string, address: PeerAddress, deviceId: string): Promise<void> {
  const known = (await readKnownPeers(file)).map(formatAddress);
  const entry = formatAddress(address);
  const list = known.includes(entry) ? known : [...known, entry];
  const text = JSON.stringify(
    list.map((a) => ({ address: a, ...(a === entry ? { deviceId } : {}) })),
    null,
    2,
  );
  await writeFileAtomic(file, `${text}\n`);
}
