import * as vscode from 'vscode';
import type { RegisterState } from '../core/state';
import { statusTooltipMarkdown, summarizeStatus, type DeviceLabel } from '../core/statusSummary';
import type { FileSyncView } from './FileSyncView';

/** The status-bar item: state at a glance, details in the tooltip, click opens the Sync Panel. */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private fileSync: FileSyncView | undefined;
  private fileSyncSubscription: { dispose(): void } | undefined;
  private starting = false;
  /** The last `render` call's arguments, to re-render when the file sync reports a change. */
  private last: { state: RegisterState | undefined; offReason?: string; problem?: string } = {
    state: undefined,
  };

  /** `labels`: name and short id of each trusted device, for the tooltip's device lines. */
  constructor(
    clickCommand: string,
    private readonly labels: () => Readonly<Record<string, DeviceLabel>> = () => ({}),
  ) {
    this.item = vscode.window.createStatusBarItem(
      'twinspace.status',
      vscode.StatusBarAlignment.Left,
      100,
    );
    this.item.name = vscode.l10n.t('Twinspace Device Sync');
    this.item.command = clickCommand;
    this.render(undefined);
    this.item.show();
  }

  /**
   * Renders a snapshot (or `undefined` when the runtime is off). `problem`: Device Sync could not
   * start although the runtime runs; shown as an error so it is never silent.
   */
  render(state: RegisterState | undefined, offReason?: string, problem?: string): void {
    this.starting = false;
    this.last = {
      state,
      ...(offReason !== undefined ? { offReason } : {}),
      ...(problem !== undefined ? { problem } : {}),
    };
    const files = state !== undefined ? this.fileSync?.status() : undefined;
    const summary = summarizeStatus(state, files);
    const failed = problem !== undefined;
    const text = failed ? vscode.l10n.t('Twinspace: Device Sync failed') : summary.text;
    this.item.text = failed ? `$(error) ${text}` : `$(${summary.icon}) ${summary.text}`;
    this.item.accessibilityInformation = { label: text, role: 'button' };
    const notes = [
      offReason,
      failed ? vscode.l10n.t('Device Sync failed: {0}', problem) : undefined,
    ].filter((x): x is string => x !== undefined);
    const tooltip = new vscode.MarkdownString(
      statusTooltipMarkdown(state, this.labels(), Date.now(), notes, files),
      true,
    );
    tooltip.isTrusted = false;
    this.item.tooltip = tooltip;
    this.item.backgroundColor =
      summary.kind === 'error' || failed
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : summary.kind === 'conflict'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  /**
   * Follows the file sync of the linked folder ("syncing N%", "N conflicts"); `undefined` when
   * none runs. Re-renders now and on each of its changes.
   */
  setFileSync(view: FileSyncView | undefined): void {
    if (view === this.fileSync) return;
    this.fileSyncSubscription?.dispose();
    this.fileSyncSubscription = undefined;
    this.fileSync = view;
    if (view !== undefined) {
      this.fileSyncSubscription = view.onDidChange(() => {
        this.rerender();
      });
    }
    this.rerender();
  }

  private rerender(): void {
    if (this.starting) return;
    this.render(this.last.state, this.last.offReason, this.last.problem);
  }

  /** Shown between activation and the runtime's first snapshot. */
  renderStarting(): void {
    this.starting = true;
    const label = vscode.l10n.t('Twinspace: starting');
    this.item.text = `$(loading~spin) ${label}`;
    this.item.accessibilityInformation = { label, role: 'button' };
    this.item.tooltip = vscode.l10n.t('Device Sync is starting.');
  }

  get text(): string {
    return this.item.text;
  }

  /** The tooltip's Markdown source (for tests). */
  get tooltipMarkdown(): string {
    const t = this.item.tooltip;
    return typeof t === 'string' ? t : (t?.value ?? '');
  }

  dispose(): void {
    this.fileSyncSubscription?.dispose();
    this.fileSyncSubscription = undefined;
    this.item.dispose();
  }
}
