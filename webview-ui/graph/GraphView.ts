/**
 * The canvas view of the workspace graph: d3-force layout (ticked from the frame loop), pan,
 * zoom, select, search, open, keyboard access, lifecycle colours from the VS Code theme, and
 * device badges. Draws only when something changed (layout running, view moved, data changed).
 */
import { forceCenter, forceLink, forceManyBody, forceSimulation, type Simulation } from 'd3-force';
import type { NodePosition } from '../../src/core/protocol/graphPanelProtocol';
import type { GraphLink, GraphModel, GraphNode } from './GraphModel';

export interface ViewTransform {
  x: number;
  y: number;
  k: number;
}

export interface GraphViewCallbacks {
  /** The user clicked a node (or pressed Enter on the selection): open it. */
  open(node: GraphNode): void;
  /** Positions to store (after the layout settles, or a node was dragged). */
  storePositions(positions: NodePosition[]): void;
  /** Selection, search or transform changed (to persist with setState). */
  viewChanged(): void;
  /** Announce text for screen readers. */
  announce(text: string): void;
}

interface Palette {
  cold: string;
  warm: string;
  active: string;
  edge: string;
  edgeStrong: string;
  selected: string;
  match: string;
  label: string;
  background: string;
  badge: string;
  badgeText: string;
  ownBadge: string;
}

const MIN_K = 0.05;
const MAX_K = 8;
/** Moves smaller than this (graph units) are not worth storing. */
const STORE_EPSILON = 0.5;

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v.length > 0 ? v : fallback;
}

export class GraphView {
  readonly transform: ViewTransform = { x: 0, y: 0, k: 1 };
  selected: GraphNode | undefined;
  hovered: GraphNode | undefined;
  query = '';
  matches: GraphNode[] = [];
  ownDeviceId = '';
  /** Frames drawn, and work time per frame (ms) for the last frames (measurement). */
  framesDrawn = 0;
  readonly frameWork: number[] = [];
  private readonly simulation: Simulation<GraphNode, GraphLink>;
  private readonly ctx: CanvasRenderingContext2D;
  private palette: Palette;
  private dirty = true;
  private settled = true;
  private width = 1;
  private height = 1;
  private dpr = 1;
  private drag:
    | { kind: 'pan'; startX: number; startY: number; tx: number; ty: number; moved: boolean }
    | { kind: 'node'; node: GraphNode; moved: boolean; startX: number; startY: number }
    | undefined;
  private raf = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly model: GraphModel,
    private readonly callbacks: GraphViewCallbacks,
  ) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('no 2d canvas context');
    this.ctx = ctx;
    this.palette = this.readPalette();
    this.simulation = forceSimulation<GraphNode, GraphLink>([])
      .force('charge', forceManyBody<GraphNode>().strength(-40).theta(0.9).distanceMax(600))
      .force(
        'link',
        forceLink<GraphNode, GraphLink>([])
          .id((n) => n.id)
          .distance(40)
          .strength(0.3),
      )
      .force('center', forceCenter<GraphNode>(0, 0).strength(0.05))
      .alphaDecay(0.03)
      .stop();
    this.attach();
    this.resize();
    new ResizeObserver(() => {
      this.resize();
    }).observe(canvas);
    new MutationObserver(() => {
      this.palette = this.readPalette();
      this.invalidate();
    }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  }

  /** Call after the model was rebuilt. `structural`: nodes or links were added or removed. */
  dataChanged(structural: boolean): void {
    if (structural) {
      this.simulation.nodes(this.model.nodes);
      (this.simulation.force('link') as ReturnType<typeof forceLink<GraphNode, GraphLink>>).links(
        this.model.links,
      );
      if (this.model.nodes.some((n) => n.fx === undefined || n.fx === null)) this.reheat(0.6);
    }
    if (this.selected && !this.model.byId.has(this.selected.id)) this.selected = undefined;
    this.refreshMatches();
    this.invalidate();
  }

  /** Lets every node move again and runs the layout from a high temperature. */
  relayout(): void {
    for (const n of this.model.nodes) {
      n.fx = null;
      n.fy = null;
    }
    this.reheat(1);
  }

  get layoutRunning(): boolean {
    return !this.settled;
  }

  start(): void {
    const loop = (): void => {
      this.raf = requestAnimationFrame(loop);
      this.frame();
    };
    this.raf = requestAnimationFrame(loop);
  }

  stop(): void {
    cancelAnimationFrame(this.raf);
  }

  setTransform(t: ViewTransform): void {
    this.transform.x = t.x;
    this.transform.y = t.y;
    this.transform.k = Math.min(MAX_K, Math.max(MIN_K, t.k));
    this.invalidate();
  }

  setQuery(query: string): void {
    this.query = query.trim().toLowerCase();
    this.refreshMatches();
    this.invalidate();
    this.callbacks.viewChanged();
  }

  select(node: GraphNode | undefined, center = false): void {
    this.selected = node;
    if (node && center) this.centerOn(node);
    if (node) {
      const devices = node.devices.map(([, name]) => name);
      this.callbacks.announce(
        `${node.label}, ${node.kind}, ${node.lifecycle}, ${node.visits} visits${
          devices.length > 0 ? `, open on ${devices.join(', ')}` : ''
        }`,
      );
    }
    this.invalidate();
    this.callbacks.viewChanged();
  }

  centerOn(node: GraphNode): void {
    this.transform.x = this.width / 2 - node.x * this.transform.k;
    this.transform.y = this.height / 2 - node.y * this.transform.k;
    this.invalidate();
  }

  /** Fits every node into the view. */
  fit(): void {
    if (this.model.nodes.length === 0) return;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const n of this.model.nodes) {
      minX = Math.min(minX, n.x);
      minY = Math.min(minY, n.y);
      maxX = Math.max(maxX, n.x);
      maxY = Math.max(maxY, n.y);
    }
    const k = Math.min(
      MAX_K,
      Math.max(
        MIN_K,
        0.9 * Math.min(this.width / (maxX - minX + 40), this.height / (maxY - minY + 40)),
      ),
    );
    this.setTransform({
      k,
      x: this.width / 2 - ((minX + maxX) / 2) * k,
      y: this.height / 2 - ((minY + maxY) / 2) * k,
    });
    this.callbacks.viewChanged();
  }

  /** Screen (CSS pixel, canvas-relative) position of a node. */
  toScreen(node: GraphNode): { x: number; y: number } {
    return {
      x: node.x * this.transform.k + this.transform.x,
      y: node.y * this.transform.k + this.transform.y,
    };
  }

  nodeAt(sx: number, sy: number): GraphNode | undefined {
    const gx = (sx - this.transform.x) / this.transform.k;
    const gy = (sy - this.transform.y) / this.transform.k;
    let best: GraphNode | undefined;
    let bestD = Infinity;
    const slack = 4 / this.transform.k;
    for (const n of this.model.nodes) {
      const dx = n.x - gx;
      const dy = n.y - gy;
      const d = dx * dx + dy * dy;
      const r = n.radius + slack;
      if (d <= r * r && d < bestD) {
        best = n;
        bestD = d;
      }
    }
    return best;
  }

  invalidate(): void {
    this.dirty = true;
  }

  private reheat(alpha: number): void {
    this.simulation.alpha(Math.max(this.simulation.alpha(), alpha));
    this.settled = false;
  }

  private frame(): void {
    const started = performance.now();
    if (!this.settled) {
      this.simulation.tick();
      this.dirty = true;
      if (this.simulation.alpha() < this.simulation.alphaMin()) {
        this.settled = true;
        this.storeSettled();
      }
    }
    if (!this.dirty) return;
    this.dirty = false;
    this.draw();
    this.framesDrawn++;
    this.frameWork.push(performance.now() - started);
    if (this.frameWork.length > 2000) this.frameWork.splice(0, 1000);
  }

  /** After the layout settles: store the positions that are new or moved. */
  private storeSettled(): void {
    const out: NodePosition[] = [];
    for (const n of this.model.nodes) {
      const s = n.stored;
      if (s && Math.abs(s.x - n.x) < STORE_EPSILON && Math.abs(s.y - n.y) < STORE_EPSILON) continue;
      const x = Math.round(n.x * 10) / 10;
      const y = Math.round(n.y * 10) / 10;
      out.push({ nodeId: n.id, x, y });
      // Fixed where it settled; the stored position (back from the host) will say the same.
      n.fx = x;
      n.fy = y;
    }
    if (out.length > 0) this.callbacks.storePositions(out);
  }

  private resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.canvas.width = Math.round(this.width * this.dpr);
    this.canvas.height = Math.round(this.height * this.dpr);
    this.invalidate();
  }

  private readPalette(): Palette {
    const s = getComputedStyle(document.body);
    return {
      cold: cssVar(s, '--vscode-disabledForeground', '#888888'),
      warm: cssVar(s, '--vscode-charts-yellow', '#cca700'),
      active: cssVar(s, '--vscode-charts-green', '#388a34'),
      edge: cssVar(s, '--vscode-editorIndentGuide-background1', '#80808055'),
      edgeStrong: cssVar(s, '--vscode-editorIndentGuide-activeBackground1', '#808080aa'),
      selected: cssVar(s, '--vscode-focusBorder', '#0090f1'),
      match: cssVar(s, '--vscode-editor-findMatchHighlightBorder', '#ea5c00'),
      label: cssVar(s, '--vscode-foreground', '#cccccc'),
      background: cssVar(s, '--vscode-editor-background', '#1e1e1e'),
      badge: cssVar(s, '--vscode-badge-background', '#4d4d4d'),
      badgeText: cssVar(s, '--vscode-badge-foreground', '#ffffff'),
      ownBadge: cssVar(s, '--vscode-charts-blue', '#3794ff'),
    };
  }

  private refreshMatches(): void {
    this.matches =
      this.query.length === 0
        ? []
        : this.model.nodes.filter((n) => n.haystack.includes(this.query)).slice(0, 500);
  }

  private draw(): void {
    const { ctx, palette: p, transform: t } = this;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = p.background;
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.setTransform(this.dpr * t.k, 0, 0, this.dpr * t.k, this.dpr * t.x, this.dpr * t.y);
    // Visible region in graph coordinates (culling).
    const x0 = -t.x / t.k - 20;
    const y0 = -t.y / t.k - 20;
    const x1 = (this.width - t.x) / t.k + 20;
    const y1 = (this.height - t.y) / t.k + 20;
    const visible = (n: GraphNode): boolean => n.x >= x0 && n.x <= x1 && n.y >= y0 && n.y <= y1;

    const sel = this.selected;
    for (const strong of [false, true]) {
      ctx.beginPath();
      for (const l of this.model.links) {
        const isStrong =
          l.count > 1 || (sel !== undefined && (l.source === sel || l.target === sel));
        if (isStrong !== strong) continue;
        if (!visible(l.source) && !visible(l.target)) continue;
        ctx.moveTo(l.source.x, l.source.y);
        ctx.lineTo(l.target.x, l.target.y);
      }
      ctx.strokeStyle = strong ? p.edgeStrong : p.edge;
      ctx.lineWidth = (strong ? 1.6 : 0.8) / Math.sqrt(t.k);
      ctx.stroke();
    }

    const dim = this.query.length > 0;
    const matchSet = dim ? new Set(this.matches) : undefined;
    for (const life of ['cold', 'warm', 'active'] as const) {
      ctx.beginPath();
      for (const n of this.model.nodes) {
        if (n.lifecycle !== life || !visible(n)) continue;
        this.shape(n);
      }
      ctx.globalAlpha = dim ? 0.35 : 1;
      ctx.fillStyle = p[life];
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (matchSet) {
      ctx.beginPath();
      for (const n of matchSet) this.shape(n);
      ctx.fillStyle = p.match;
      ctx.fill();
    }
    // Pinned nodes: a ring.
    ctx.beginPath();
    for (const n of this.model.nodes) {
      if (!n.pinned || !visible(n)) continue;
      ctx.moveTo(n.x + n.radius + 2, n.y);
      ctx.arc(n.x, n.y, n.radius + 2, 0, 2 * Math.PI);
    }
    ctx.strokeStyle = p.label;
    ctx.lineWidth = 1 / t.k;
    ctx.stroke();
    if (sel) {
      ctx.beginPath();
      ctx.arc(sel.x, sel.y, sel.radius + 4 / t.k, 0, 2 * Math.PI);
      ctx.strokeStyle = p.selected;
      ctx.lineWidth = 2.5 / t.k;
      ctx.stroke();
    }

    // Device badges (only when zoomed in enough to read them, and always on the selection).
    ctx.font = `${9 / t.k}px sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const badgeR = 5 / t.k;
    for (const n of this.model.nodes) {
      if (n.devices.length === 0 || !visible(n) || (t.k < 0.6 && n !== sel)) continue;
      n.devices.slice(0, 3).forEach(([deviceId, name], i) => {
        const bx = n.x + n.radius + badgeR * (1 + 2.2 * i);
        const by = n.y - n.radius - badgeR * 0.5;
        ctx.beginPath();
        ctx.arc(bx, by, badgeR, 0, 2 * Math.PI);
        ctx.fillStyle = deviceId === this.ownDeviceId ? p.ownBadge : p.badge;
        ctx.fill();
        ctx.fillStyle = p.badgeText;
        ctx.fillText(name.charAt(0).toUpperCase(), bx, by);
      });
    }

    // Labels: when zoomed in, plus the selection, hover and search matches.
    ctx.font = `${11 / t.k}px sans-serif`;
    ctx.textAlign = 'left';
    ctx.fillStyle = p.label;
    const labelled = new Set<GraphNode>();
    if (sel) labelled.add(sel);
    if (this.hovered) labelled.add(this.hovered);
    for (const n of this.matches.slice(0, 50)) labelled.add(n);
    if (t.k >= 1.2) {
      let budget = 300;
      for (const n of this.model.nodes) {
        if (budget <= 0) break;
        if (visible(n)) {
          labelled.add(n);
          budget--;
        }
      }
    }
    for (const n of labelled) {
      if (!visible(n)) continue;
      ctx.fillText(n.label, n.x + n.radius + 3 / t.k, n.y + n.radius + 6 / t.k);
    }
  }

  private shape(n: GraphNode): void {
    const { ctx } = this;
    const r = n.radius;
    if (n.kind === 'folder') {
      ctx.rect(n.x - r, n.y - r, 2 * r, 2 * r);
    } else if (n.kind === 'url') {
      ctx.moveTo(n.x, n.y - r - 1);
      ctx.lineTo(n.x + r + 1, n.y);
      ctx.lineTo(n.x, n.y + r + 1);
      ctx.lineTo(n.x - r - 1, n.y);
      ctx.closePath();
    } else {
      ctx.moveTo(n.x + r, n.y);
      ctx.arc(n.x, n.y, r, 0, 2 * Math.PI);
    }
  }

  private local(e: MouseEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  private attach(): void {
    const c = this.canvas;
    c.addEventListener('pointerdown', (e) => {
      const at = this.local(e);
      const node = this.nodeAt(at.x, at.y);
      c.setPointerCapture(e.pointerId);
      this.drag = node
        ? { kind: 'node', node, moved: false, startX: at.x, startY: at.y }
        : {
            kind: 'pan',
            startX: at.x,
            startY: at.y,
            tx: this.transform.x,
            ty: this.transform.y,
            moved: false,
          };
    });
    c.addEventListener('pointermove', (e) => {
      const at = this.local(e);
      const d = this.drag;
      if (!d) {
        const node = this.nodeAt(at.x, at.y);
        if (node !== this.hovered) {
          this.hovered = node;
          c.style.cursor = node ? 'pointer' : 'grab';
          c.title = node
            ? `${node.label}${node.devices.length > 0 ? ` — open on ${node.devices.map(([, n]) => n).join(', ')}` : ''}`
            : '';
          this.invalidate();
        }
        return;
      }
      if (Math.abs(at.x - d.startX) + Math.abs(at.y - d.startY) > 3) d.moved = true;
      if (!d.moved) return;
      if (d.kind === 'pan') {
        this.transform.x = d.tx + at.x - d.startX;
        this.transform.y = d.ty + at.y - d.startY;
      } else {
        const gx = (at.x - this.transform.x) / this.transform.k;
        const gy = (at.y - this.transform.y) / this.transform.k;
        d.node.fx = gx;
        d.node.fy = gy;
        d.node.x = gx;
        d.node.y = gy;
        this.reheat(0.1);
      }
      this.invalidate();
    });
    const end = (e: PointerEvent): void => {
      const d = this.drag;
      this.drag = undefined;
      if (c.hasPointerCapture(e.pointerId)) c.releasePointerCapture(e.pointerId);
      if (!d) return;
      if (d.kind === 'pan') {
        if (!d.moved) this.select(undefined);
        else this.callbacks.viewChanged();
        return;
      }
      if (d.moved) {
        const x = Math.round(d.node.x * 10) / 10;
        const y = Math.round(d.node.y * 10) / 10;
        d.node.fx = x;
        d.node.fy = y;
        this.callbacks.storePositions([{ nodeId: d.node.id, x, y }]);
      } else {
        this.select(d.node);
        this.callbacks.open(d.node);
      }
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const at = this.local(e);
        this.zoomAt(at.x, at.y, Math.exp(-e.deltaY * 0.0015));
      },
      { passive: false },
    );
    c.addEventListener('keydown', (e) => {
      this.onKey(e);
    });
  }

  zoomAt(sx: number, sy: number, factor: number): void {
    const t = this.transform;
    const k = Math.min(MAX_K, Math.max(MIN_K, t.k * factor));
    t.x = sx - ((sx - t.x) * k) / t.k;
    t.y = sy - ((sy - t.y) * k) / t.k;
    t.k = k;
    this.invalidate();
    this.callbacks.viewChanged();
  }

  /** Keyboard: arrows move the selection through matches (or neighbours), Enter opens. */
  onKey(e: KeyboardEvent): void {
    const step = 60;
    const t = this.transform;
    switch (e.key) {
      case 'Enter':
        if (this.selected) this.callbacks.open(this.selected);
        break;
      case 'Escape':
        this.select(undefined);
        break;
      case '+':
      case '=':
        this.zoomAt(this.width / 2, this.height / 2, 1.25);
        break;
      case '-':
        this.zoomAt(this.width / 2, this.height / 2, 0.8);
        break;
      case 'f':
        this.fit();
        break;
      case 'ArrowDown':
      case 'ArrowUp':
      case 'ArrowLeft':
      case 'ArrowRight':
        if (e.shiftKey) {
          if (e.key === 'ArrowLeft') t.x += step;
          if (e.key === 'ArrowRight') t.x -= step;
          if (e.key === 'ArrowUp') t.y += step;
          if (e.key === 'ArrowDown') t.y -= step;
          this.invalidate();
          this.callbacks.viewChanged();
        } else {
          this.cycle(e.key === 'ArrowDown' || e.key === 'ArrowRight' ? 1 : -1);
        }
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  /** Moves the selection to the next search match, or the next neighbour of the selection. */
  cycle(direction: 1 | -1): void {
    let ring: GraphNode[];
    if (this.matches.length > 0) ring = this.matches;
    else if (this.selected) {
      const s = this.selected;
      ring = [s];
      for (const l of this.model.links) {
        if (l.source === s) ring.push(l.target);
        else if (l.target === s) ring.push(l.source);
      }
    } else ring = [...this.model.nodes].sort((a, b) => b.visits - a.visits);
    if (ring.length === 0) return;
    const i = this.selected ? ring.indexOf(this.selected) : -1;
    const next = ring[(i + direction + ring.length) % ring.length];
    this.select(next, true);
  }
}
