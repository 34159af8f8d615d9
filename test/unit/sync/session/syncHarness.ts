/**
 * In-process SyncWorkers for unit tests: each node has its own RegistryRuntime (Engine + WAL in a
 * temp folder), identity and TrustStore, and nodes dial each other over MemoryDuplex pairs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Clock } from '../../../../src/runtime/Clock';
import type { DiagnosticEvent } from '../../../../src/runtime/Diagnostics';
import { RegistryRuntime } from '../../../../src/runtime/RegistryRuntime';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import {
  SyncWorker,
  type PeerAddress,
  type SyncWorkerOptions,
} from '../../../../src/sync/SyncWorker';
import {
  MemoryDuplex,
  type MemoryDuplexOptions,
} from '../../../../src/sync/transport/MemoryDuplex';
import type { Transport } from '../../../../src/sync/transport/Transport';
import { TrustStore, type WorkspaceGrant } from '../../../../src/sync/trust/TrustStore';

export interface Node {
  readonly index: number;
  readonly address: PeerAddress;
  readonly identity: DeviceIdentity;
  readonly dir: string;
  runtime: RegistryRuntime;
  trust: TrustStore;
  worker: SyncWorker;
  readonly events: DiagnosticEvent[];
  /** The far ends of connections this node dialed or accepted, newest last. */
  readonly links: { peer: number; local: MemoryDuplex; remote: MemoryDuplex }[];
}

export type WorkerOverrides = Partial<
  Omit<SyncWorkerOptions, 'identity' | 'trust' | 'doc' | 'connect'>
>;

export class MemoryNetwork {
  readonly nodes: Node[] = [];
  /** Links that are cut: [a, b] with a < b; connect attempts between them fail. */
  readonly cut = new Set<string>();
  private readonly dirs: string[] = [];

  constructor(private readonly duplexOptions: MemoryDuplexOptions = {}) {}

  async addNode(
    overrides: WorkerOverrides = {},
    identity = DeviceIdentity.generate(),
  ): Promise<Node> {
    const index = this.nodes.length;
    const dir = mkdtempSync(path.join(tmpdir(), `twinspace-sync-${index}-`));
    this.dirs.push(dir);
    const events: DiagnosticEvent[] = [];
    const node: Node = {
      index,
      address: { host: 'mem', port: index + 1 },
      identity,
      dir,
      events,
      links: [],
      runtime: undefined as unknown as RegistryRuntime,
      trust: undefined as unknown as TrustStore,
      worker: undefined as unknown as SyncWorker,
    };
    this.nodes.push(node);
    await this.start(node, overrides);
    return node;
  }

  /** (Re)starts a node's runtime and worker on its state folder. */
  async start(node: Node, overrides: WorkerOverrides = {}): Promise<void> {
    node.runtime = await RegistryRuntime.start({
      stateDir: path.join(node.dir, 'state'),
      memoryMonitor: false,
      sinks: [(event) => node.events.push(event)],
    });
    node.trust = await TrustStore.open(path.join(node.dir, 'trust.json'));
    node.worker = new SyncWorker({
      identity: node.identity,
      trust: node.trust,
      doc: node.runtime.engine,
      deviceName: `node${node.index}`,
      backoff: { initialMs: 5, maxMs: 40, factor: 2 },
      connect: (address) => this.connect(node, address),
      ...overrides,
    });
    node.runtime.onEffect(node.worker.handleEffect);
    node.runtime.addWorker(node.worker);
  }

  async stop(node: Node): Promise<void> {
    await node.runtime.shutdown(3000);
    await node.trust.close();
  }

  connect(from: Node, address: PeerAddress): Promise<Transport> {
    const target = this.nodes.find((n) => n.address.port === address.port);
    if (target === undefined) return Promise.reject(new Error('no such node'));
    if (this.cut.has(linkKey(from.index, target.index))) {
      return Promise.reject(new Error('link is cut'));
    }
    const [a, b] = MemoryDuplex.pair(this.duplexOptions);
    from.links.push({ peer: target.index, local: a, remote: b });
    target.links.push({ peer: from.index, local: b, remote: a });
    target.worker.accept(b);
    return Promise.resolve(a);
  }

  /** Cuts the link between two nodes: live connections die, new ones fail. */
  cutLink(a: number, b: number): void {
    this.cut.add(linkKey(a, b));
    for (const link of this.nodes[a]?.links ?? []) {
      if (link.peer === b) link.local.destroy(new Error('link cut'));
    }
  }

  healLink(a: number, b: number): void {
    this.cut.delete(linkKey(a, b));
  }

  async trustEachOther(a: Node, b: Node, grantOfB: WorkspaceGrant = 'read-write'): Promise<void> {
    await a.trust.add({
      deviceId: b.identity.deviceId,
      name: `node${b.index}`,
      publicKey: b.identity.publicKey,
      defaultGrant: grantOfB,
    });
    await b.trust.add({
      deviceId: a.identity.deviceId,
      name: `node${a.index}`,
      publicKey: a.identity.publicKey,
    });
  }

  async dispose(): Promise<void> {
    for (const node of this.nodes) {
      if (!node.runtime.isShutDown()) await node.runtime.shutdown(3000).catch(() => undefined);
      await node.trust.close().catch(() => undefined);
    }
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

function linkKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** Polls `condition` (real time, bounded); throws with `what` when it never holds. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 8000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function docOf(node: Node): string {
  return JSON.stringify(node.runtime.engine.docJSON());
}

export async function visit(node: Node, nodeId: string, label = nodeId): Promise<void> {
  await node.runtime.dispatch({ type: 'VisitNode', nodeId, kind: 'file', label }, 'LocalUI');
}

export function converged(nodes: readonly Node[]): boolean {
  const first = nodes[0];
  if (first === undefined) return true;
  const doc = docOf(first);
  return nodes.every((n) => docOf(n) === doc);
}

export function channelEvents(node: Node, channel: string): DiagnosticEvent[] {
  return node.events.filter((e) => e.channel === channel);
}

export type { Clock };
