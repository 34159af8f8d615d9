/**
 * src/host: the only ring that imports `vscode`. Activation, commands, status bar, output channel,
 * webview panels, SecretStorage, watchers. Everything else comes from src/runtime and src/sync.
 */
import * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {
  // Filled in by the host module.
}

export function deactivate(): void {
  // Filled in by the host module.
}
