import * as vscode from 'vscode';
import { renderSyncPanelHtml, syncPanelWebviewOptions } from './SyncPanel';
import { SyncPanelViewController, type SyncPanelHost } from './SyncPanelViewController';

/**
 * The Sync Panel as a view in the Twinspace activity-bar container (`twinspace.syncView` in
 * package.json): the same page and controller as the editor panel, laid out for a side bar.
 */
export class SyncPanelViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly VIEW_ID = 'twinspace.syncView';
  private controller: SyncPanelViewController | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  private constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: SyncPanelHost,
  ) {}

  /** Registers the provider; dispose the result to unregister it. */
  static register(extensionUri: vscode.Uri, host: SyncPanelHost): vscode.Disposable {
    const provider = new SyncPanelViewProvider(extensionUri, host);
    const registration = vscode.window.registerWebviewViewProvider(
      SyncPanelViewProvider.VIEW_ID,
      provider,
    );
    return new vscode.Disposable(() => {
      registration.dispose();
      provider.dispose();
    });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.release();
    view.webview.options = syncPanelWebviewOptions(this.extensionUri);
    view.webview.html = renderSyncPanelHtml(view.webview, this.extensionUri, 'view');
    const controller = new SyncPanelViewController(this.host, {
      post: (message) => view.webview.postMessage(message),
    });
    this.controller = controller;
    this.disposables.push(
      view.webview.onDidReceiveMessage((raw: unknown) => {
        void controller.handle(raw);
      }),
      view.onDidDispose(() => {
        if (this.controller === controller) this.release();
      }),
    );
  }

  private release(): void {
    this.controller?.dispose();
    this.controller = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  dispose(): void {
    this.release();
  }
}
