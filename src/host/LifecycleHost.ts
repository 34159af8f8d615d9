/**
 * Wires the lifecycle parts into a running RegistryRuntime, for one window:
 *  - the 'prefetch-scheduler' and 'tab-demoter' workers (supervised by the ControlPanel, so they
 *    are listed with the other workers in the Sync Panel), fed with the memory pressure of the
 *    Engine's snapshots, the active editor's file as the selected node, the workspace graph, and
 *    the `twinspace.tabBudget` setting (into the runtime's LifecyclePolicy);
 *  - the OpenEditorsPublisher (when Device Sync runs: it needs this device's id and name);
 *  - "Continue on this device" over the `devices.editors` part of the workspace document.
 * Without a workspace folder only the command exists (and says a folder is needed).
 */
import * as vscode from 'vscode';
import type { MemoryPressure, NodeKind } from '../core/intents';
import { validateLifecyclePolicy } from '../core/lifecyclePolicy';
import { readDeviceEditors, type DeviceEditors } from '../core/openEditors';
import type { PrefetchEdge } from '../core/prefetchPolicy';
import { EDGE_KEY_SEPARATOR, graphEdges, graphNodes } from '../core/workspaceDoc';
import { PrefetchScheduler, type PrefetchGraph } from '../runtime/PrefetchScheduler';
import type { RegistryRuntime } from '../runtime/RegistryRuntime';
import { TabDemoter } from '../runtime/TabDemoter';
import { WatchChannel } from '../runtime/Watch';
import { ContinueOnDevice } from './ContinueOnDevice';
import { OpenEditorsPublisher } from './OpenEditorsPublisher';
import { folderRelativePath, VscodeTabs } from './VscodeTabs';

export interface LifecycleHostOptions {
  readonly folder: vscode.Uri | undefined;
  /** This device, when Device Sync runs (needed to publish its open editors). */
  readonly device?: { readonly id: string; readonly name: string };
  readonly log: (message: string) => void;
}

const NODE_KINDS = new Set<string>(['file', 'folder', 'url']);

/** The workspace graph as the prefetch scheduler reads it (read-only access to the Engine's doc). */
function readGraph(runtime: RegistryRuntime): PrefetchGraph {
  return runtime.engine.readDoc((doc) => {
    const edges: PrefetchEdge[] = [];
    for (const [key, value] of graphEdges(doc).entries()) {
      const at = key.indexOf(EDGE_KEY_SEPARATOR);
      if (at <= 0) continue;
      const count: unknown = value.get('count');
      edges.push({
        from: key.slice(0, at),
        to: key.slice(at + EDGE_KEY_SEPARATOR.length),
        count: typeof count === 'number' ? count : 0,
      });
    }
    const kinds = new Map<string, NodeKind>();
    for (const [id, node] of graphNodes(doc).entries()) {
      const kind: unknown = node.get('kind');
      if (typeof kind === 'string' && NODE_KINDS.has(kind)) kinds.set(id, kind as NodeKind);
    }
    return { edges, kindOf: (id: string) => kinds.get(id) };
  });
}

export class LifecycleHost implements vscode.Disposable {
  readonly continueOnDevice: ContinueOnDevice;
  readonly prefetch: PrefetchScheduler | undefined;
  readonly demoter: TabDemoter | undefined;
  readonly publisher: OpenEditorsPublisher | undefined;
  private readonly tabs: VscodeTabs | undefined;
  private readonly pressure: WatchChannel<MemoryPressure>;
  private readonly selection = new WatchChannel<string | undefined>(undefined);
  private readonly disposers: (() => void)[] = [];

  constructor(
    private readonly runtime: RegistryRuntime,
    private readonly options: LifecycleHostOptions,
  ) {
    this.pressure = new WatchChannel<MemoryPressure>(runtime.snapshot().memory.pressure);
    this.disposers.push(
      runtime.onSnapshot((state) => {
        if (!this.pressure.closed) this.pressure.set(state.memory.pressure);
      }),
    );
    this.continueOnDevice = new ContinueOnDevice({
      folder: () => options.folder,
      ownDeviceId: () => options.device?.id,
      devices: () => this.devices(),
    });
    const folder = options.folder;
    if (folder === undefined) return;

    this.applyTabBudget();
    const onConfig = vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('twinspace.tabBudget')) this.applyTabBudget();
    });
    this.disposers.push(() => {
      onConfig.dispose();
    });

    this.tabs = new VscodeTabs({ folder });
    const tabs = this.tabs;
    const select = (editor: vscode.TextEditor | undefined): void => {
      const relative =
        editor !== undefined ? folderRelativePath(folder, editor.document.uri) : undefined;
      if (!this.selection.closed) this.selection.set(relative);
    };
    select(vscode.window.activeTextEditor);
    const onActive = vscode.window.onDidChangeActiveTextEditor(select);
    this.disposers.push(() => {
      onActive.dispose();
    });

    this.prefetch = new PrefetchScheduler({
      policy: runtime.policy,
      pressure: this.pressure,
      selection: this.selection,
      graph: () => readGraph(runtime),
      warmer: tabs,
      queue: runtime.controlPanel,
    });
    this.demoter = new TabDemoter({
      policy: runtime.policy,
      pressure: this.pressure,
      tabs,
      tabsChanged: tabs.changes,
    });
    runtime.addWorker(this.prefetch.spec);
    runtime.addWorker(this.demoter.spec);

    const device = options.device;
    if (device !== undefined) {
      this.publisher = new OpenEditorsPublisher({
        folder,
        deviceId: device.id,
        deviceName: device.name,
        publish: (intent) => runtime.dispatch(intent, 'EditorEvents'),
        onError: options.log,
      });
    }
  }

  /** Every device's open editors in the workspace document (this one included), validated. */
  devices(): readonly DeviceEditors[] {
    if (this.runtime.engine.isClosed()) return [];
    const { devices, invalid } = this.runtime.engine.readDoc(readDeviceEditors);
    for (const bad of invalid) {
      this.options.log(`open editors of device ${bad.deviceId} ignored: ${bad.message}`);
    }
    return devices;
  }

  private applyTabBudget(): void {
    const value = vscode.workspace.getConfiguration('twinspace').get<unknown>('tabBudget');
    if (value === undefined) return;
    const checked = validateLifecyclePolicy({ ...this.runtime.policy.get(), tabBudget: value });
    if (!checked.ok) {
      this.options.log(`twinspace.tabBudget ignored: ${checked.message}`);
      return;
    }
    if (!this.runtime.policy.closed) this.runtime.policy.set(checked.value);
  }

  dispose(): void {
    for (const dispose of this.disposers.splice(0)) dispose();
    this.publisher?.dispose();
    this.tabs?.dispose();
    this.pressure.close();
    this.selection.close();
  }
}
