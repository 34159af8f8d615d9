/**
 * What the Workspace Graph webview exposes on `window.twinspaceGraph` for tests (browser, e2e):
 * counts and positions, never a way to write. No DOM types here: the Node-side tests import it.
 */
import type { NodeLifecycle } from '../../src/core/protocol/graphPanelProtocol';

export interface GraphTestHook {
  readonly cacheLoaded: Promise<void>;
  stats(): {
    nodes: number;
    edges: number;
    applied: number;
    rejected: number;
    foreignWrites: number;
    layoutRunning: boolean;
    framesDrawn: number;
    selected: string | undefined;
    matches: number;
    paintedFrom: 'none' | 'cache' | 'host';
  };
  nodeScreen(id: string): { x: number; y: number } | undefined;
  nodeInfo(
    id: string,
  ): { lifecycle: NodeLifecycle; devices: string[]; x: number; y: number } | undefined;
  frameWork(): number[];
  /** The labels the last frame drew: node id, text and where (CSS pixels, page coordinates). */
  labels(): { id: string; text: string; x: number; y: number; width: number }[];
  /** Colours and font the canvas uses now (read from the VS Code theme variables). */
  style(): { label: string; edge: string; font: string; background: string };
  /** The node under the pointer, if any. */
  hovered(): string | undefined;
  relayout(): void;
}
