/**
 * Which neighbours of the selected graph node the prefetch scheduler warms (Cold → Warm: the
 * document is loaded in the background).
 *
 * Neighbours are the nodes joined to the selected one by an edge in either direction. Only file
 * nodes are warmed (folders and URLs have no document). They are ranked by traversal count (the
 * counts of both directions added), outgoing edges before incoming ones on a tie, then by id. The
 * top `budget` of that ranking is the set that should be warm; the plan is the part of it that is
 * not warm yet, in rank order. Under memory pressure ('elevated' or 'critical') nothing is warmed.
 *
 * Pure and deterministic.
 */
import type { MemoryPressure, NodeKind } from './intents';

export interface PrefetchEdge {
  readonly from: string;
  readonly to: string;
  /** Traversal count (>= 1 for a real edge). */
  readonly count: number;
}

export interface PrefetchInput {
  /** The selected node; nothing to warm when undefined. */
  readonly selected: string | undefined;
  readonly edges: readonly PrefetchEdge[];
  /** The kind of a node, undefined when it is not in the graph. */
  readonly kindOf: (nodeId: string) => NodeKind | undefined;
  /** Already warm (or active): not planned again, but still counts against the budget. */
  readonly isWarm: (nodeId: string) => boolean;
  /** policy.prefetchBudget: how many neighbours may be warm at once (0 = prefetch off). */
  readonly budget: number;
  readonly pressure: MemoryPressure;
  /** Nodes not to try again (a warm that failed for this selection). */
  readonly exclude?: ReadonlySet<string>;
}

export interface RankedNeighbour {
  readonly nodeId: string;
  readonly weight: number;
  readonly outgoing: boolean;
}

/** The file neighbours of `selected`, best first (see the file comment). */
export function rankNeighbours(
  selected: string,
  edges: readonly PrefetchEdge[],
  kindOf: (nodeId: string) => NodeKind | undefined,
): RankedNeighbour[] {
  const byId = new Map<string, { weight: number; outgoing: boolean }>();
  for (const edge of edges) {
    let other: string;
    let outgoing: boolean;
    if (edge.from === selected && edge.to !== selected) {
      other = edge.to;
      outgoing = true;
    } else if (edge.to === selected && edge.from !== selected) {
      other = edge.from;
      outgoing = false;
    } else continue;
    const count = Number.isFinite(edge.count) && edge.count > 0 ? edge.count : 0;
    const entry = byId.get(other) ?? { weight: 0, outgoing: false };
    entry.weight += count;
    entry.outgoing ||= outgoing;
    byId.set(other, entry);
  }
  const ranked: RankedNeighbour[] = [];
  for (const [nodeId, { weight, outgoing }] of byId) {
    if (kindOf(nodeId) !== 'file') continue;
    ranked.push({ nodeId, weight, outgoing });
  }
  ranked.sort(
    (a, b) =>
      b.weight - a.weight ||
      Number(b.outgoing) - Number(a.outgoing) ||
      (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0),
  );
  return ranked;
}

/** The node ids to warm now, in order. Empty under pressure, with no selection or budget 0. */
export function planPrefetch(input: PrefetchInput): string[] {
  if (input.pressure !== 'normal' || input.selected === undefined) return [];
  const budget = Number.isFinite(input.budget) ? Math.max(0, Math.floor(input.budget)) : 0;
  if (budget === 0) return [];
  const exclude = input.exclude;
  return rankNeighbours(input.selected, input.edges, input.kindOf)
    .filter((n) => exclude?.has(n.nodeId) !== true)
    .slice(0, budget)
    .map((n) => n.nodeId)
    .filter((id) => !input.isWarm(id));
}
