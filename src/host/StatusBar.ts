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

  /** Renders a snapshot (or `undefined` when the runtime is off). */
  render(state: RegisterState | undefined, offReason?: string): void {
    const summary = summarizeStatus(state);
    this.item.text = `$(${summary.icon}) ${summary.text}`;
    this.item.accessibilityInformation = { label: summary.text, role: 'button' };
    this.item.tooltip =
      offReason !== undefined ? `${summary.tooltip}\n${offReason}` : summary.tooltip;
    this.item.backgroundColor =
      summary.kind === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
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
