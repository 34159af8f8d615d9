import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../core/errors';
import type { RegisterState } from '../core/state';
import type { DiagnosticEvent } from '../runtime/Diagnostics';
import { RegistryRuntime } from '../runtime/RegistryRuntime';
import { PROTOCOL_VERSION } from '../sync/channel/wire';
import { DiscoveryWorker, type DiscoveredPeer } from '../sync/discovery/DiscoveryWorker';
import { DeviceIdentity } from '../sync/identity/DeviceIdentity';
import { FileKeyStore } from '../sync/identity/FileKeyStore';
import { TcpTransport } from '../sync/transport/TcpTransport';

export const SHUTDOWN_TIMEOUT_MS = 3_000;
const STATUS_INTERVAL_MS = 250;

export interface ServeOptions {
  readonly folder: string;
  readonly name?: string;
  readonly stateDir?: string;
  readonly port: number;
  readonly mdns: boolean;
  readonly mdnsHost?: string;
}

/** What `serve` writes to `<state-dir>/status.json` and `twinspace status` prints. */
export interface PeerStatus {
  readonly pid: number;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly folder: string;
  readonly port: number;
  readonly protocolVersion: number;
  readonly state: RegisterState;
  readonly shortId: string;
  readonly discovered: readonly DiscoveredPeer[];
  readonly updatedAt: number;
  readonly stopped?: boolean;
}

function defaultStateDir(folder: string): string {
  return path.join(folder, '.twinspace');
}

function formatDiagnostic(event: DiagnosticEvent): string {
  const time = new Date(event.at).toISOString();
  const data = event.data !== undefined ? ` ${JSON.stringify(event.data)}` : '';
  return `${time} ${event.severity.toUpperCase().padEnd(5)} [${event.channel}] ${event.message}${data}\n`;
}

async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
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

  let dirty = true;
  let stopped = false;
  const identity = await DeviceIdentity.loadOrCreate(
    new FileKeyStore(path.join(stateDir, 'device.key')),
  );
  const runtime = await RegistryRuntime.start({
    stateDir,
    sinks: [(event) => process.stderr.write(formatDiagnostic(event))],
  });
  // The sync listener; sessions on it come with the SyncWorker. Until then a connection is closed.
  const listener = await TcpTransport.listen({ port: options.port }, (transport) => {
    transport.close('sync sessions are not available on this peer yet');
  });
  const discovery = options.mdns
    ? new DiscoveryWorker({
        deviceId: identity.deviceId,
        deviceName,
        port: listener.port,
        protocolVersion: PROTOCOL_VERSION,
        ...(options.mdnsHost !== undefined ? { host: options.mdnsHost } : {}),
        onPeerFound: () => {
          dirty = true;
        },
        onPeerLost: () => {
          dirty = true;
        },
      })
    : undefined;
  if (discovery) runtime.addWorker(discovery);

  const statusFile = path.join(stateDir, 'status.json');
  const statusOf = (): PeerStatus => ({
    pid: process.pid,
    deviceId: identity.deviceId,
    shortId: identity.shortId,
    deviceName,
    folder,
    port: listener.port,
    protocolVersion: PROTOCOL_VERSION,
    state: runtime.snapshot(),
    discovered: discovery?.peers() ?? [],
    updatedAt: Date.now(),
    ...(stopped ? { stopped: true } : {}),
  });
  const unsubscribe = runtime.onSnapshot(() => {
    dirty = true;
  });
  const writeStatus = async (): Promise<void> => {
    if (!dirty) return;
    dirty = false;
    await writeFileAtomic(statusFile, `${JSON.stringify(statusOf(), null, 2)}\n`);
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
  const report = await runtime.shutdown(SHUTDOWN_TIMEOUT_MS);
  await listener.close();
  stopped = true;
  dirty = true;
  await writeStatus();
  return report.timedOut.length > 0 || report.leftover.length > 0 ? 1 : 0;
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
