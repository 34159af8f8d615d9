import * as vscode from 'vscode';
import type { FileConflict } from '../core/files/fileSyncStatus';
import { SyncPanelViewController, type SyncPanelHost } from './SyncPanelViewController';
import { webviewHtml, webviewOptions } from './webviewHtml';

export type { SyncPanelHost } from './SyncPanelViewController';

/** Where the Sync Panel's HTML is shown: an editor tab, or the activity-bar view. */
export type SyncPanelSurface = 'panel' | 'view';

/**
 * The Sync Panel webview in an editor tab: one instance, revealed if already open. The same
 * page also lives in the activity bar (SyncPanelViewProvider); both hand the webview's messages
 * to a SyncPanelViewController, which validates them (the webview is untrusted).
 */
export class SyncPanel implements vscode.Disposable {
  private static current: SyncPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly controller: SyncPanelViewController;

  static show(extensionUri: vscode.Uri, host: SyncPanelHost): SyncPanel {
    if (SyncPanel.current) {
      SyncPanel.current.panel.reveal();
      return SyncPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      'twinspace.syncPanel',
      vscode.l10n.t('Twinspace: Sync Panel'),
      vscode.ViewColumn.Active,
      { ...syncPanelWebviewOptions(extensionUri), retainContextWhenHidden: false },
    );
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'twinspace.svg');
    SyncPanel.current = new SyncPanel(panel, extensionUri, host);
    return SyncPanel.current;
  }

  static disposeCurrent(): void {
    SyncPanel.current?.dispose();
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    host: SyncPanelHost,
  ) {
    panel.webview.html = renderSyncPanelHtml(panel.webview, extensionUri, 'panel');
    this.controller = new SyncPanelViewController(host, {
      post: (message) => panel.webview.postMessage(message),
    });
    this.disposables.push(
      panel.onDidDispose(() => {
        this.dispose();
      }),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        void this.controller.handle(raw);
      }),
    );
  }

  dispose(): void {
    if (SyncPanel.current === this) SyncPanel.current = undefined;
    this.controller.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

/** Scripts on, and only the built webview files (script, codicons) loadable. */
export function syncPanelWebviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return webviewOptions(extensionUri);
}

/**
 * Opens VS Code's diff editor between a conflict's copy (left) and the file (right). Paths are
 * folder-relative with `/` separators and come from the file sync's own status, never from the
 * webview; `..` segments are refused all the same.
 */
export async function openConflictDiff(folder: vscode.Uri, conflict: FileConflict): Promise<void> {
  const uriOf = (relative: string): vscode.Uri => {
    const segments = relative.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.length === 0 || segments.includes('..')) {
      throw new Error(`not a folder-relative path: ${JSON.stringify(relative.slice(0, 80))}`);
    }
    return vscode.Uri.joinPath(folder, ...segments);
  };
  const title = vscode.l10n.t(
    '{0} (copy from {1}) ↔ current',
    conflict.path.split('/').pop() ?? conflict.path,
    conflict.device,
  );
  await vscode.commands.executeCommand(
    'vscode.diff',
    uriOf(conflict.copyPath),
    uriOf(conflict.path),
    title,
  );
}

/** The page of both surfaces: CSP with a nonce, codicons, theme colours, the bundled script. */
export function renderSyncPanelHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  surface: SyncPanelSurface,
): string {
  return webviewHtml(webview, extensionUri, {
    title: 'Twinspace: Sync Panel',
    head: (asset) =>
      `<link rel="stylesheet" id="vscode-codicon-stylesheet" href="${asset('codicons', 'codicon.css')}">\n`,
    css: SYNC_PANEL_CSS,
    bodyAttributes: { 'data-surface': surface },
    mainAttributes: { 'data-testid': 'sync-panel', 'data-surface': surface },
    script: 'syncPanel.js',
  });
}

/** VS Code theme variables only: the page follows the workbench's light, dark and HC themes. */
const SYNC_PANEL_CSS = `
:root { --gap: 8px; }
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); font-weight: var(--vscode-font-weight); color: var(--vscode-foreground); background: var(--vscode-editor-background); margin: 0; padding: 0 20px 20px; line-height: 1.4; }
body[data-surface="view"] { background: transparent; padding: 0 12px 12px 20px; }
main { max-width: 880px; container-type: inline-size; }
h1 { font-size: 1.55em; font-weight: 600; margin: 18px 0 10px; }
body[data-surface="view"] h1 { display: none; }
h2 { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; margin: 20px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--vscode-panelSectionHeader-border, var(--vscode-widget-border, transparent)); display: flex; align-items: center; gap: 6px; }
body[data-surface="view"] h2 { margin-top: 14px; }
h2 .count { font-weight: 400; text-transform: none; color: var(--vscode-descriptionForeground); }
section { min-width: 0; }
p { margin: 4px 0; }
.muted { color: var(--vscode-descriptionForeground); }
code, .mono { font-family: var(--vscode-editor-font-family); font-size: 0.95em; }
.codicon { vertical-align: text-bottom; flex: none; }
.ok { color: var(--vscode-testing-iconPassed, var(--vscode-charts-green)); }
.busy { color: var(--vscode-progressBar-background); }
.sev-info { color: var(--vscode-editorInfo-foreground, var(--vscode-charts-blue)); }
.sev-warn { color: var(--vscode-editorWarning-foreground, var(--vscode-charts-yellow)); }
.sev-error { color: var(--vscode-errorForeground); }
.state-off { color: var(--vscode-disabledForeground, var(--vscode-descriptionForeground)); }
.line { display: flex; align-items: flex-start; gap: 6px; min-width: 0; }
.line > .codicon { margin-top: 2px; }
.line > :not(.codicon) { min-width: 0; overflow-wrap: anywhere; }
.subhead { font-size: 1em; font-weight: 600; margin: 10px 0 2px; }
.row { display: flex; align-items: flex-start; gap: 8px; padding: 6px 4px; border-bottom: 1px solid var(--vscode-widget-border, var(--vscode-panel-border, transparent)); min-width: 0; }
.row.wrap { flex-wrap: wrap; }
@container (max-width: 420px) { .row.wrap .actions { flex-basis: 100%; margin-left: 24px; } }
.row:last-child { border-bottom: none; }
.row:hover { background: var(--vscode-list-hoverBackground); }
.row:focus-within { background: var(--vscode-list-inactiveSelectionBackground, transparent); }
.row > .codicon { margin-top: 2px; }
.row .main { flex: 1 1 160px; min-width: 0; }
.row .title { display: flex; align-items: baseline; gap: 6px; flex-wrap: wrap; min-width: 0; }
.row .title strong { font-weight: 600; overflow-wrap: anywhere; }
.row .detail { color: var(--vscode-descriptionForeground); font-size: 0.92em; overflow-wrap: anywhere; }
.row .actions { display: flex; gap: 4px; flex-wrap: wrap; align-items: center; margin-left: auto; }
ul.list { list-style: none; margin: 0; padding: 0; }
.path { font-family: var(--vscode-editor-font-family); overflow-wrap: anywhere; }
button { font-family: inherit; font-size: inherit; display: inline-flex; align-items: center; gap: 4px; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; padding: 3px 10px; line-height: 18px; cursor: pointer; white-space: nowrap; }
button:hover { background: var(--vscode-button-hoverBackground); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button.secondary:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.icon { color: var(--vscode-icon-foreground, var(--vscode-foreground)); background: transparent; border: 1px solid transparent; padding: 2px 4px; border-radius: 5px; }
button.icon:hover { background: var(--vscode-toolbar-hoverBackground); }
button.toggle { color: var(--vscode-foreground); background: transparent; border: 1px solid var(--vscode-checkbox-border, var(--vscode-widget-border, var(--vscode-contrastBorder, transparent))); padding: 1px 8px; border-radius: 11px; }
button.toggle[aria-pressed="true"] { background: var(--vscode-inputOption-activeBackground); border-color: var(--vscode-inputOption-activeBorder, var(--vscode-focusBorder)); color: var(--vscode-inputOption-activeForeground, var(--vscode-foreground)); }
button.toggle[aria-pressed="false"] { color: var(--vscode-descriptionForeground); }
button:disabled { opacity: 0.5; cursor: default; }
button:focus { outline: none; }
button:focus-visible, [tabindex]:focus-visible, a:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
a.link { color: var(--vscode-textLink-foreground); text-decoration: none; cursor: pointer; background: none; border: none; padding: 0; }
a.link:hover { color: var(--vscode-textLink-activeForeground); text-decoration: underline; }
.buttons { display: flex; gap: 6px; flex-wrap: wrap; margin: 8px 0 4px; }
.notice { border-left: 3px solid var(--vscode-editorWarning-foreground, var(--vscode-focusBorder)); background: var(--vscode-textBlockQuote-background, var(--vscode-editorWidget-background)); padding: 6px 10px; margin: 6px 0; }
.notice.info { border-left-color: var(--vscode-focusBorder); }
.notice.error { border-left-color: var(--vscode-errorForeground); }
.progress { height: 2px; background: var(--vscode-widget-border, rgba(128,128,128,.25)); margin: 6px 0; overflow: hidden; }
.progress > div { height: 100%; background: var(--vscode-progressBar-background); }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 4px 0; }
.counts span { display: inline-flex; align-items: center; gap: 4px; }
.added { color: var(--vscode-gitDecoration-addedResourceForeground, var(--vscode-charts-green)); }
.modified { color: var(--vscode-gitDecoration-modifiedResourceForeground, var(--vscode-charts-yellow)); }
.deleted { color: var(--vscode-gitDecoration-deletedResourceForeground, var(--vscode-errorForeground)); }
.conflicted { color: var(--vscode-gitDecoration-conflictingResourceForeground, var(--vscode-editorWarning-foreground)); }
ul.plan { list-style: none; margin: 4px 0; padding: 0; max-height: 220px; overflow: auto; }
ul.plan li { display: flex; gap: 6px; align-items: center; padding: 1px 0; min-width: 0; }
.filters { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; margin: 4px 0 6px; }
ul.diagnostics { list-style: none; margin: 0; padding: 0; max-height: 320px; overflow: auto; }
ul.diagnostics li { display: flex; gap: 6px; align-items: flex-start; padding: 2px 0; min-width: 0; }
ul.diagnostics li .text { min-width: 0; overflow-wrap: anywhere; }
ul.diagnostics li .when { color: var(--vscode-descriptionForeground); font-variant-numeric: tabular-nums; flex: none; }
.workers { display: flex; flex-wrap: wrap; gap: 4px 14px; }
.workers span { display: inline-flex; align-items: center; gap: 4px; }
#toast:empty { display: none; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
