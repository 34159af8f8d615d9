import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import { COMMAND_TABLE, type CommandId } from './commandTable';

export type CommandHandler = (...args: unknown[]) => unknown;

/**
 * Registers every command of the table. A handler that throws or rejects is reported to the user
 * and to the log (`host.command.failed`) instead of disappearing.
 */
export function registerCommands(
  handlers: Readonly<Record<CommandId, CommandHandler>>,
  onFailure: (id: CommandId, error: unknown) => void,
): vscode.Disposable[] {
  return COMMAND_TABLE.map(({ id, title }) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handlers[id](...args);
      } catch (error) {
        onFailure(id, error);
        void vscode.window.showErrorMessage(
          vscode.l10n.t('Twinspace: {0} failed: {1}', vscode.l10n.t(title), describeError(error)),
        );
        return undefined;
      }
    }),
  );
}
