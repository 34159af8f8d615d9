/**
 * src/host: the only ring that imports `vscode`. Activation, commands, status bar, output channel,
 * webview panels, SecretStorage, watchers. Everything else comes from src/runtime and src/sync.
 */
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import { SHUTDOWN_TIMEOUT_MS, TwinspaceExtension, type TwinspaceApi } from './TwinspaceExtension';

let current: TwinspaceExtension | undefined;

/** Builds the runtime. An error here is shown to the user, logged, and rethrown. */
export async function activate(context: vscode.ExtensionContext): Promise<TwinspaceApi> {
  const output = vscode.window.createOutputChannel('Twinspace', { log: true });
  context.subscriptions.push(output);
  try {
    current = await TwinspaceExtension.start(context, output);
    context.subscriptions.push(current);
    return current.api;
  } catch (error) {
    output.error(`[host.activation.failed] Twinspace failed to activate: ${describeError(error)}`);
    const showLog = vscode.l10n.t('Show Log');
    void vscode.window
      .showErrorMessage(
        vscode.l10n.t('Twinspace failed to activate: {0}', describeError(error)),
        showLog,
      )
      .then((choice) => {
        if (choice === showLog) output.show();
      });
    throw error;
  }
}

/** Shuts the runtime down within a bound. */
export async function deactivate(): Promise<void> {
  const ext = current;
  current = undefined;
  await ext?.stop(SHUTDOWN_TIMEOUT_MS);
}
