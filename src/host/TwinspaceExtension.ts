import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import type { SyncPanelView } from '../core/protocol/syncPanelProtocol';
import type { RegisterState } from '../core/state';
import type { Intent, IntentSource } from '../core/intents';
import { countEditors } from '../core/openEditors';
import { LifecycleHost } from './LifecycleHost';
import { describeFileSync, summarizeStatus } from '../core/statusSummary';
import { RegistryRuntime } from '../runtime/RegistryRuntime';
import { shortDeviceId } from '../sync/identity/DeviceIdentity';
import { COMMAND_TABLE, type CommandId } from './commandTable';
import { registerCommands, type CommandHandler } from './commands';
import { DeviceSync } from './DeviceSync';
import { DeviceSyncCommands } from './DeviceSyncCommands';
import { createLogSink } from './logSink';
import type { FileSyncView } from './FileSyncView';
import { StatusBar } from './StatusBar';
import { openConflictDiff, SyncPanel, type SyncPanelHost } from './SyncPanel';
import { createGraphPanelHost, GraphPanel } from './GraphPanel';
import { GraphVisits } from './GraphVisits';
import { SyncPanelViewProvider } from './SyncPanelViewProvider';
import { readSyncSettings, type DeviceSyncSettings } from './syncSettings';

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
  /** Device Sync: undefined values while it is not running. */
  readonly sync: {
    deviceId(): string | undefined;
    deviceName(): string | undefined;
    workspaceId(): string | undefined;
    listenPort(): number | undefined;
    /** Why Device Sync could not start, if it could not. */
    error(): string | undefined;
    peers(): readonly { peerId: string; state: string; inSync: boolean; address?: string }[];
    trusted(): readonly { deviceId: string; name: string }[];
    /** What the Sync Panel renders now. */
    panelView(): SyncPanelView;
  };
  /** The file sync of the window's folder (undefined while Device Sync is not running). */
  readonly files: () => FileSyncView | undefined;
  readonly statusText: () => string;
  /** The status bar tooltip's Markdown source. */
  readonly statusTooltip: () => string;
  /** The Workspace Graph panel, when open (host tests: readiness, and the message entry point). */
  readonly graphPanel: () =>
    | {
        ready: boolean;
        rejected: number;
        opened: readonly string[];
        receive(raw: unknown): Promise<boolean>;
      }
    | undefined;
  readonly commandIds: readonly string[];
  /** Lifecycle workers and open editors ("continue on this device"). */
  readonly lifecycle: {
    /** Enqueues an intent as the host would (tests publish a fake device's editors with it). */
    dispatch(intent: Intent, source: IntentSource): Promise<void>;
    /** Devices whose open editors the workspace document holds (this one included). */
    devices(): readonly { deviceId: string; deviceName: string; editors: number }[];
  };
  deactivateForTest(): Promise<void>;
}

/** The extension's lifetime: runtime, status bar, commands and panels, wired once. */
export class TwinspaceExtension implements vscode.Disposable {
  private runtime: RegistryRuntime | undefined;
  private lastRuntime: RegistryRuntime | undefined;
  private deviceSync: DeviceSync | undefined;
  private lifecycle: LifecycleHost | undefined;
  private lastDeviceSync: DeviceSync | undefined;
  private syncError: string | undefined;
  private readonly syncCommands: DeviceSyncCommands;
  private readonly statusBar: StatusBar;
  private readonly disposables: { dispose(): unknown }[] = [];
  private readonly viewListeners = new Set<() => void>();
  private unsubscribeSnapshot: (() => void) | undefined;
  private stopped = false;
  /** The file sync of the linked folder, when one runs (Sync Panel files section, status bar). */
  private fileSync: FileSyncView | undefined;

  private constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.statusBar = new StatusBar('twinspace.openSyncPanel', () =>
      Object.fromEntries(
        (this.deviceSync?.trusted() ?? []).map((t) => [
          t.deviceId,
          { name: t.name, shortId: shortDeviceId(t.deviceId) },
        ]),
      ),
    );
    this.disposables.push(this.statusBar);
    this.disposables.push(
      new GraphVisits((intent) => this.runtime?.dispatch(intent, 'EditorEvents')),
    );
    this.syncCommands = new DeviceSyncCommands(() => this.deviceSync, output);
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
    ext.disposables.push(SyncPanelViewProvider.register(context.extensionUri, ext.panelHost()));
    ext.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('twinspace.manualPeers')) ext.applyManualPeers();
      }),
    );
    if (vscode.workspace.isTrusted) {
      ext.statusBar.renderStarting();
      await ext.startRuntime();
    } else {
      ext.statusBar.render(
        undefined,
        vscode.l10n.t('Device Sync stays off until you trust this workspace.'),
      );
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
        openResources: () => [
          ...((this.runtime ?? this.lastRuntime)?.openResources() ?? []),
          ...((this.deviceSync ?? this.lastDeviceSync)?.openResources() ?? []),
        ],
        isShutDown: () => (this.runtime ?? this.lastRuntime)?.isShutDown() ?? true,
      },
      sync: {
        deviceId: () => this.deviceSync?.identity.deviceId,
        deviceName: () => this.deviceSync?.settings.deviceName,
        workspaceId: () => this.deviceSync?.worker.workspaceId,
        listenPort: () => this.deviceSync?.listener.port,
        error: () => this.syncError,
        peers: () =>
          (this.deviceSync?.peers() ?? []).map((p) => ({
            peerId: p.peerId,
            state: p.state,
            inSync: p.inSync,
            ...(p.address !== undefined ? { address: p.address } : {}),
          })),
        trusted: () =>
          (this.deviceSync?.trusted() ?? []).map((p) => ({ deviceId: p.deviceId, name: p.name })),
        panelView: () => this.syncPanelView(),
      },
      files: () => this.deviceSync?.files,
      statusText: () => this.statusBar.text,
      statusTooltip: () => this.statusBar.tooltipMarkdown,
      graphPanel: () => GraphPanel.instance,
      commandIds: COMMAND_TABLE.map((c) => c.id),
      lifecycle: {
        dispatch: async (intent, source) => {
          if (!this.runtime) throw new Error('Device Sync is not running');
          await this.runtime.dispatch(intent, source);
        },
        devices: () =>
          (this.lifecycle?.devices() ?? []).map((d) => ({
            deviceId: d.deviceId,
            deviceName: d.deviceName,
            editors: countEditors(d.editors),
          })),
      },
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
      this.statusBar.render(state, undefined, this.syncError);
      this.notifyView();
    });
    await this.startDeviceSync(runtime);
    this.startLifecycle(runtime);
    this.statusBar.render(runtime.snapshot(), undefined, this.syncError);
  }

  /** Prefetch scheduler, tab demoter, open-editors publisher and "continue on this device". */
  private startLifecycle(runtime: RegistryRuntime): void {
    try {
      const sync = this.deviceSync;
      this.lifecycle = new LifecycleHost(runtime, {
        folder: vscode.workspace.workspaceFolders?.[0]?.uri,
        ...(sync ? { device: { id: sync.identity.deviceId, name: sync.settings.deviceName } } : {}),
        log: (message) => {
          this.output.warn(`[host.lifecycle] ${message}`);
        },
      });
    } catch (error) {
      runtime.diagnostics.emit('host.activation.failed', `lifecycle: ${describeError(error)}`);
    }
  }

  private settings(): DeviceSyncSettings {
    const config = vscode.workspace.getConfiguration('twinspace');
    return readSyncSettings(
      {
        deviceName: config.get('deviceName'),
        workspaceId: config.get('workspaceId'),
        listenHost: config.get('listenHost'),
        listenPort: config.get('listenPort'),
        mdns: config.get('discovery.mdns'),
        manualPeers: config.get('manualPeers'),
      },
      vscode.workspace.workspaceFolders?.[0]?.name,
      os.hostname(),
    );
  }

  /**
   * Identity, trust store, listener, SyncWorker, discovery. A failure here leaves the runtime up
   * (the Register still works locally) and is shown: log line, diagnostic, status bar in error.
   */
  private async startDeviceSync(runtime: RegistryRuntime): Promise<void> {
    this.syncError = undefined;
    try {
      const settings = this.settings();
      for (const problem of settings.problems) this.output.warn(`[host.settings] ${problem}`);
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      this.deviceSync = await DeviceSync.start({
        runtime,
        secrets: this.context.secrets,
        globalState: this.context.globalState,
        globalStorageDir: this.context.globalStorageUri.fsPath,
        settings,
        ...(folder !== undefined ? { folder } : {}),
        onError: (message) => {
          this.output.error(`[host.sync.error] ${message}`);
        },
        onChange: () => {
          // Pairing or a session change: device lines in the tooltip may have changed.
          this.statusBar.render(this.runtime?.snapshot(), undefined, this.syncError);
          this.notifyView();
        },
      });
      this.setFileSyncView(this.deviceSync.files);
      this.output.info(
        `[host.sync.started] ${settings.deviceName} (${this.deviceSync.identity.shortId}) listening on ${this.deviceSync.listenAddress}, workspace "${settings.workspaceId}", mDNS ${settings.mdns ? 'on' : 'off'}, ${settings.manualPeers.length} manual peers`,
      );
    } catch (error) {
      this.syncError = describeError(error);
      const message = `Device Sync could not start: ${this.syncError}`;
      runtime.diagnostics.emit('host.activation.failed', message);
      const showLog = vscode.l10n.t('Show Log');
      void vscode.window
        .showErrorMessage(
          vscode.l10n.t('Twinspace: Device Sync could not start: {0}', this.syncError),
          showLog,
        )
        .then((choice) => {
          if (choice === showLog) this.output.show();
        });
    }
  }

  private applyManualPeers(): void {
    const sync = this.deviceSync;
    if (!sync) return;
    const settings = this.settings();
    for (const problem of settings.problems) this.output.warn(`[host.settings] ${problem}`);
    for (const address of settings.manualPeers) sync.addPeerAddress(address);
  }

  private notifyView(): void {
    for (const l of this.viewListeners) l();
  }

  private async stopRuntime(timeoutMs: number): Promise<void> {
    const runtime = this.runtime;
    if (!runtime) return;
    this.runtime = undefined;
    this.lifecycle?.dispose();
    this.lifecycle = undefined;
    this.lastRuntime = runtime;
    this.unsubscribeSnapshot?.();
    this.unsubscribeSnapshot = undefined;
    const sync = this.deviceSync;
    this.deviceSync = undefined;
    if (sync) this.lastDeviceSync = sync;
    if (sync?.files !== undefined) this.setFileSyncView(undefined);
    sync?.stopAccepting();
    const report = await runtime.shutdown(timeoutMs);
    await sync?.close(timeoutMs).catch((error: unknown) => {
      this.output.error(`[host.sync.error] closing Device Sync: ${describeError(error)}`);
    });
    this.output.info(
      `Device Sync stopped in ${report.durationMs} ms; ${report.leftover.length} intents left over.`,
    );
    this.statusBar.render(undefined);
  }

  private syncPanelView(): SyncPanelView {
    const state = this.runtime?.snapshot();
    const sync = this.deviceSync;
    const settings = sync?.settings ?? this.settings();
    const sessions = new Map((sync?.peers() ?? []).map((p) => [p.peerId, p]));
    const trusted = sync?.trusted() ?? [];
    const trustedIds = new Set(trusted.map((p) => p.deviceId));
    const editorCounts = new Map(
      (this.lifecycle?.devices() ?? []).map((d) => [d.deviceId, countEditors(d.editors)]),
    );
    const peers = trusted.map((t) => {
      const live = sessions.get(t.deviceId);
      const info = state?.sync.peers[t.deviceId];
      const openEditors = editorCounts.get(t.deviceId);
      return {
        peerId: t.deviceId,
        name: t.name,
        state: live?.state ?? info?.state ?? 'Disconnected',
        ...(live?.transport !== undefined ? { transport: live.transport } : {}),
        ...(info?.lastSyncAt !== undefined ? { lastSyncAt: info.lastSyncAt } : {}),
        ...(t.lastSeenAt !== undefined ? { lastSeenAt: t.lastSeenAt } : {}),
        ...(live?.address !== undefined ? { address: live.address } : {}),
        ...(live !== undefined ? { pendingOut: live.pendingOut, pendingIn: live.pendingIn } : {}),
        ...(live?.lastError !== undefined ? { lastError: live.lastError } : {}),
        ...(live?.paused === true ? { paused: true } : {}),
        ...(openEditors !== undefined ? { openEditors } : {}),
      };
    });
    // Manual addresses not paired yet: shown so the user sees what is being dialed.
    for (const p of sessions.values()) {
      if (!trustedIds.has(p.peerId) && p.peerId.startsWith('addr:')) {
        peers.push({
          peerId: p.peerId,
          name: '(not paired)',
          state: p.state,
          transport: p.transport,
          ...(p.address !== undefined ? { address: p.address } : {}),
          ...(p.lastError !== undefined ? { lastError: p.lastError } : {}),
        });
      }
    }
    return {
      deviceName: settings.deviceName,
      deviceId: sync?.identity.deviceId ?? '',
      deviceShortId: sync !== undefined ? shortDeviceId(sync.identity.deviceId) : 'not running',
      ...(sync !== undefined ? { listenAddress: sync.listenAddress } : {}),
      ...(sync !== undefined ? { workspaceId: sync.worker.workspaceId } : {}),
      ...(this.syncError !== undefined ? { syncError: this.syncError } : {}),
      statusText: summarizeStatus(state).text,
      version: state?.version ?? 0,
      workers: (this.runtime?.workers() ?? []).map((w) => ({
        name: w.name,
        status: w.status,
        failures: w.failures,
      })),
      peers,
      discovered: (sync?.untrustedDiscovered() ?? []).map((p) => ({
        deviceId: p.deviceId,
        name: p.name,
        address: `${p.addresses[0] ?? p.host}:${p.port}`,
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

  /** Wires (or, with `undefined`, unwires) the file sync into the Sync Panel and status bar. */
  setFileSyncView(view: FileSyncView | undefined): void {
    this.fileSync = view;
    this.statusBar.setFileSync(view);
    this.notifyView();
  }

  /** What both Sync Panel surfaces (editor tab, activity-bar view) talk to. */
  private panelHost(): SyncPanelHost {
    return {
      view: () => this.syncPanelView(),
      onChange: (listener) => {
        this.viewListeners.add(listener);
        return () => this.viewListeners.delete(listener);
      },
      runCommand: (command, arg) =>
        arg === undefined
          ? vscode.commands.executeCommand(command)
          : vscode.commands.executeCommand(command, arg),
      pauseDevice: (id) => this.syncCommands.pauseDevice(id),
      resumeDevice: (id) => this.syncCommands.resumeDevice(id),
      forgetDevice: (deviceId) => this.syncCommands.forgetDevice(deviceId),
      pairWith: (deviceId) => this.syncCommands.pairWith(deviceId),
      reportRejected: (reason) => {
        // A diagnostic (shown in the panel, logged by the sink); the log alone while off.
        if (this.runtime)
          this.runtime.diagnostics.emit('host.webview.rejected', `Sync Panel: ${reason}`);
        else this.output.warn(`[host.webview.rejected] Sync Panel message rejected: ${reason}`);
      },
      renameDevice: () =>
        vscode.commands.executeCommand('workbench.action.openSettings', 'twinspace.deviceName'),
      fileSync: () => this.fileSync,
      openDiff: async (conflict) => {
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
        if (folder === undefined) throw new Error('no workspace folder is open');
        await openConflictDiff(folder, conflict);
      },
    };
  }

  private commandHandlers(): Record<CommandId, CommandHandler> {
    return {
      'twinspace.openSyncPanel': () => {
        SyncPanel.show(this.context.extensionUri, this.panelHost());
      },
      'twinspace.openGraph': () => {
        GraphPanel.show(
          this.context.extensionUri,
          createGraphPanelHost({
            runtime: () => this.runtime,
            deviceId: () => this.deviceSync?.identity.deviceId ?? '',
            workspaceKey: this.context.storageUri?.toString() ?? 'global',
            onChange: (listener) => {
              this.viewListeners.add(listener);
              return () => this.viewListeners.delete(listener);
            },
            reportRejected: (reason) => {
              this.output.warn(
                `[host.webview.rejected] Workspace Graph message rejected: ${reason}`,
              );
            },
          }),
        );
      },
      'twinspace.waitUntilInSync': async (arg) => {
        const files = this.deviceSync?.files;
        if (!files) {
          throw new Error(
            vscode.l10n.t('File sync is not running (no folder, or Device Sync is off).'),
          );
        }
        const timeoutMs =
          typeof arg === 'object' &&
          arg !== null &&
          typeof (arg as { timeoutMs?: unknown }).timeoutMs === 'number'
            ? (arg as { timeoutMs: number }).timeoutMs
            : 10 * 60_000;
        const inSync = await vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: vscode.l10n.t('Twinspace: waiting until the files are in sync'),
            cancellable: true,
          },
          (progress, token) =>
            files.waitUntilInSync(timeoutMs, token, (status) => {
              progress.report({ message: describeFileSync(status) });
            }),
        );
        const status = files.status();
        if (inSync) {
          void vscode.window.showInformationMessage(
            vscode.l10n.t('Twinspace: in sync ({0} files).', status.files),
          );
        }
        return { inSync, percent: status.percent, pending: status.pending };
      },
      'twinspace.showStatus': () => {
        const summary = summarizeStatus(this.runtime?.snapshot(), this.fileSync?.status());
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
      'twinspace.pairDevice': (arg) => this.syncCommands.pairDevice(arg),
      'twinspace.forgetDevice': (arg) => this.syncCommands.forgetDevice(arg),
      'twinspace.linkWorkspace': (arg) => this.syncCommands.linkWorkspace(arg),
      'twinspace.addPeerAddress': (arg) => this.syncCommands.addPeerAddress(arg),
      'twinspace.pauseDevice': (arg) => this.syncCommands.pauseDevice(arg),
      'twinspace.resumeDevice': (arg) => this.syncCommands.resumeDevice(arg),
      'twinspace.continueOnThisDevice': (arg) => {
        if (!this.lifecycle) throw new Error(vscode.l10n.t('Device Sync is not running.'));
        return this.lifecycle.continueOnDevice.run(arg);
      },
    };
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    SyncPanel.disposeCurrent();
    GraphPanel.disposeCurrent();
    await this.stopRuntime(timeoutMs);
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  dispose(): void {
    void this.stop(SHUTDOWN_TIMEOUT_MS);
  }
}
