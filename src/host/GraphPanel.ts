import * as path from 'node:path';
import * as vscode from 'vscode';
import * as Y from 'yjs';
import {
  decodeBase64,
  encodeBase64,
  parseGraphPanelRequest,
  type GraphPanelMessage,
  type GraphPanelRequest,
  type NodeLifecycle,
  type NodePosition,
} from '../core/protocol/graphPanelProtocol';
import { graphNodes } from '../core/workspaceDoc';
import type { RegistryRuntime } from '../runtime/RegistryRuntime';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** What the Workspace Graph panel needs from the extension. */
export interface GraphPanelHost {
  /** Names the webview's IndexedDB cache: one per workspace. */
  readonly replicaName: string;
  /** The Engine's workspace document, read-only; undefined while the runtime is not running. */
  stateVector(): Uint8Array | undefined;
  diff(stateVector: Uint8Array): Uint8Array | undefined;
  /** The kind ('file' | 'folder' | 'url') of a node, if it exists. */
  nodeKind(nodeId: string): string | undefined;
  /** Called after every published snapshot (the document may have changed). */
  onChange(listener: () => void): () => void;
  /** Enqueues a MoveNodes intent. */
  moveNodes(positions: readonly NodePosition[]): Promise<void>;
  deviceId(): string;
  reportRejected(reason: string): void;
}

/** Builds the panel's host from the extension's parts. */
export function createGraphPanelHost(parts: {
  readonly runtime: () => RegistryRuntime | undefined;
  readonly deviceId: () => string;
  readonly workspaceKey: string;
  readonly onChange: (listener: () => void) => () => void;
  readonly reportRejected: (reason: string) => void;
}): GraphPanelHost {
  const engine = (): RegistryRuntime['engine'] | undefined => {
    const rt = parts.runtime();
    return rt && !rt.engine.isClosed() ? rt.engine : undefined;
  };
  return {
    replicaName: `twinspace-graph-${parts.workspaceKey}`,
    stateVector: () => engine()?.encodeStateVector(),
    diff: (sv) => engine()?.encodeDiff(sv),
    nodeKind: (nodeId) =>
      engine()?.readDoc((doc) => {
        const kind = graphNodes(doc).get(nodeId)?.get('kind');
        return typeof kind === 'string' ? kind : undefined;
      }),
    onChange: parts.onChange,
    moveNodes: async (positions) => {
      const rt = parts.runtime();
      if (!rt) throw new Error('Device Sync is not running');
      await rt.dispatch({ type: 'MoveNodes', positions }, 'LocalUI');
    },
    deviceId: parts.deviceId,
    reportRejected: parts.reportRejected,
  };
}

const ENGINE_ORIGIN = 'engine';
/** Coalesce the Engine's changes into one message at most this often (ms). */
const PUSH_DELAY_MS = 30;

/**
 * The Workspace Graph webview: one instance, revealed if already open. The host keeps a Y.Doc
 * mirroring the Engine's workspace document (refreshed from the Engine's diff after each
 * snapshot) and forwards the mirror's updates to the webview's replica. The webview never
 * writes to the document: it asks (moveNodes → a MoveNodes intent; openNode → an editor or the
 * browser). Messages from the webview are untrusted and validated by `parseGraphPanelRequest`.
 */
export class GraphPanel implements vscode.Disposable {
  private static current: GraphPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly mirror = new Y.Doc();
  private outgoing: Uint8Array[] = [];
  private pushTimer: ReturnType<typeof setTimeout> | undefined;
  private statusTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  /** The webview sent `ready`: updates flow. */
  ready = false;
  /** Messages from the webview refused by validation. */
  rejected = 0;
  /** Files opened from the graph (for tests). */
  readonly opened: string[] = [];

  static show(extensionUri: vscode.Uri, host: GraphPanelHost): GraphPanel {
    if (GraphPanel.current) {
      GraphPanel.current.panel.reveal();
      return GraphPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      'twinspace.graph',
      vscode.l10n.t('Twinspace: Workspace Graph'),
      vscode.ViewColumn.Active,
      { ...webviewOptions(extensionUri), retainContextWhenHidden: false },
    );
    GraphPanel.current = new GraphPanel(panel, extensionUri, host);
    return GraphPanel.current;
  }

  static get instance(): GraphPanel | undefined {
    return GraphPanel.current;
  }

  static disposeCurrent(): void {
    GraphPanel.current?.dispose();
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly host: GraphPanelHost,
  ) {
    this.mirror.on('update', (update: Uint8Array) => {
      if (!this.ready) return;
      this.outgoing.push(update);
      this.pushTimer ??= setTimeout(() => {
        this.pushTimer = undefined;
        this.flush();
      }, PUSH_DELAY_MS);
    });
    this.refreshMirror();
    panel.webview.html = renderHtml(panel.webview, extensionUri, host.replicaName);
    this.disposables.push(
      panel.onDidDispose(() => {
        this.dispose();
      }),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        void this.receive(raw);
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => {
        this.scheduleStatus();
      }),
      vscode.workspace.onDidOpenTextDocument(() => {
        this.scheduleStatus();
      }),
      vscode.workspace.onDidCloseTextDocument(() => {
        this.scheduleStatus();
      }),
      new vscode.Disposable(
        host.onChange(() => {
          this.refreshMirror();
        }),
      ),
    );
  }

  /** Handles one message from the webview; false when refused. Never throws. */
  async receive(raw: unknown): Promise<boolean> {
    const parsed = parseGraphPanelRequest(raw);
    if (!parsed.ok) {
      this.rejected++;
      this.host.reportRejected(parsed.error);
      return false;
    }
    const request = parsed.value;
    try {
      await this.handle(request);
      await this.post({ kind: 'response', id: request.id, ok: true });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.host.reportRejected(`${request.method} failed: ${message}`);
      await this.post({ kind: 'response', id: request.id, ok: false, error: message });
    }
    return true;
  }

  private async handle(request: GraphPanelRequest): Promise<void> {
    switch (request.method) {
      case 'ready': {
        this.refreshMirror();
        const sv = decodeBase64(request.stateVector);
        let diff: Uint8Array;
        try {
          diff = Y.encodeStateAsUpdate(this.mirror, sv?.length ? sv : undefined);
        } catch {
          // Not a state vector after all: send everything.
          diff = Y.encodeStateAsUpdate(this.mirror);
        }
        this.ready = true;
        this.outgoing = [diff];
        this.flush();
        this.sendStatus();
        return;
      }
      case 'moveNodes':
        await this.host.moveNodes(request.positions);
        return;
      case 'openNode':
        await this.open(request.nodeId);
        return;
    }
  }

  private async open(nodeId: string): Promise<void> {
    const kind = this.host.nodeKind(nodeId);
    if (kind === undefined) throw new Error('no such node');
    if (kind === 'url') {
      const uri = vscode.Uri.parse(nodeId, true);
      if (uri.scheme !== 'https' && uri.scheme !== 'http') {
        throw new Error(`only http and https links open in the browser, not ${uri.scheme}:`);
      }
      await vscode.env.openExternal(uri);
      this.opened.push(nodeId);
      return;
    }
    const uri = resolveInWorkspace(nodeId);
    if (!uri) throw new Error('the node is not a path inside this workspace');
    if (kind === 'folder') {
      await vscode.commands.executeCommand('revealInExplorer', uri);
    } else {
      await vscode.window.showTextDocument(uri, { preview: true });
    }
    this.opened.push(nodeId);
  }

  /** Brings the mirror up to the Engine's document (its 'update' event forwards the change). */
  private refreshMirror(): void {
    if (this.disposed) return;
    const diff = this.host.diff(Y.encodeStateVector(this.mirror));
    if (diff) Y.applyUpdate(this.mirror, diff, ENGINE_ORIGIN);
  }

  private flush(): void {
    if (this.disposed || this.outgoing.length === 0) return;
    const [only] = this.outgoing;
    const update =
      this.outgoing.length === 1 && only !== undefined ? only : Y.mergeUpdates(this.outgoing);
    this.outgoing = [];
    void this.post({ kind: 'notification', method: 'update', update: encodeBase64(update) });
  }

  private scheduleStatus(): void {
    if (!this.ready) return;
    if (this.statusTimer !== undefined) clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.sendStatus();
    }, 100);
  }

  /** Lifecycle on this device: Active = visible in an editor, Warm = loaded, else Cold. */
  private sendStatus(): void {
    const lifecycle: Record<string, NodeLifecycle> = {};
    for (const doc of vscode.workspace.textDocuments) {
      const id = nodeIdOf(doc.uri);
      if (id !== undefined) lifecycle[id] = 'warm';
    }
    for (const editor of vscode.window.visibleTextEditors) {
      const id = nodeIdOf(editor.document.uri);
      if (id !== undefined) lifecycle[id] = 'active';
    }
    void this.post({
      kind: 'notification',
      method: 'status',
      status: { deviceId: this.host.deviceId(), lifecycle },
    });
  }

  private async post(message: GraphPanelMessage): Promise<void> {
    if (this.disposed) return;
    await this.panel.webview.postMessage(message);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (GraphPanel.current === this) GraphPanel.current = undefined;
    if (this.pushTimer !== undefined) clearTimeout(this.pushTimer);
    if (this.statusTimer !== undefined) clearTimeout(this.statusTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.mirror.destroy();
    this.panel.dispose();
  }
}

/** A graph node id for a file: its path relative to the (first) workspace folder, with '/'. */
export function nodeIdOf(uri: vscode.Uri): string | undefined {
  if (uri.scheme !== 'file') return undefined;
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  if (!folder) return undefined;
  const rel = path.relative(folder.uri.fsPath, uri.fsPath);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join('/');
}

/** The workspace file a node id names, or undefined if it would leave the workspace folder. */
function resolveInWorkspace(nodeId: string): vscode.Uri | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || nodeId.includes('\\') || nodeId.startsWith('/') || /^[a-zA-Z]:/.test(nodeId)) {
    return undefined;
  }
  const parts = nodeId.split('/');
  if (parts.some((p) => p === '..' || p === '.' || p === '')) return undefined;
  return vscode.Uri.joinPath(folder.uri, ...parts);
}

function renderHtml(webview: vscode.Webview, extensionUri: vscode.Uri, replica: string): string {
  return webviewHtml(webview, extensionUri, {
    title: 'Twinspace: Workspace Graph',
    css: GRAPH_CSS,
    bodyAttributes: { 'data-replica': replica },
    mainAttributes: { 'data-testid': 'graph-panel' },
    script: 'graph.js',
  });
}

/** VS Code theme variables only: the page follows the workbench's light, dark and HC themes. */
const GRAPH_CSS = `
  html, body { height: 100%; margin: 0; padding: 0; overflow: hidden; }
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); }
  #app { display: flex; flex-direction: column; height: 100%; }
  .toolbar { display: flex; gap: 8px; align-items: center; padding: 6px 8px; border-bottom: 1px solid var(--vscode-widget-border, transparent); }
  input[type=search] { flex: 0 1 280px; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 3px 6px; }
  input[type=search]:focus { outline: 1px solid var(--vscode-focusBorder); }
  button { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: 1px solid var(--vscode-button-border, var(--vscode-widget-border, transparent)); border-radius: 2px; padding: 2px 10px; cursor: pointer; }
  button:hover { background: var(--vscode-button-secondaryHoverBackground); } button:focus-visible { outline: 1px solid var(--vscode-focusBorder); }
  canvas { flex: 1; width: 100%; min-height: 0; display: block; cursor: grab; }
  canvas:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  .muted { color: var(--vscode-descriptionForeground); margin-left: auto; }
  .legend { color: var(--vscode-descriptionForeground); } .dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin: 0 3px 0 6px; }
  .dot.cold { background: var(--vscode-disabledForeground); } .dot.warm { background: var(--vscode-charts-yellow); } .dot.active { background: var(--vscode-charts-green); }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;
