import * as vscode from 'vscode';
import type { RegisterState } from '../core/state';
import { summarizeStatus } from '../core/statusSummary';

/** The status-bar item: state at a glance, details in the tooltip, click opens the Sync Panel. */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(clickCommand: string) {
    this.item = vscode.window.createStatusBarItem(
      'twinspace.status',
      vscode.StatusBarAlignment.Left,
      100,
    );
    this.item.name = 'Twinspace Device Sync';
    this.item.command = clickCommand;
    this.render(undefined);
    this.item.show();
  }

  /**
   * Renders a snapshot (or `undefined` when the runtime is off). `problem`: Device Sync could not
   * start although the runtime runs; shown as an error so it is never silent.
   */
  render(state: RegisterState | undefined, offReason?: string, problem?: string): void {
    const summary = summarizeStatus(state);
    const failed = problem !== undefined;
    const text = failed ? 'Twinspace: Device Sync failed' : summary.text;
    this.item.text = failed ? `$(error) ${text}` : `$(${summary.icon}) ${summary.text}`;
    this.item.accessibilityInformation = { label: text, role: 'button' };
    const notes = [offReason, failed ? `Device Sync failed: ${problem}` : undefined].filter(
      (x): x is string => x !== undefined,
    );
    this.item.tooltip = [summary.tooltip, ...notes].join('\n');
    this.item.backgroundColor =
      summary.kind === 'error' || failed
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : undefined;
  }

  /** Shown between activation and the runtime's first snapshot. */
  renderStarting(): void {
    this.item.text = '$(loading~spin) Twinspace: starting';
    this.item.accessibilityInformation = { label: 'Twinspace: starting', role: 'button' };
    this.item.tooltip = 'Device Sync is starting.';
  }

  get text(): string {
    return this.item.text;
  }

  dispose(): void {
    this.item.dispose();
  }
}
