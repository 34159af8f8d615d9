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
  /** Edges: the foreground colour, drawn translucent, so they show on light and dark themes. */
  edge: string;
  /** Edges of the selected or hovered node. */
  edgeFocus: string;
  selected: string;
  hover: string;
  match: string;
  label: string;
  background: string;
  badge: string;
  badgeText: string;
  /** Canvas fonts in the workbench's family and size. */
  font: string;
  fontFocus: string;
  badgeFont: string;
  fontSize: number;
}

/** A label as placed in the last frame (screen coordinates, CSS pixels). */
export interface PlacedLabel {
  readonly id: string;
  readonly text: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
}

/** Grid cells [x0, y0, x1, y1], inclusive. */
type Box = [number, number, number, number];

const MIN_K = 0.05;
const MAX_K = 8;
/** Fit never zooms in further than this (a few nodes would fill the view otherwise). */
const FIT_MAX_K = 1.5;
/** Moves smaller than this (graph units) are not worth storing. */
const STORE_EPSILON = 0.5;
/** Labels longer than this (CSS pixels) are ellipsised; the focused node gets more room. */
const LABEL_MAX_WIDTH = 160;
const LABEL_MAX_WIDTH_FOCUS = 360;
/** Cell size (CSS pixels) of the grid that keeps labels from overlapping. */
const CELL = 8;
/** Up to this many nodes in view, nodes get a halo and labels keep off other nodes. */
const SMALL_VIEW = 300;
const DEFAULT_FONT_FAMILY =
  'system-ui, -apple-system, BlinkMacSystemFont, "Segoe WPC", "Segoe UI", Ubuntu, "Droid Sans", sans-serif';

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v.length > 0 ? v : fallback;
}

/**
 * How many labels (besides the selected, hovered, active and matching nodes) a frame draws at
 * zoom `k`: zoomed out, only the best-connected nodes are named, so thousands of nodes stay
 * readable and cheap to draw.
 */
export function labelBudget(k: number): number {
  if (k >= 0.9) return 250;
  if (k >= 0.45) return 60;
  return 20;
}

/** `text` cut with an ellipsis to fit `max` pixels (binary search on the length). */
function ellipsise(ctx: CanvasRenderingContext2D, text: string, max: number): string {
  if (ctx.measureText(text).width <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= max) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
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
  /** The labels the last frame drew (for tests and measurement). */
  labels: PlacedLabel[] = [];
  /** Nodes by label priority: most links first, then most visits. */
  private ranked: GraphNode[] = [];
  /** Screen grid: cells taken by a label (1), and how many node discs touch each cell. */
  private occupied = new Uint8Array(0);
  private nodeCells = new Uint8Array(0);
  private gridW = 0;
  private gridH = 0;
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
      .force('charge', forceManyBody<GraphNode>().strength(-100).theta(0.9).distanceMax(600))
      .force(
        'link',
        forceLink<GraphNode, GraphLink>([])
          .id((n) => n.id)
          .distance(70)
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
    // A theme change: VS Code sets the colour variables on <html> and the theme kind and id on
    // <body>.
    const themeChanged = new MutationObserver(() => {
      this.palette = this.readPalette();
      this.invalidate();
    });
    themeChanged.observe(document.body, {
      attributes: true,
      attributeFilter: ['class', 'data-vscode-theme-id', 'style'],
    });
    themeChanged.observe(document.documentElement, {
      attributes: true,
      attributeFilter: ['style', 'class'],
    });
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
    if (this.hovered && !this.model.byId.has(this.hovered.id)) this.hovered = undefined;
    this.ranked = [...this.model.nodes].sort(
      (a, b) => b.degree - a.degree || b.visits - a.visits || (a.id < b.id ? -1 : 1),
    );
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
      FIT_MAX_K,
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
    const foreground = cssVar(s, '--vscode-foreground', '#cccccc');
    const family = cssVar(s, '--vscode-font-family', DEFAULT_FONT_FAMILY);
    const size = Number.parseFloat(cssVar(s, '--vscode-font-size', '13px'));
    const fontSize = Number.isFinite(size) && size >= 8 && size <= 32 ? size : 13;
    return {
      cold: cssVar(s, '--vscode-disabledForeground', '#888888'),
      warm: cssVar(s, '--vscode-charts-yellow', '#cca700'),
      active: cssVar(s, '--vscode-charts-green', '#388a34'),
      edge: foreground,
      edgeFocus: cssVar(s, '--vscode-focusBorder', '#0090f1'),
      selected: cssVar(s, '--vscode-focusBorder', '#0090f1'),
      hover: cssVar(s, '--vscode-contrastActiveBorder', foreground),
      match: cssVar(s, '--vscode-editor-findMatchHighlightBorder', '#ea5c00'),
      label: cssVar(s, '--vscode-editor-foreground', foreground),
      background: cssVar(s, '--vscode-editor-background', '#1e1e1e'),
      badge: cssVar(s, '--vscode-badge-background', '#4d4d4d'),
      badgeText: cssVar(s, '--vscode-badge-foreground', '#ffffff'),
      font: `${fontSize}px ${family}`,
      fontFocus: `600 ${fontSize}px ${family}`,
      badgeFont: `600 ${Math.round(fontSize * 0.7)}px ${family}`,
      fontSize,
    };
  }

  /** The colours and fonts in use (tests check that they follow the theme). */
  get style(): { label: string; edge: string; font: string; background: string } {
    const p = this.palette;
    return { label: p.label, edge: p.edge, font: p.font, background: p.background };
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
    ctx.globalAlpha = 1;
    ctx.fillStyle = p.background;
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.setTransform(this.dpr * t.k, 0, 0, this.dpr * t.k, this.dpr * t.x, this.dpr * t.y);
    // Visible region in graph coordinates (culling).
    const x0 = -t.x / t.k - 20;
    const y0 = -t.y / t.k - 20;
    const x1 = (this.width - t.x) / t.k + 20;
    const y1 = (this.height - t.y) / t.k + 20;
    const visible = (n: GraphNode): boolean => n.x >= x0 && n.x <= x1 && n.y >= y0 && n.y <= y1;
    const px = 1 / t.k; // one CSS pixel in graph units
    const sel = this.selected;
    const hov = this.hovered;
    const dim = this.query.length > 0;

    // Edges: translucent foreground (thin), repeated traversals stronger, and the edges of the
    // selected or hovered node in the focus colour.
    const fade = t.k >= 0.6 ? 1 : 0.7;
    for (const pass of [0, 1, 2] as const) {
      ctx.beginPath();
      for (const l of this.model.links) {
        const focus = sel !== undefined && (l.source === sel || l.target === sel);
        const hover = hov !== undefined && (l.source === hov || l.target === hov);
        const level = focus || hover ? 2 : l.count > 1 ? 1 : 0;
        if (level !== pass) continue;
        if (!visible(l.source) && !visible(l.target)) continue;
        ctx.moveTo(l.source.x, l.source.y);
        ctx.lineTo(l.target.x, l.target.y);
      }
      ctx.strokeStyle = pass === 2 ? p.edgeFocus : p.edge;
      ctx.globalAlpha = (pass === 0 ? 0.3 : pass === 1 ? 0.5 : 0.9) * fade * (dim ? 0.5 : 1);
      ctx.lineWidth = (pass === 0 ? 1 : 1.5) * px;
      ctx.stroke();
    }
    ctx.globalAlpha = 1;

    // Nodes, one path per lifecycle colour, with a ring of the background colour so that they
    // stand apart from the edges and from each other.
    const minR = 2 * px;
    let inView = 0;
    for (const n of this.model.nodes) if (visible(n)) inView++;
    if (inView <= SMALL_VIEW) {
      // A few nodes: a halo in the background colour cuts the edges short of each node.
      ctx.beginPath();
      for (const n of this.model.nodes) if (visible(n)) this.shape(n, n.radius + 2 * px);
      ctx.fillStyle = p.background;
      ctx.fill();
    }
    for (const life of ['cold', 'warm', 'active'] as const) {
      ctx.beginPath();
      for (const n of this.model.nodes) {
        if (n.lifecycle !== life || !visible(n)) continue;
        this.shape(n, Math.max(n.radius, minR));
      }
      ctx.globalAlpha = dim ? 0.35 : 1;
      ctx.fillStyle = p[life];
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (dim && this.matches.length > 0) {
      ctx.beginPath();
      for (const n of this.matches) this.shape(n, Math.max(n.radius, minR));
      ctx.fillStyle = p.match;
      ctx.fill();
    }
    // Pinned nodes: a thin ring.
    ctx.beginPath();
    for (const n of this.model.nodes) {
      if (!n.pinned || !visible(n)) continue;
      const r = Math.max(n.radius, minR) + 2.5 * px;
      ctx.moveTo(n.x + r, n.y);
      ctx.arc(n.x, n.y, r, 0, 2 * Math.PI);
    }
    ctx.strokeStyle = p.label;
    ctx.lineWidth = px;
    ctx.stroke();
    if (hov && hov !== sel) {
      ctx.beginPath();
      ctx.arc(hov.x, hov.y, Math.max(hov.radius, minR) + 3 * px, 0, 2 * Math.PI);
      ctx.strokeStyle = p.hover;
      ctx.lineWidth = 1.5 * px;
      ctx.stroke();
    }
    if (sel) {
      ctx.beginPath();
      ctx.arc(sel.x, sel.y, Math.max(sel.radius, minR) + 3.5 * px, 0, 2 * Math.PI);
      ctx.strokeStyle = p.selected;
      ctx.lineWidth = 2 * px;
      ctx.stroke();
    }

    // From here on: screen space (CSS pixels), so text and badges keep their size at any zoom.
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    this.drawBadges(visible);
    this.drawLabels(visible, inView <= SMALL_VIEW);
  }

  /** Other devices' badges (zoomed in enough to read them, and always on the selection). */
  private drawBadges(visible: (n: GraphNode) => boolean): void {
    const { ctx, palette: p, transform: t } = this;
    ctx.font = p.badgeFont;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const badgeR = Math.round(p.fontSize * 0.5);
    for (const n of this.model.nodes) {
      // This device's own editors show as the Warm and Active colours: badges name the others.
      const others = n.devices.filter(([deviceId]) => deviceId !== this.ownDeviceId);
      if (others.length === 0 || !visible(n) || (t.k < 0.6 && n !== this.selected)) continue;
      const sx = n.x * t.k + t.x;
      const sy = n.y * t.k + t.y;
      const r = n.radius * t.k;
      others.slice(0, 3).forEach(([, name], i) => {
        const bx = sx + r * 0.7 + badgeR * (0.6 + 2.1 * i);
        const by = sy - r * 0.7 - badgeR * 0.6;
        ctx.beginPath();
        ctx.arc(bx, by, badgeR + 1, 0, 2 * Math.PI);
        ctx.fillStyle = p.background;
        ctx.fill();
        ctx.beginPath();
        ctx.arc(bx, by, badgeR, 0, 2 * Math.PI);
        ctx.fillStyle = p.badge;
        ctx.fill();
        ctx.fillStyle = p.badgeText;
        ctx.fillText(name.charAt(0).toUpperCase(), bx, by + 0.5);
      });
    }
  }

  /**
   * Labels right of their nodes, never overlapping one another: first the selected, hovered,
   * matching and active nodes, then the best-connected visible nodes, up to a budget that
   * shrinks as the view zooms out.
   */
  private drawLabels(visible: (n: GraphNode) => boolean, avoidNodes: boolean): void {
    const { ctx, palette: p, transform: t } = this;
    const gw = Math.ceil(this.width / CELL) + 1;
    const gh = Math.ceil(this.height / CELL) + 1;
    if (gw !== this.gridW || gh !== this.gridH) {
      this.gridW = gw;
      this.gridH = gh;
      this.occupied = new Uint8Array(gw * gh);
    } else this.occupied.fill(0);

    const focus: GraphNode[] = [];
    const add = (n: GraphNode | undefined): void => {
      if (n && !focus.includes(n)) focus.push(n);
    };
    add(this.selected);
    add(this.hovered);
    for (const n of this.matches.slice(0, 50)) add(n);
    if (focus.length < 60) {
      for (const n of this.ranked) {
        if (n.lifecycle === 'active') add(n);
        if (focus.length >= 60) break;
      }
    }

    const lineH = Math.ceil(p.fontSize * 1.35);
    const placed: PlacedLabel[] = [];
    const strong = new Set<GraphNode>([this.selected, this.hovered].filter((n) => n !== undefined));
    // With few nodes in view, labels also keep off the nodes (other than their own).
    if (this.nodeCells.length !== this.occupied.length) {
      this.nodeCells = new Uint8Array(this.occupied.length);
    } else this.nodeCells.fill(0);
    const discOf = (n: GraphNode): Box | undefined => {
      const r = Math.max(n.radius * t.k, 2) + 1;
      return this.cells(n.x * t.k + t.x - r, n.y * t.k + t.y - r, 2 * r, 2 * r);
    };
    if (avoidNodes) {
      for (const n of this.model.nodes) {
        if (!visible(n)) continue;
        const box = discOf(n);
        if (box) this.mark(this.nodeCells, box, 1);
      }
    }
    const place = (n: GraphNode, force: boolean): boolean => {
      if (!visible(n)) return false;
      const isStrong = strong.has(n);
      const font = isStrong ? p.fontFocus : p.font;
      let d = n.drawn;
      if (d?.font !== font) {
        ctx.font = font;
        const text = ellipsise(ctx, n.display, isStrong ? LABEL_MAX_WIDTH_FOCUS : LABEL_MAX_WIDTH);
        d = { font, text, width: ctx.measureText(text).width };
        n.drawn = d;
      }
      const r = Math.max(n.radius * t.k, 2);
      const sx = n.x * t.k + t.x;
      const sy = n.y * t.k + t.y;
      const w = d.width;
      // Right of the node, else left, below, above; a forced label goes right regardless.
      const candidates: [number, number][] = [
        [sx + r + 4, sy],
        [sx - r - 4 - w, sy],
        [sx - w / 2, sy + r + 2 + lineH / 2],
        [sx - w / 2, sy - r - 2 - lineH / 2],
      ];
      const own = avoidNodes ? discOf(n) : undefined;
      for (const [x, y] of candidates) {
        const box = this.cells(x - 2, y - lineH / 2, w + 4, lineH);
        if (!box) continue;
        if (!this.isFree(box, own)) continue;
        this.mark(this.occupied, box, 1);
        placed.push({ id: n.id, text: d.text, x, y, width: w });
        return true;
      }
      if (!force) return false;
      const [x, y] = candidates[0] ?? [sx, sy];
      const box = this.cells(x - 2, y - lineH / 2, w + 4, lineH);
      if (box) this.mark(this.occupied, box, 1);
      placed.push({ id: n.id, text: d.text, x, y, width: w });
      return true;
    };
    for (const n of focus) place(n, true);
    const focusCount = placed.length;
    // While the layout moves everything, fewer labels: they could not be read anyway.
    let budget = this.settled ? labelBudget(t.k) : Math.min(40, labelBudget(t.k));
    for (const n of this.ranked) {
      if (budget <= 0) break;
      if (focus.includes(n)) continue;
      if (place(n, false)) budget--;
    }

    // A backdrop in the editor background keeps text readable over edges; then the text.
    ctx.beginPath();
    for (const l of placed) ctx.rect(l.x - 2, l.y - lineH / 2, l.width + 4, lineH);
    ctx.globalAlpha = this.query.length > 0 ? 0.85 : 0.7;
    ctx.fillStyle = p.background;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = p.label;
    let font = '';
    placed.forEach((l, i) => {
      const n = i < focusCount ? this.model.byId.get(l.id) : undefined;
      const want = n && strong.has(n) ? p.fontFocus : p.font;
      if (want !== font) {
        ctx.font = want;
        font = want;
      }
      ctx.fillText(l.text, l.x, l.y + 0.5);
    });
    this.labels = placed;
  }

  /** The grid cells under a screen rectangle: [x0, y0, x1, y1], or undefined if off screen. */
  private cells(
    x: number,
    y: number,
    w: number,
    h: number,
  ): [number, number, number, number] | undefined {
    const x0 = Math.floor(x / CELL);
    const y0 = Math.floor(y / CELL);
    const x1 = Math.floor((x + w) / CELL);
    const y1 = Math.floor((y + h) / CELL);
    if (x0 < 0 || y0 < 0 || x1 >= this.gridW || y1 >= this.gridH) return undefined;
    return [x0, y0, x1, y1];
  }

  /**
   * No label in the box, and no node either, except `own` (the cells of the labelled node's
   * own disc, which its label may touch).
   */
  private isFree([x0, y0, x1, y1]: Box, own: Box | undefined): boolean {
    for (let cy = y0; cy <= y1; cy++) {
      const row = cy * this.gridW;
      for (let cx = x0; cx <= x1; cx++) {
        if (this.occupied[row + cx] === 1) return false;
        const nodes = this.nodeCells[row + cx] ?? 0;
        const mine =
          own !== undefined && cx >= own[0] && cx <= own[2] && cy >= own[1] && cy <= own[3];
        if (nodes > (mine ? 1 : 0)) return false;
      }
    }
    return true;
  }

  private mark(grid: Uint8Array, [x0, y0, x1, y1]: Box, by: number): void {
    for (let cy = y0; cy <= y1; cy++) {
      const row = cy * this.gridW;
      for (let cx = x0; cx <= x1; cx++) grid[row + cx] = Math.min(255, (grid[row + cx] ?? 0) + by);
    }
  }

  private shape(n: GraphNode, r: number): void {
    const { ctx } = this;
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
            ? `${node.id}${node.devices.length > 0 ? ` — open on ${node.devices.map(([, n]) => n).join(', ')}` : ''}`
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
