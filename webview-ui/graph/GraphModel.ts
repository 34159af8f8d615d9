/**
 * Reads the replica (Y.Doc) into plain arrays for the layout and the renderer. The replica's
 * content comes from other devices through the host, so every field is checked here: anything
 * malformed is skipped, never trusted. Node objects are kept across rebuilds (same id → same
 * object), so the force layout continues instead of restarting.
 *
 * Layout of the document: see src/core/workspaceDoc.ts (`graph.nodes`, `graph.edges`, and the
 * per-device open editors in `devices.editors`, whose values are JSON objects).
 */
import type { SimulationLinkDatum, SimulationNodeDatum } from 'd3-force';
import type * as Y from 'yjs';
import type { NodeLifecycle } from '../../src/core/protocol/graphPanelProtocol';

export type GraphNodeKind = 'file' | 'folder' | 'url';

export interface GraphNode extends SimulationNodeDatum {
  readonly id: string;
  kind: GraphNodeKind;
  label: string;
  /** Lower-cased label and id, for search. */
  haystack: string;
  visits: number;
  pinned: boolean;
  /** The position stored in the replica (synced across devices), if any. */
  stored: { x: number; y: number } | undefined;
  /** Devices that have this file open: [deviceId, deviceName]. */
  devices: [string, string][];
  lifecycle: NodeLifecycle;
  radius: number;
  /** Links to or from this node (for which labels to show first when zoomed out). */
  degree: number;
  /** The text drawn next to the node: file name (parent/name when ambiguous) or host+path. */
  display: string;
  /** The display text as drawn (ellipsised) for one canvas font; the view fills it in. */
  drawn: { font: string; text: string; width: number } | undefined;
  x: number;
  y: number;
}

export interface GraphLink extends SimulationLinkDatum<GraphNode> {
  readonly key: string;
  source: GraphNode;
  target: GraphNode;
  kind: string;
  count: number;
}

const NODE_KINDS = new Set(['file', 'folder', 'url']);
const MAX_LABEL = 1024;

function isYMap(x: unknown): x is Y.Map<unknown> {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { get?: unknown }).get === 'function' &&
    typeof (x as { forEach?: unknown }).forEach === 'function'
  );
}

function finite(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/** Node radius in graph units (CSS pixels at zoom 1): 6.5 for one visit, up to 8. */
export function nodeRadius(visits: number): number {
  return 6 + Math.min(2, Math.log2(visits + 1) / 2);
}

function lastSegment(path: string): string {
  const parts = path.split('/').filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/**
 * The short name drawn next to a node: for a URL its host and path (no scheme, query or
 * trailing slash), else the last path segment of the label (the file or folder name).
 */
export function displayName(kind: GraphNodeKind, id: string, label: string): string {
  if (kind === 'url') {
    try {
      const u = new URL(id);
      if (u.host.length > 0) {
        const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
        return `${u.host.replace(/^www\./, '')}${path}`;
      }
    } catch {
      // Not a URL after all: the label is all there is.
    }
    return label;
  }
  return lastSegment(label);
}

export class GraphModel {
  nodes: GraphNode[] = [];
  links: GraphLink[] = [];
  readonly byId = new Map<string, GraphNode>();
  private lifecycle: Readonly<Record<string, NodeLifecycle>> = {};
  private seed = 1;

  constructor(private readonly doc: Y.Doc) {}

  /** Re-reads the replica. Returns true if the set of nodes or links changed. */
  rebuild(): boolean {
    const nodesMap = this.doc.getMap<unknown>('graph.nodes');
    const edgesMap = this.doc.getMap<unknown>('graph.edges');
    const next = new Map<string, GraphNode>();
    let structural = false;
    nodesMap.forEach((value, id) => {
      if (!isYMap(value) || id.length === 0 || id.length > 4096) return;
      const kindRaw = value.get('kind');
      const kind: GraphNodeKind =
        typeof kindRaw === 'string' && NODE_KINDS.has(kindRaw)
          ? (kindRaw as GraphNodeKind)
          : 'file';
      const labelRaw = value.get('label');
      const label =
        typeof labelRaw === 'string' && labelRaw.length > 0
          ? labelRaw.slice(0, MAX_LABEL)
          : id.slice(0, MAX_LABEL);
      const visits = Math.max(0, finite(value.get('visits')) ?? 0);
      const x = finite(value.get('x'));
      const y = finite(value.get('y'));
      const stored = x !== undefined && y !== undefined ? { x, y } : undefined;
      let node = this.byId.get(id);
      if (node === undefined) {
        structural = true;
        const start = stored ?? this.placeNew();
        node = {
          id,
          kind,
          label,
          haystack: `${label}\n${id}`.toLowerCase(),
          visits,
          pinned: value.get('pinned') === true,
          stored,
          devices: [],
          lifecycle: this.lifecycle[id] ?? 'cold',
          radius: nodeRadius(visits),
          degree: 0,
          display: label,
          drawn: undefined,
          x: start.x,
          y: start.y,
        };
        if (stored) {
          node.fx = stored.x;
          node.fy = stored.y;
        }
      } else {
        node.kind = kind;
        if (node.label !== label) {
          node.label = label;
          node.haystack = `${label}\n${id}`.toLowerCase();
        }
        node.visits = visits;
        node.radius = nodeRadius(visits);
        node.pinned = value.get('pinned') === true;
        const moved =
          stored !== undefined &&
          (node.stored === undefined || node.stored.x !== stored.x || node.stored.y !== stored.y);
        node.stored = stored;
        // A position stored by any device (this one included) fixes the node there.
        if (moved) {
          node.x = stored.x;
          node.y = stored.y;
          node.fx = stored.x;
          node.fy = stored.y;
        }
      }
      next.set(id, node);
    });
    if (next.size !== this.byId.size) structural = true;
    this.byId.clear();
    for (const [id, node] of next) this.byId.set(id, node);
    this.nodes = [...next.values()];

    const oldLinks = new Map(this.links.map((l) => [l.key, l]));
    const links: GraphLink[] = [];
    edgesMap.forEach((value, key) => {
      if (!isYMap(value)) return;
      const sep = key.indexOf('\u0000');
      if (sep <= 0) return;
      const source = next.get(key.slice(0, sep));
      const target = next.get(key.slice(sep + 1));
      if (!source || !target || source === target) return;
      const kindRaw = value.get('kind');
      const kind = typeof kindRaw === 'string' ? kindRaw.slice(0, 32) : 'navigation';
      const count = Math.max(1, finite(value.get('count')) ?? 1);
      const old = oldLinks.get(key);
      if (old && old.source === source && old.target === target) {
        old.kind = kind;
        old.count = count;
        links.push(old);
      } else {
        structural = true;
        links.push({ key, source, target, kind, count });
      }
    });
    if (links.length !== this.links.length) structural = true;
    this.links = links;
    for (const node of this.nodes) node.degree = 0;
    for (const l of links) {
      l.source.degree++;
      l.target.degree++;
    }
    this.updateDisplayNames();
    this.readDevices();
    return structural;
  }

  /** Display names; two files with the same name get their parent folder in front. */
  private updateDisplayNames(): void {
    const base = new Map<GraphNode, string>();
    const seen = new Map<string, number>();
    for (const node of this.nodes) {
      const name = displayName(node.kind, node.id, node.label);
      base.set(node, name);
      if (node.kind !== 'url') seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    for (const node of this.nodes) {
      let name = base.get(node) ?? node.label;
      if (node.kind !== 'url' && (seen.get(name) ?? 0) > 1) {
        const parts = node.id.split('/').filter((p) => p.length > 0);
        const parent = parts[parts.length - 2];
        if (parent !== undefined) name = `${parent}/${name}`;
      }
      if (node.display !== name) {
        node.display = name;
        node.drawn = undefined;
      }
    }
  }

  /** Applies the host's lifecycle map (nodes not listed are Cold). */
  setLifecycle(lifecycle: Readonly<Record<string, NodeLifecycle>>): void {
    this.lifecycle = lifecycle;
    for (const node of this.nodes) node.lifecycle = lifecycle[node.id] ?? 'cold';
  }

  /** Device badges from `devices.editors`: deviceId → { deviceName, ...tabs with `path` }. */
  private readDevices(): void {
    for (const node of this.nodes) node.devices = [];
    const editors = this.doc.getMap<unknown>('devices.editors');
    editors.forEach((value, deviceId) => {
      const plain: unknown = isYMap(value) ? value.toJSON() : value;
      if (typeof plain !== 'object' || plain === null) return;
      const nameRaw = (plain as Record<string, unknown>)['deviceName'];
      const name =
        typeof nameRaw === 'string' && nameRaw.length > 0
          ? nameRaw.slice(0, 64)
          : deviceId.slice(0, 8);
      const paths = new Set<string>();
      collectPaths(plain, paths, 0);
      for (const p of paths) {
        const node = this.byId.get(p);
        if (node && !node.devices.some(([id]) => id === deviceId))
          node.devices.push([deviceId, name]);
      }
    });
  }

  /** A deterministic spread for nodes without a stored position (golden-angle spiral). */
  private placeNew(): { x: number; y: number } {
    const i = this.seed++;
    const r = 12 * Math.sqrt(i);
    const a = i * 2.399963;
    return { x: r * Math.cos(a), y: r * Math.sin(a) };
  }
}

/** Collects string values under `path` keys (bounded depth and count). */
function collectPaths(value: unknown, out: Set<string>, depth: number): void {
  if (depth > 6 || out.size > 5000 || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const v of value.slice(0, 2000)) collectPaths(v, out, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'path' && typeof v === 'string') out.add(v);
    else if (typeof v === 'object') collectPaths(v, out, depth + 1);
  }
}
