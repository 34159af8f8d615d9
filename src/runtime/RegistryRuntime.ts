/**
 * src/runtime: the async shell around the pure core. The ControlPanel (bounded intent queue and
 * worker supervision), the single-writer Engine with its WAL, the SignalBus, Diagnostics and the
 * lifecycle workers. Node only, never `vscode`.
 *
 * RegistryRuntime is the composition root: the one object that builds the registries, the
 * ControlPanel, the Engine and the SignalBus, and the only place that wires them together.
 * Hosts (src/host, src/cli) create one, add their workers, and shut it down.
 */
import type { Intent, IntentSource } from '../core/intents';
import { defaultLifecyclePolicy, type LifecyclePolicy } from '../core/lifecyclePolicy';
import type { RegisterState } from '../core/state';
import { systemClock, type Clock } from './Clock';
import { ControlPanel, type ShutdownReport, type WorkerHealthView } from './ControlPanel';
import { Diagnostics, type DiagnosticSink } from './Diagnostics';
import { Engine } from './Engine';
import { createMemoryMonitor } from './MemoryMonitor';
import { SignalBus } from './SignalBus';
import { StateDirLock } from './StateDirLock';
import { Wal } from './Wal';
import { WatchChannel } from './Watch';
import type { WorkerSpec } from './Worker';
import type { Effect } from '../core/effects';

export interface RegistryRuntimeOptions {
  /** Folder for the WAL and snapshots (created if missing). */
  readonly stateDir: string;
  readonly clock?: Clock;
  readonly policy?: LifecyclePolicy;
  /** Sinks attached before anything is emitted (output channel, stderr). */
  readonly sinks?: readonly DiagnosticSink[];
  /** Executes effects that the runtime itself does not handle (e.g. BroadcastUpdate). */
  readonly runEffect?: (effect: Effect) => void | Promise<void>;
  /** Whether to start the memory monitor (default true). */
  readonly memoryMonitor?: boolean;
}

export interface RuntimeShutdownReport extends ShutdownReport {
  /** Intents applied in the final tick after the workers stopped. */
  readonly appliedAtShutdown: number;
  readonly durationMs: number;
}

export class RegistryRuntime {
  readonly clock: Clock;
  readonly diagnostics: Diagnostics;
  readonly signals: SignalBus;
  readonly controlPanel: ControlPanel;
  readonly engine: Engine;
  readonly policy: WatchChannel<LifecyclePolicy>;
  private readonly effectHandlers: Set<(effect: Effect) => void | Promise<void>>;
  private shutDown: RuntimeShutdownReport | undefined;
  private shuttingDown: Promise<RuntimeShutdownReport> | undefined;
  private readonly disposers: (() => void)[] = [];
  private readonly lock: StateDirLock;

  private constructor(parts: {
    clock: Clock;
    diagnostics: Diagnostics;
    signals: SignalBus;
    controlPanel: ControlPanel;
    engine: Engine;
    policy: WatchChannel<LifecyclePolicy>;
    effectHandlers: Set<(effect: Effect) => void | Promise<void>>;
    lock: StateDirLock;
  }) {
    this.effectHandlers = parts.effectHandlers;
    this.lock = parts.lock;
    this.clock = parts.clock;
    this.diagnostics = parts.diagnostics;
    this.signals = parts.signals;
    this.controlPanel = parts.controlPanel;
    this.engine = parts.engine;
    this.policy = parts.policy;
  }

  static async start(options: RegistryRuntimeOptions): Promise<RegistryRuntime> {
    const clock = options.clock ?? systemClock;
    const diagnostics = new Diagnostics({ clock });
    for (const sink of options.sinks ?? []) diagnostics.addSink(sink);
    const signals = new SignalBus({ diagnostics, clock });
    const controlPanel = new ControlPanel({ diagnostics, clock });
    const policy = new WatchChannel<LifecyclePolicy>(options.policy ?? defaultLifecyclePolicy);
    // Single writer per state folder: a second runtime on the same folder fails fast as busy.
    const lock = await StateDirLock.acquire(options.stateDir);
    const effectHandlers = new Set<(effect: Effect) => void | Promise<void>>();
    if (options.runEffect) effectHandlers.add(options.runEffect);
    let engine: Engine;
    try {
      const wal = await Wal.open({ dir: options.stateDir, diagnostics });
      engine = await Engine.open({
        queue: controlPanel,
        wal,
        diagnostics,
        clock,
        runEffect: async (effect) => {
          for (const handler of effectHandlers) await handler(effect);
        },
      });
    } catch (error) {
      await lock.release();
      throw error;
    }
    const rt = new RegistryRuntime({
      clock,
      diagnostics,
      signals,
      controlPanel,
      engine,
      policy,
      effectHandlers,
      lock,
    });
    rt.disposers.push(
      diagnostics.addSink((event) => {
        signals.publish('register:diagnostic:emitted', { event }, 'diagnostics');
      }),
      engine.subscribe((state) => {
        signals.publish('register:state:published', { state }, 'engine');
      }),
    );
    // Replay restores the previous run's session and worker states; they are history now.
    const restored = engine.snapshot;
    for (const peer of Object.values(restored.sync.peers)) {
      if (peer.state !== 'Disconnected') {
        await controlPanel.send(
          { type: 'PeerWentOffline', peerId: peer.peerId, reason: 'restart' },
          'Restore',
        );
      }
    }
    for (const worker of Object.values(restored.workers)) {
      if (worker.status !== 'stopped' && worker.status !== 'failed') {
        await controlPanel.send(
          { type: 'WorkerHealthChanged', worker: worker.name, status: 'stopped', failures: 0 },
          'Restore',
        );
      }
    }
    diagnostics.emit('control_panel.started', `runtime started (state in ${options.stateDir})`, {
      version: engine.snapshot.version,
    });
    if (options.memoryMonitor ?? true) {
      controlPanel.startWorker(createMemoryMonitor({ policy }));
    }
    return rt;
  }

  snapshot(): RegisterState {
    return this.engine.snapshot;
  }

  /** Observe every published snapshot; returns the unsubscribe function. */
  onSnapshot(listener: (state: RegisterState) => void): () => void {
    return this.engine.subscribe(listener);
  }

  /** Handle effects produced by the Engine (e.g. the SyncWorker broadcasts updates). */
  onEffect(handler: (effect: Effect) => void | Promise<void>): () => void {
    this.effectHandlers.add(handler);
    return () => this.effectHandlers.delete(handler);
  }

  addWorker(spec: WorkerSpec): void {
    this.controlPanel.startWorker(spec);
  }

  workers(): readonly WorkerHealthView[] {
    return this.controlPanel.workers();
  }

  /** Enqueue an intent that must not be lost (waits for queue space). */
  dispatch(intent: Intent, source: IntentSource, expectedVersion?: number): Promise<void> {
    return this.controlPanel.send(
      intent,
      source,
      expectedVersion !== undefined ? { expectedVersion } : {},
    );
  }

  /** What the runtime still owns that keeps the process alive (for leak checks). */
  openResources(): string[] {
    const open: string[] = [];
    for (const w of this.controlPanel.workers()) {
      if (w.status === 'running' || w.status === 'starting' || w.status === 'backoff') {
        open.push(`worker:${w.name}`);
      }
    }
    if (!this.engine.isClosed()) open.push('engine');
    return open;
  }

  isShutDown(): boolean {
    return this.shutDown !== undefined;
  }

  /**
   * Stops every worker within `timeoutMs`, applies what is still queued in a final tick, flushes
   * and closes the WAL. Idempotent. Nothing queued is dropped silently: what could not be applied
   * is in the report's `leftover`.
   */
  shutdown(timeoutMs: number): Promise<RuntimeShutdownReport> {
    this.shuttingDown ??= this.doShutdown(timeoutMs);
    return this.shuttingDown;
  }

  private async doShutdown(timeoutMs: number): Promise<RuntimeShutdownReport> {
    const started = this.clock.now();
    const report = await this.controlPanel.shutdown(timeoutMs);
    const pending = report.leftover.length - report.rejected.length;
    await this.engine.close();
    const leftover = [...report.rejected, ...this.controlPanel.drain()];
    const durationMs = this.clock.now() - started;
    this.diagnostics.emit(
      'control_panel.shutdown',
      `runtime stopped in ${durationMs} ms (${report.stopped.length} workers stopped, ${report.timedOut.length} timed out, ${pending - (leftover.length - report.rejected.length)} queued intents applied)`,
    );
    if (leftover.length > 0) {
      this.diagnostics.emit(
        'control_panel.shutdown.leftover',
        `${leftover.length} intents could not be applied at shutdown`,
        { types: leftover.map((q) => q.intent.type) },
      );
    }
    for (const dispose of this.disposers.splice(0)) dispose();
    this.signals.dispose();
    await this.lock.release();
    const final: RuntimeShutdownReport = {
      ...report,
      leftover,
      appliedAtShutdown: pending - (leftover.length - report.rejected.length),
      durationMs,
    };
    this.shutDown = final;
    return final;
  }
}
