import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import {
  parseSyncPanelRequest,
  type SyncPanelMessage,
  type SyncPanelView,
} from '../core/protocol/syncPanelProtocol';

export interface SyncPanelHost {
  view(): SyncPanelView;
  onChange(listener: () => void): () => void;
  runCommand(command: string): Thenable<unknown>;
  forgetDevice(deviceId: string): Thenable<unknown>;
  pairWith(deviceId: string): Thenable<unknown>;
  reportRejected(reason: string): void;
}

/**
 * The Sync Panel webview: one instance, revealed if already open. Messages from the webview are
 * untrusted: each is validated by `parseSyncPanelRequest`, and anything else is rejected.
 */
export class SyncPanel implements vscode.Disposable {
  private static current: SyncPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  static show(extensionUri: vscode.Uri, host: SyncPanelHost): SyncPanel {
    if (SyncPanel.current) {
      SyncPanel.current.panel.reveal();
      return SyncPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      'twinspace.syncPanel',
      vscode.l10n.t('Twinspace: Sync Panel'),
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        retainContextWhenHidden: false,
        localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
      },
    );
    SyncPanel.current = new SyncPanel(panel, extensionUri, host);
    return SyncPanel.current;
  }

  static disposeCurrent(): void {
    SyncPanel.current?.dispose();
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly host: SyncPanelHost,
  ) {
    panel.webview.html = renderHtml(panel.webview, extensionUri);
    this.disposables.push(
      panel.onDidDispose(() => {
        this.dispose();
      }),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        this.handle(raw).catch((error: unknown) => {
          const id = (raw as { id?: unknown }).id;
          this.host.reportRejected(`request failed: ${String(error)}`);
          if (typeof id === 'number') {
            void this.post({ kind: 'response', id, ok: false, error: String(error) });
          }
        });
      }),
    );
    const unsubscribe = host.onChange(() => {
      void this.post({ kind: 'notification', method: 'view', view: host.view() });
    });
    this.disposables.push(new vscode.Disposable(unsubscribe));
  }

  private async handle(raw: unknown): Promise<void> {
    const parsed = parseSyncPanelRequest(raw);
    if (!parsed.ok) {
      this.host.reportRejected(parsed.error);
      return;
    }
    const request = parsed.value;
    switch (request.method) {
      case 'ready':
      case 'refresh':
        await this.post({ kind: 'response', id: request.id, ok: true, view: this.host.view() });
        return;
      case 'runCommand':
        await this.host.runCommand(request.command);
        await this.post({ kind: 'response', id: request.id, ok: true });
        return;
      case 'forgetDevice':
        await this.host.forgetDevice(request.deviceId);
        await this.post({ kind: 'response', id: request.id, ok: true, view: this.host.view() });
        return;
      case 'pairWith':
        await this.host.pairWith(request.deviceId);
        await this.post({ kind: 'response', id: request.id, ok: true, view: this.host.view() });
        return;
    }
  }

  private async post(message: SyncPanelMessage): Promise<void> {
    await this.panel.webview.postMessage(message);
  }

  dispose(): void {
    if (SyncPanel.current === this) SyncPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

function renderHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(
    vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'syncPanel.js'),
  );
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Twinspace: Sync Panel</title>
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 16px 16px; }
  h1 { font-size: 1.3em; font-weight: 600; } h2 { font-size: 1.05em; font-weight: 600; margin-top: 1.4em; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--vscode-widget-border, transparent); }
  .muted { color: var(--vscode-descriptionForeground); } code { font-family: var(--vscode-editor-font-family); }
  .sev-warn { color: var(--vscode-editorWarning-foreground); } .sev-error { color: var(--vscode-errorForeground); }
  button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 10px; cursor: pointer; }
  button:hover { background: var(--vscode-button-hoverBackground); } button:focus-visible { outline: 1px solid var(--vscode-focusBorder); }
</style>
</head>
<body>
<main id="app" data-testid="sync-panel" aria-live="polite"><p class="muted">Loading…</p></main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}
