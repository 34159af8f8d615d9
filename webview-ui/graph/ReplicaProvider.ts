/**
 * The webview's Yjs replica of the workspace document, synced from the host over the webview
 * message channel. The host is the only writer of the replica's content (it forwards the
 * Engine's updates); the webview never writes into it. What the user changes here (node
 * positions) goes back to the host as `moveNodes` requests, which the Engine applies as a
 * MoveNodes intent; the resulting update then returns through `receive` like any other.
 *
 * Origin tagging: every update from the host is applied with `HOST_ORIGIN`, and the cache
 * (y-indexeddb) applies its own with its persistence object as origin. The provider forwards
 * nothing it received (no echo): only explicit local actions produce requests, and a local
 * transaction on the replica (which would diverge from the host) is counted as a bug, not sent.
 */
import * as Y from 'yjs';
import {
  MAX_MOVE_POSITIONS,
  decodeBase64,
  encodeBase64,
  parseGraphPanelMessage,
  type GraphPanelRequest,
  type GraphPanelStatus,
  type NodePosition,
} from '../../src/core/protocol/graphPanelProtocol';

export const HOST_ORIGIN = 'twinspace:host';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface ReplicaProviderOptions {
  readonly post: (message: GraphPanelRequest) => void;
  readonly onStatus?: (status: GraphPanelStatus) => void;
  readonly onRejected?: (reason: string) => void;
  /** Origins that are allowed to write to the replica besides the host (the IndexedDB cache). */
  readonly trustedOrigins?: readonly unknown[];
}

export class ReplicaProvider {
  private nextId = 1;
  private readonly pending = new Map<number, string>();
  private readonly trusted: Set<unknown>;
  /** Host messages applied. */
  applied = 0;
  /** Messages refused (invalid shape, bad base64, not a Yjs update). */
  rejected = 0;
  /** Transactions on the replica from an origin that is neither the host nor the cache. */
  foreignWrites = 0;
  /** Failed responses from the host (method → error), most recent last. */
  readonly failures: string[] = [];

  constructor(
    readonly doc: Y.Doc,
    private readonly options: ReplicaProviderOptions,
  ) {
    this.trusted = new Set<unknown>([HOST_ORIGIN, ...(options.trustedOrigins ?? [])]);
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (!this.trusted.has(tr.origin) && tr.changed.size > 0) this.foreignWrites += 1;
    });
  }

  /** Lets another origin (the IndexedDB cache, created after the provider) write. */
  trustOrigin(origin: unknown): void {
    this.trusted.add(origin);
  }

  /** The ready handshake: tells the host what the (cached) replica already holds. */
  ready(): void {
    this.request({ method: 'ready', stateVector: encodeBase64(Y.encodeStateVector(this.doc)) });
  }

  /** Asks the host to store positions (chunked to the protocol's bound). Returns requests sent. */
  moveNodes(positions: readonly NodePosition[]): number {
    let sent = 0;
    for (let i = 0; i < positions.length; i += MAX_MOVE_POSITIONS) {
      this.request({ method: 'moveNodes', positions: positions.slice(i, i + MAX_MOVE_POSITIONS) });
      sent++;
    }
    return sent;
  }

  openNode(nodeId: string): void {
    this.request({ method: 'openNode', nodeId });
  }

  /** Handles one message from the host; false when it was refused. Never throws. */
  receive(raw: unknown): boolean {
    const parsed = parseGraphPanelMessage(raw);
    if (!parsed.ok) return this.refuse(parsed.error);
    const message = parsed.value;
    if (message.kind === 'response') {
      const method = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!message.ok) {
        this.failures.push(`${method ?? '?'}: ${message.error ?? 'failed'}`);
        if (this.failures.length > 20) this.failures.shift();
      }
      return true;
    }
    if (message.method === 'status') {
      this.options.onStatus?.(message.status);
      return true;
    }
    const bytes = decodeBase64(message.update);
    if (bytes === undefined) return this.refuse('update is not base64');
    try {
      Y.applyUpdate(this.doc, bytes, HOST_ORIGIN);
    } catch (error) {
      return this.refuse(`update is not a Yjs update: ${String(error)}`);
    }
    this.applied++;
    return true;
  }

  private refuse(reason: string): false {
    this.rejected++;
    this.options.onRejected?.(reason);
    return false;
  }

  private request(message: DistributiveOmit<GraphPanelRequest, 'kind' | 'id'>): void {
    const id = this.nextId++;
    this.pending.set(id, message.method);
    if (this.pending.size > 1000) {
      const oldest = this.pending.keys().next();
      if (oldest.done !== true) this.pending.delete(oldest.value);
    }
    this.options.post({ kind: 'request', id, ...message });
  }
}
