import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import type { SyncPanelView } from '../core/protocol/syncPanelProtocol';
import type { RegisterState } from '../core/state';
import { summarizeStatus } from '../core/statusSummary';
import { RegistryRuntime } from '../runtime/RegistryRuntime';
import { COMMAND_TABLE, type CommandId } from './commandTable';
import { registerCommands, type CommandHandler } from './commands';
import { createLogSink } from './logSink';
import { StatusBar } from './StatusBar';
import { SyncPanel } from './SyncPanel';

/** How long deactivation may take before VS Code would kill us anyway. */
export const SHUTDOWN_TIMEOUT_MS = 3_000;

/** What `activate` returns: used by the host integration tests, stable for other extensions. */
export interface TwinspaceApi {
  readonly runtime: {
    snapshot(): RegisterState | undefined;
    workers(): readonly { name: string; status: string }[];
    openResources(): string[];
    isShutDown(): boolean;
  };
  readonly statusText: () => string;
  readonly commandIds: readonly string[];
  deactivateForTest(): Promise<void>;
}

/** The extension's lifetime: runtime, status bar, commands and panels, wired once. */
export class TwinspaceExtension implements vscode.Disposable {
  private runtime: RegistryRuntime | undefined;
  private lastRuntime: RegistryRuntime | undefined;
  private readonly statusBar: StatusBar;
  private readonly disposables: { dispose(): unknown }[] = [];
  private readonly viewListeners = new Set<() => void>();
  private unsubscribeSnapshot: (() => void) | undefined;
  private stopped = false;

  private constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.statusBar = new StatusBar('twinspace.openSyncPanel');
    this.disposables.push(this.statusBar);
  }

  static async start(
    context: vscode.ExtensionContext,
    output: vscode.LogOutputChannel,
  ): Promise<TwinspaceExtension> {
    const ext = new TwinspaceExtension(context, output);
    ext.disposables.push(
      ...registerCommands(ext.commandHandlers(), (id, error) => {
        ext.runtime?.diagnostics.emit('host.command.failed', `${id}: ${describeError(error)}`);
        output.error(`[host.command.failed] ${id}: ${describeError(error)}`);
      }),
    );
    if (vscode.workspace.isTrusted) {
      ext.statusBar.renderStarting();
      await ext.startRuntime();
    } else {
      ext.statusBar.render(undefined, 'Device Sync stays off until you trust this workspace.');
      ext.disposables.push(
        vscode.workspace.onDidGrantWorkspaceTrust(() => {
          void ext.startRuntime();
        }),
      );
    }
    return ext;
  }

  get api(): TwinspaceApi {
    return {
      runtime: {
        snapshot: () => this.runtime?.snapshot(),
        workers: () => this.runtime?.workers() ?? [],
        openResources: () => (this.runtime ?? this.lastRuntime)?.openResources() ?? [],
        isShutDown: () => (this.runtime ?? this.lastRuntime)?.isShutDown() ?? true,
      },
      statusText: () => this.statusBar.text,
      commandIds: COMMAND_TABLE.map((c) => c.id),
      deactivateForTest: () => this.stop(SHUTDOWN_TIMEOUT_MS),
    };
  }

  private stateDir(): string {
    const base = this.context.storageUri ?? this.context.globalStorageUri;
    return path.join(base.fsPath, 'register');
  }

  private async startRuntime(): Promise<void> {
    if (this.runtime || this.stopped) return;
    const runtime = await RegistryRuntime.start({
      stateDir: this.stateDir(),
      sinks: [createLogSink(this.output)],
    });
    this.runtime = runtime;
    this.unsubscribeSnapshot = runtime.onSnapshot((state) => {
      this.statusBar.render(state);
      for (const l of this.viewListeners) l();
    });
    this.statusBar.render(runtime.snapshot());
  }

  private async stopRuntime(timeoutMs: number): Promise<void> {
    const runtime = this.runtime;
    if (!runtime) return;
    this.runtime = undefined;
    this.lastRuntime = runtime;
    this.unsubscribeSnapshot?.();
    this.unsubscribeSnapshot = undefined;
    const report = await runtime.shutdown(timeoutMs);
    this.output.info(
      `Device Sync stopped in ${report.durationMs} ms; ${report.leftover.length} intents left over.`,
    );
    this.statusBar.render(undefined);
  }

  private syncPanelView(): SyncPanelView {
    const state = this.runtime?.snapshot();
    return {
      deviceName: vscode.env.machineId.slice(0, 8),
      deviceId: 'not yet created',
      statusText: summarizeStatus(state).text,
      version: state?.version ?? 0,
      workers: (this.runtime?.workers() ?? []).map((w) => ({
        name: w.name,
        status: w.status,
        failures: w.failures,
      })),
      peers: Object.values(state?.sync.peers ?? {}).map((p) => ({
        peerId: p.peerId,
        state: p.state,
        ...(p.transport !== undefined ? { transport: p.transport } : {}),
        ...(p.lastSyncAt !== undefined ? { lastSyncAt: p.lastSyncAt } : {}),
      })),
      diagnostics: (this.runtime?.diagnostics.recent() ?? []).slice(-50).map((d) => ({
        at: d.at,
        channel: d.channel,
        severity: d.severity,
        message: d.message,
        count: d.count,
      })),
    };
  }

  private commandHandlers(): Record<CommandId, CommandHandler> {
    return {
      'twinspace.openSyncPanel': () => {
        SyncPanel.show(this.context.extensionUri, {
          view: () => this.syncPanelView(),
          onChange: (listener) => {
            this.viewListeners.add(listener);
            return () => this.viewListeners.delete(listener);
          },
          runCommand: (command) => vscode.commands.executeCommand(command),
          reportRejected: (reason) => {
            this.output.warn(`[host.webview.rejected] Sync Panel message rejected: ${reason}`);
          },
        });
      },
      'twinspace.showStatus': () => {
        const summary = summarizeStatus(this.runtime?.snapshot());
        // Not awaited: the command finishes when the message is shown, not when it is dismissed.
        void vscode.window.showInformationMessage(summary.text, { detail: summary.tooltip });
      },
      'twinspace.showLog': () => {
        this.output.show(true);
      },
      'twinspace.restartDeviceSync': async () => {
        await this.stopRuntime(SHUTDOWN_TIMEOUT_MS);
        await this.startRuntime();
      },
    };
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    SyncPanel.disposeCurrent();
    await this.stopRuntime(timeoutMs);
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  dispose(): void {
    void this.stop(SHUTDOWN_TIMEOUT_MS);
  }
}
