/**
 * webview-ui/graph: the Workspace Graph webview (browser code). Holds a Yjs replica of the
 * workspace document, synced from the host over the typed protocol in
 * src/core/protocol/graphPanelProtocol.ts and cached in IndexedDB (y-indexeddb) so that
 * reopening paints at once, before the host answers. View state (pan/zoom, selection, search) is
 * kept with getState/setState.
 *
 * The host page sets `data-replica` on <body>: the IndexedDB database name for this workspace.
 */
import { IndexeddbPersistence } from 'y-indexeddb';
import * as Y from 'yjs';
import type { GraphPanelRequest } from '../../src/core/protocol/graphPanelProtocol';
import { GraphModel } from './GraphModel';
import type { GraphTestHook } from './GraphTestHook';
import { GraphView, type ViewTransform } from './GraphView';
import { ReplicaProvider } from './ReplicaProvider';

interface VsCodeApi {
  postMessage(message: GraphPanelRequest): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface SavedState {
  transform: ViewTransform;
  selected?: string;
  query: string;
}

function isSavedState(x: unknown): x is SavedState {
  if (typeof x !== 'object' || x === null) return false;
  const t = (x as { transform?: unknown }).transform;
  if (typeof t !== 'object' || t === null) return false;
  const { x: tx, y: ty, k } = t as Record<string, unknown>;
  return (
    [tx, ty, k].every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    typeof (x as { query?: unknown }).query === 'string'
  );
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

const vscode = acquireVsCodeApi();
const app = document.getElementById('app') ?? document.body;
const search = el('input', {
  type: 'search',
  placeholder: 'Search nodes',
  'aria-label': 'Search the workspace graph',
  'data-testid': 'graph-search',
});
const relayoutButton = el(
  'button',
  { type: 'button', 'data-testid': 'graph-relayout', title: 'Run the layout again' },
  'Re-layout',
);
const fitButton = el(
  'button',
  { type: 'button', 'data-testid': 'graph-fit', title: 'Fit the graph in view (F)' },
  'Fit',
);
const stats = el(
  'span',
  { class: 'muted', 'data-testid': 'graph-stats', 'aria-live': 'off' },
  'Loading…',
);
const legend = el(
  'span',
  { class: 'legend' },
  el('span', { class: 'dot cold' }),
  'Cold ',
  el('span', { class: 'dot warm' }),
  'Warm ',
  el('span', { class: 'dot active' }),
  'Active',
);
const canvas = el('canvas', {
  tabindex: '0',
  role: 'application',
  'data-testid': 'graph-canvas',
  'aria-label':
    'Workspace graph. Arrow keys move the selection (through search matches, or to neighbours), Enter opens, plus and minus zoom, Shift with arrows pans, F fits.',
});
const live = el('div', {
  class: 'sr-only',
  'aria-live': 'polite',
  'data-testid': 'graph-announce',
});
app.replaceChildren(
  el('div', { class: 'toolbar' }, search, fitButton, relayoutButton, legend, stats),
  canvas,
  live,
);

const doc = new Y.Doc();
const model = new GraphModel(doc);
let paintedFrom: 'none' | 'cache' | 'host' = 'none';
let saveTimer: ReturnType<typeof setTimeout> | undefined;

const provider = new ReplicaProvider(doc, {
  post: (m) => {
    vscode.postMessage(m);
  },
  onStatus: (status) => {
    view.ownDeviceId = status.deviceId;
    model.setLifecycle(status.lifecycle);
    view.invalidate();
  },
  onRejected: (reason) => {
    console.warn(`Twinspace graph: host message rejected: ${reason}`);
  },
});

const view = new GraphView(canvas, model, {
  open: (node) => {
    provider.openNode(node.id);
  },
  storePositions: (positions) => {
    provider.moveNodes(positions);
  },
  viewChanged: () => {
    if (saveTimer !== undefined) clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      const state: SavedState = {
        transform: { ...view.transform },
        query: search.value,
        ...(view.selected ? { selected: view.selected.id } : {}),
      };
      vscode.setState(state);
    }, 200);
  },
  announce: (text) => {
    live.textContent = text;
  },
});

function refresh(from: 'cache' | 'host'): void {
  const structural = model.rebuild();
  view.dataChanged(structural);
  if (model.nodes.length > 0 && paintedFrom === 'none') paintedFrom = from;
  stats.textContent = `${model.nodes.length} nodes · ${model.links.length} edges`;
  stats.dataset['nodes'] = String(model.nodes.length);
  stats.dataset['source'] = paintedFrom;
}

// Coalesce replica changes to one rebuild per frame.
let pendingRefresh: 'cache' | 'host' | undefined;
doc.on('update', (_update: Uint8Array, origin: unknown) => {
  const from = origin === persistence ? 'cache' : 'host';
  if (pendingRefresh === undefined) {
    requestAnimationFrame(() => {
      const f = pendingRefresh ?? 'host';
      pendingRefresh = undefined;
      refresh(f);
    });
  }
  pendingRefresh = pendingRefresh === 'cache' ? 'cache' : from;
});

const replicaName = document.body.dataset['replica'] ?? 'twinspace-graph';
const persistence = new IndexeddbPersistence(replicaName, doc);
provider.trustOrigin(persistence);

const saved = vscode.getState();
if (isSavedState(saved)) {
  view.setTransform(saved.transform);
  search.value = saved.query;
  view.setQuery(saved.query);
} else {
  view.setTransform({ x: canvas.clientWidth / 2, y: canvas.clientHeight / 2, k: 1 });
}

const cacheLoaded = Promise.race([
  persistence.whenSynced.then(() => undefined),
  new Promise<void>((resolve) => setTimeout(resolve, 1500)),
]).then(() => {
  refresh('cache');
  if (isSavedState(saved) && saved.selected !== undefined) {
    const node = model.byId.get(saved.selected);
    if (node) view.select(node);
  }
  // Now the replica holds the cache: tell the host what it has (ready handshake).
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    provider.receive(event.data);
  });
  provider.ready();
});

search.addEventListener('input', () => {
  view.setQuery(search.value);
});
search.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === 'ArrowDown') {
    e.preventDefault();
    if (e.key === 'Enter' && view.selected && view.matches.includes(view.selected)) {
      provider.openNode(view.selected.id);
      return;
    }
    view.cycle(1);
  } else if (e.key === 'Escape') {
    search.value = '';
    view.setQuery('');
  }
});
relayoutButton.addEventListener('click', () => {
  view.relayout();
});
fitButton.addEventListener('click', () => {
  view.fit();
});
view.start();

const hook: GraphTestHook = {
  cacheLoaded,
  stats: () => ({
    nodes: model.nodes.length,
    edges: model.links.length,
    applied: provider.applied,
    rejected: provider.rejected,
    foreignWrites: provider.foreignWrites,
    layoutRunning: view.layoutRunning,
    framesDrawn: view.framesDrawn,
    selected: view.selected?.id,
    matches: view.matches.length,
    paintedFrom,
  }),
  nodeScreen: (id) => {
    const node = model.byId.get(id);
    if (!node) return undefined;
    const p = view.toScreen(node);
    const rect = canvas.getBoundingClientRect();
    return { x: p.x + rect.left, y: p.y + rect.top };
  },
  nodeInfo: (id) => {
    const node = model.byId.get(id);
    return node
      ? {
          lifecycle: node.lifecycle,
          devices: node.devices.map(([, name]) => name),
          x: node.x,
          y: node.y,
        }
      : undefined;
  },
  frameWork: () => [...view.frameWork],
  labels: () => {
    const rect = canvas.getBoundingClientRect();
    return view.labels.map((l) => ({ ...l, x: l.x + rect.left, y: l.y + rect.top }));
  },
  style: () => view.style,
  hovered: () => view.hovered?.id,
  relayout: () => {
    view.relayout();
  },
};
(window as unknown as { twinspaceGraph: GraphTestHook }).twinspaceGraph = hook;
