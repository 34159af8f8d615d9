/**
 * The replicated workspace document (Yjs) and the only code that writes to it: the Engine calls
 * `applyReplicatedIntent` for every replicated intent, inside its tick.
 *
 * Layout (top-level shared types of one Y.Doc):
 *  - `graph.nodes`: Y.Map  nodeId → Y.Map { kind, label, visits, pinned, x?, y? (MoveNodes) }
 *  - `graph.edges`: Y.Map  `${from}\u0000${to}` → Y.Map { kind, count }
 *  - `files`:       Y.Map  path → FileEntry (kind, size, hash, executable, deleted, base, by, at;
 *    a plain JSON value, replaced as a whole)
 *  - `devices.editors`: Y.Map deviceId → { deviceName, editors } (JSON, replaced as a whole; see
 *    openEditors.ts, which also validates it on read)
 *  - `devices.git`: Y.Map deviceId → { branch, head } (ReportGitHead; gitHeads.ts validates it)
 *
 * Concurrency notes: `visits` and `count` are plain map values, so two devices incrementing at the
 * same moment converge to one of the two values (last writer wins), not to their sum; they are
 * approximate usage figures. Two devices creating the same node concurrently converge to one of the
 * two node maps. Everything converges; nothing here needs a sum to be exact.
 *
 * Pure and deterministic: imports yjs only; no time, no randomness, no I/O. Invalid input is
 * returned as a rejection, never thrown.
 */
import * as Y from 'yjs';
import type { ResultCode } from './errors';
import type { EdgeKind, Intent, NodeKind } from './intents';
import { applyPublishOpenEditors } from './openEditors';
import { applyReportGitHead } from './gitHeads';
import type { ReplicaSummary } from './state';

export const GRAPH_NODES = 'graph.nodes';
export const GRAPH_EDGES = 'graph.edges';
export const FILES = 'files';

/** Separates the two node ids of an edge key. Node ids may not contain it. */
export const EDGE_KEY_SEPARATOR = '\u0000';

/** Upper bounds on string fields (UTF-16 code units). */
export const MAX_ID_LENGTH = 4096;
export const MAX_LABEL_LENGTH = 1024;
export const MAX_HASH_LENGTH = 256;

const NODE_KINDS: ReadonlySet<string> = new Set<NodeKind>(['file', 'folder', 'url']);
const EDGE_KINDS: ReadonlySet<string> = new Set<EdgeKind>([
  'navigation',
  'definition',
  'link',
  'explicit',
]);

/** Why a replicated intent was refused (the document is unchanged). */
export interface IntentRejection {
  readonly code: ResultCode;
  readonly message: string;
}

/**
 * One path of the replicated file index (a plain JSON value, replaced as a whole: last writer
 * wins per path). `hash` is the SHA-256 of the content this version has (for a tombstone: of the
 * content that was deleted); `base` the hash it replaced, so a device holding something else than
 * `base` knows the change was concurrent with its own (conflict copy for binaries; a delete never
 * removes an edit it did not see). Text content itself lives in the file's own document.
 */
export interface FileEntry {
  readonly size: number;
  readonly hash: string;
  readonly kind?: 'text' | 'binary' | 'dir';
  readonly executable?: boolean;
  readonly deleted?: boolean;
  readonly base?: string;
  readonly by?: string;
  readonly at?: number;
}

/** Reads an index value from a peer as a FileEntry, or undefined when it is malformed. */
export function parseFileEntry(value: unknown): FileEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { size, hash, kind, executable, deleted, base, by, at } = v;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (typeof hash !== 'string' || hash.length === 0 || hash.length > MAX_HASH_LENGTH)
    return undefined;
  if (kind !== undefined && kind !== 'text' && kind !== 'binary' && kind !== 'dir')
    return undefined;
  if (executable !== undefined && typeof executable !== 'boolean') return undefined;
  if (deleted !== undefined && typeof deleted !== 'boolean') return undefined;
  if (base !== undefined && (typeof base !== 'string' || base.length > MAX_HASH_LENGTH))
    return undefined;
  if (by !== undefined && (typeof by !== 'string' || by.length > MAX_LABEL_LENGTH))
    return undefined;
  if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at))) return undefined;
  return {
    size,
    hash,
    ...(kind !== undefined ? { kind } : {}),
    ...(executable !== undefined ? { executable } : {}),
    ...(deleted !== undefined ? { deleted } : {}),
    ...(base !== undefined ? { base } : {}),
    ...(by !== undefined ? { by } : {}),
    ...(at !== undefined ? { at } : {}),
  };
}

export function edgeKey(from: string, to: string): string {
  return `${from}${EDGE_KEY_SEPARATOR}${to}`;
}

export function graphNodes(doc: Y.Doc): Y.Map<Y.Map<unknown>> {
  return doc.getMap<Y.Map<unknown>>(GRAPH_NODES);
}

export function graphEdges(doc: Y.Doc): Y.Map<Y.Map<unknown>> {
  return doc.getMap<Y.Map<unknown>>(GRAPH_EDGES);
}

export function fileIndex(doc: Y.Doc): Y.Map<FileEntry> {
  return doc.getMap<FileEntry>(FILES);
}

/**
 * Applies one replicated intent to `doc`: VisitNode, PinNode and IndexFile as one transaction
 * with `origin`; RemoteUpdateReceived as `Y.applyUpdate(doc, update, origin)`. Called inside an
 * enclosing `doc.transact`, the change joins that transaction (and its origin).
 * Returns `undefined` when applied (or when there was nothing to change), a rejection otherwise.
 */
export function applyReplicatedIntent(
  doc: Y.Doc,
  intent: Intent,
  origin: unknown,
): IntentRejection | undefined {
  switch (intent.type) {
    case 'VisitNode':
      return visitNode(doc, intent, origin);
    case 'PinNode':
      return pinNode(doc, intent, origin);
    case 'MoveNodes':
      return moveNodes(doc, intent, origin);
    case 'PublishOpenEditors':
      return applyPublishOpenEditors(doc, intent, origin);
    case 'ReportGitHead':
      return applyReportGitHead(doc, intent, origin);
    case 'IndexFile':
      return indexFile(doc, intent, origin);
    case 'RemoteUpdateReceived':
      return applyRemoteUpdate(doc, intent, origin);
    case 'WorkerHealthChanged':
    case 'MemorySampled':
    case 'PeerStateChanged':
    case 'PeerWentOffline':
      return reject('internal', `${intent.type} is not a replicated intent`);
  }
}

/** Counts derived from the document (what the published snapshot shows). */
export function summarize(doc: Y.Doc): ReplicaSummary {
  return {
    graphNodes: graphNodes(doc).size,
    graphEdges: graphEdges(doc).size,
    indexedFiles: fileIndex(doc).size,
  };
}

/** The part of a Y.YMapEvent the summary tracker reads. */
interface KeyChanges {
  readonly changes: { readonly keys: ReadonlyMap<string, { readonly action: string }> };
}

/** Keeps the summary current from Yjs map events instead of recounting every map. */
export interface SummaryTracker {
  /** The current counts; the same object until one of them changes. */
  readonly summary: ReplicaSummary;
  /** Stops observing the document. */
  dispose(): void;
}

/**
 * Starts counting the entries of the three top-level maps from their `observe` events (O(changes)
 * per transaction, where `summarize` is O(entries) because Y.Map#size walks the whole map).
 */
export function trackSummary(doc: Y.Doc): SummaryTracker {
  const counts = summarize(doc);
  let graphNodesCount = counts.graphNodes;
  let graphEdgesCount = counts.graphEdges;
  let indexedFilesCount = counts.indexedFiles;
  let current: ReplicaSummary = counts;
  const delta = (event: KeyChanges): number => {
    let d = 0;
    for (const change of event.changes.keys.values()) {
      if (change.action === 'add') d += 1;
      else if (change.action === 'delete') d -= 1;
    }
    return d;
  };
  const refresh = (): void => {
    current = {
      graphNodes: graphNodesCount,
      graphEdges: graphEdgesCount,
      indexedFiles: indexedFilesCount,
    };
  };
  const onNodes = (event: KeyChanges): void => {
    const d = delta(event);
    if (d !== 0) {
      graphNodesCount += d;
      refresh();
    }
  };
  const onEdges = (event: KeyChanges): void => {
    const d = delta(event);
    if (d !== 0) {
      graphEdgesCount += d;
      refresh();
    }
  };
  const onFiles = (event: KeyChanges): void => {
    const d = delta(event);
    if (d !== 0) {
      indexedFilesCount += d;
      refresh();
    }
  };
  graphNodes(doc).observe(onNodes);
  graphEdges(doc).observe(onEdges);
  fileIndex(doc).observe(onFiles);
  return {
    get summary() {
      return current;
    },
    dispose() {
      graphNodes(doc).unobserve(onNodes);
      graphEdges(doc).unobserve(onEdges);
      fileIndex(doc).unobserve(onFiles);
    },
  };
}

/**
 * The document as a plain object with every key sorted: two replicas hold the same content iff
 * `JSON.stringify(workspaceDocToJSON(a)) === JSON.stringify(workspaceDocToJSON(b))`.
 */
export function workspaceDocToJSON(doc: Y.Doc): {
  readonly graph: { readonly nodes: unknown; readonly edges: unknown };
  readonly files: unknown;
} {
  return {
    graph: {
      nodes: sortKeys(graphNodes(doc).toJSON()),
      edges: sortKeys(graphEdges(doc).toJSON()),
    },
    files: sortKeys(fileIndex(doc).toJSON()),
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    out[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return out;
}

function reject(code: ResultCode, message: string): IntentRejection {
  return { code, message };
}

function checkId(what: string, value: unknown): IntentRejection | undefined {
  if (typeof value !== 'string' || value.length === 0) {
    return reject('validation', `${what} must be a non-empty string`);
  }
  if (value.length > MAX_ID_LENGTH) {
    return reject('validation', `${what} is longer than ${MAX_ID_LENGTH} characters`);
  }
  if (value.includes(EDGE_KEY_SEPARATOR)) {
    return reject('validation', `${what} contains a NUL character`);
  }
  return undefined;
}

function visitNode(
  doc: Y.Doc,
  intent: Extract<Intent, { type: 'VisitNode' }>,
  origin: unknown,
): IntentRejection | undefined {
  const bad = checkId('nodeId', intent.nodeId);
  if (bad) return bad;
  const kind: unknown = intent.kind;
  if (typeof kind !== 'string' || !NODE_KINDS.has(kind)) {
    return reject('validation', `unknown node kind ${describe(kind)}`);
  }
  const label: unknown = intent.label;
  if (typeof label !== 'string' || label.length > MAX_LABEL_LENGTH) {
    return reject('validation', `label must be a string of at most ${MAX_LABEL_LENGTH} characters`);
  }
  const from: unknown = intent.from;
  const edge: unknown = intent.edge;
  if (from !== undefined) {
    const badFrom = checkId('from', from);
    if (badFrom) return badFrom;
  }
  if (edge !== undefined && (typeof edge !== 'string' || !EDGE_KINDS.has(edge))) {
    return reject('validation', `unknown edge kind ${describe(edge)}`);
  }
  const nodes = graphNodes(doc);
  if (typeof from === 'string' && from !== intent.nodeId && !nodes.has(from)) {
    return reject('not_found', `edge source node ${JSON.stringify(from)} does not exist`);
  }
  doc.transact(() => {
    const existing = nodes.get(intent.nodeId);
    if (existing === undefined) {
      const node = new Y.Map<unknown>();
      node.set('kind', intent.kind);
      node.set('label', intent.label);
      node.set('visits', 1);
      node.set('pinned', false);
      nodes.set(intent.nodeId, node);
    } else {
      if (existing.get('kind') !== intent.kind) existing.set('kind', intent.kind);
      if (existing.get('label') !== intent.label) existing.set('label', intent.label);
      existing.set('visits', numberOr(existing.get('visits'), 0) + 1);
    }
    // A visit from a node to itself (reload, same-file jump) is not an edge.
    if (typeof from === 'string' && from !== intent.nodeId) {
      const edges = graphEdges(doc);
      const key = edgeKey(from, intent.nodeId);
      const edgeKind = intent.edge ?? 'navigation';
      const current = edges.get(key);
      if (current === undefined) {
        const entry = new Y.Map<unknown>();
        entry.set('kind', edgeKind);
        entry.set('count', 1);
        edges.set(key, entry);
      } else {
        if (current.get('kind') !== edgeKind) current.set('kind', edgeKind);
        current.set('count', numberOr(current.get('count'), 0) + 1);
      }
    }
  }, origin);
  return undefined;
}

function pinNode(
  doc: Y.Doc,
  intent: Extract<Intent, { type: 'PinNode' }>,
  origin: unknown,
): IntentRejection | undefined {
  const bad = checkId('nodeId', intent.nodeId);
  if (bad) return bad;
  const pinned: unknown = intent.pinned;
  if (typeof pinned !== 'boolean') return reject('validation', 'pinned must be a boolean');
  const node = graphNodes(doc).get(intent.nodeId);
  if (node === undefined) {
    return reject('not_found', `node ${JSON.stringify(intent.nodeId)} does not exist`);
  }
  if (node.get('pinned') === pinned) return undefined;
  doc.transact(() => {
    node.set('pinned', pinned);
  }, origin);
  return undefined;
}

/** At most this many positions in one MoveNodes intent; graph coordinates stay within ±MAX_COORDINATE. */
export const MAX_MOVE_NODES = 500;
export const MAX_COORDINATE = 1_000_000;

/**
 * Stores layout positions as `x`/`y` on each node's map (one transaction). Nodes that do not
 * exist (yet, or any more) are skipped; unchanged coordinates are not rewritten. Rejects the
 * whole intent if any entry is malformed.
 */
function moveNodes(
  doc: Y.Doc,
  intent: Extract<Intent, { type: 'MoveNodes' }>,
  origin: unknown,
): IntentRejection | undefined {
  const positions: unknown = intent.positions;
  if (!Array.isArray(positions)) return reject('validation', 'positions must be an array');
  if (positions.length > MAX_MOVE_NODES) {
    return reject('validation', `more than ${MAX_MOVE_NODES} positions in one MoveNodes`);
  }
  const entries = positions as unknown[];
  for (const p of entries) {
    if (typeof p !== 'object' || p === null)
      return reject('validation', 'a position is not an object');
    const { nodeId, x, y } = p as { nodeId?: unknown; x?: unknown; y?: unknown };
    const bad = checkId('nodeId', nodeId);
    if (bad) return bad;
    for (const v of [x, y]) {
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_COORDINATE) {
        return reject('validation', `coordinates must be finite numbers within ±${MAX_COORDINATE}`);
      }
    }
  }
  const nodes = graphNodes(doc);
  const changes: { node: Y.Map<unknown>; x: number; y: number }[] = [];
  for (const p of intent.positions) {
    const node = nodes.get(p.nodeId);
    if (node === undefined) continue;
    if (node.get('x') === p.x && node.get('y') === p.y) continue;
    changes.push({ node, x: p.x, y: p.y });
  }
  if (changes.length === 0) return undefined;
  doc.transact(() => {
    for (const c of changes) {
      if (c.node.get('x') !== c.x) c.node.set('x', c.x);
      if (c.node.get('y') !== c.y) c.node.set('y', c.y);
    }
  }, origin);
  return undefined;
}

function indexFile(
  doc: Y.Doc,
  intent: Extract<Intent, { type: 'IndexFile' }>,
  origin: unknown,
): IntentRejection | undefined {
  const bad = checkId('path', intent.path);
  if (bad) return bad;
  const size: unknown = intent.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    return reject('validation', 'size must be a non-negative integer');
  }
  const hash: unknown = intent.hash;
  if (typeof hash !== 'string' || hash.length === 0 || hash.length > MAX_HASH_LENGTH) {
    return reject('validation', `hash must be a non-empty string of at most ${MAX_HASH_LENGTH}`);
  }
  const { type: _type, path, ...fields } = intent;
  const entry = parseFileEntry(fields);
  if (entry === undefined) return reject('validation', `invalid file entry for ${describe(path)}`);
  const files = fileIndex(doc);
  const current = parseFileEntry(files.get(path));
  if (current !== undefined && sameEntry(current, entry)) return undefined;
  doc.transact(() => {
    files.set(path, entry);
  }, origin);
  return undefined;
}

function sameEntry(a: FileEntry, b: FileEntry): boolean {
  return (
    a.size === b.size &&
    a.hash === b.hash &&
    a.kind === b.kind &&
    a.executable === b.executable &&
    a.deleted === b.deleted &&
    a.base === b.base
  );
}

function applyRemoteUpdate(
  doc: Y.Doc,
  intent: Extract<Intent, { type: 'RemoteUpdateReceived' }>,
  origin: unknown,
): IntentRejection | undefined {
  const peer: unknown = intent.peerId;
  if (typeof peer !== 'string' || peer.length === 0) {
    return reject('validation', 'peerId must be a non-empty string');
  }
  const update: unknown = intent.update;
  if (!(update instanceof Uint8Array) || update.length === 0) {
    return reject('validation', 'update must be a non-empty Uint8Array');
  }
  try {
    Y.applyUpdate(doc, update, origin);
  } catch (error) {
    return reject(
      'validation',
      `update from ${peer} is not a valid Yjs update: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return undefined;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
