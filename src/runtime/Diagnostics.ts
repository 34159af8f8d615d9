/**
 * Diagnostics: one registry of named channels with a severity, a ring buffer the Sync Panel can
 * show, and sinks (the VS Code LogOutputChannel, or stderr in the CLI). An identical warning or
 * error repeated within `repeatWindowMs` is logged once, then counted.
 */
import type { Clock } from './Clock';

export type Severity = 'info' | 'warn' | 'error';

/** Every channel the project emits on, with its default severity. Add new ones here. */
export const DIAGNOSTIC_CHANNELS = {
  'control_panel.started': 'info',
  'control_panel.queue.backpressure': 'warn',
  'control_panel.queue.depth': 'warn',
  'control_panel.worker.started': 'info',
  'control_panel.worker.restarted': 'warn',
  'control_panel.worker.failed': 'error',
  'control_panel.worker.stopped': 'info',
  'control_panel.shutdown': 'info',
  'control_panel.shutdown.leftover': 'warn',
  'engine.intent.rejected': 'warn',
  'engine.effect.failed': 'error',
  'engine.observer.failed': 'error',
  'engine.wal.write_failed': 'error',
  'engine.wal.torn_tail': 'warn',
  'engine.wal.corrupt': 'error',
  'engine.wal.compacted': 'info',
  'engine.wal.replayed': 'info',
  'register.signal_routing.dead_letter': 'error',
  'register.signal_routing.lagged': 'warn',
  'memory.pressure': 'warn',
  'sync.worker.started': 'info',
  'sync.worker.peer_connected': 'info',
  'sync.worker.peer_rejected': 'warn',
  'sync.worker.unit_rejected': 'warn',
  'sync.worker.peer_offline': 'info',
  'sync.worker.backoff': 'info',
  'sync.worker.not_linked': 'info',
  'sync.worker.key_rotated': 'info',
  'sync.worker.file_handler_failed': 'error',
  'sync.discovery.started': 'info',
  'sync.discovery.peer_found': 'info',
  'sync.discovery.peer_lost': 'info',
  'sync.discovery.peer_ignored': 'warn',
  'files.sync.started': 'info',
  'files.sync.conflict': 'warn',
  'files.sync.rejected': 'warn',
  'files.sync.failed': 'error',
  'files.sync.git_mismatch': 'warn',
  'orchestrator.action.halted': 'warn',
  'orchestrator.recovery': 'info',
  'host.activation.failed': 'error',
  'host.command.failed': 'error',
  'host.webview.rejected': 'warn',
  'cli.serve.started': 'info',
} as const satisfies Record<string, Severity>;

export type DiagnosticChannel = keyof typeof DIAGNOSTIC_CHANNELS;

export interface DiagnosticEvent {
  readonly seq: number;
  readonly at: number;
  readonly channel: DiagnosticChannel;
  readonly severity: Severity;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
  /** How many identical events this entry stands for (1 unless repeats were folded in). */
  readonly count: number;
}

export type DiagnosticSink = (event: DiagnosticEvent) => void;

export interface DiagnosticsOptions {
  readonly clock: Clock;
  readonly capacity?: number;
  readonly repeatWindowMs?: number;
}

export class Diagnostics {
  private readonly clock: Clock;
  private readonly capacity: number;
  private readonly repeatWindowMs: number;
  private readonly ring: DiagnosticEvent[] = [];
  private readonly sinks = new Set<DiagnosticSink>();
  private readonly repeats = new Map<string, { index: number; firstAt: number; count: number }>();
  private seq = 0;

  constructor(options: DiagnosticsOptions) {
    this.clock = options.clock;
    this.capacity = options.capacity ?? 500;
    this.repeatWindowMs = options.repeatWindowMs ?? 60_000;
  }

  emit(
    channel: DiagnosticChannel,
    message: string,
    data?: Readonly<Record<string, unknown>>,
    severity: Severity = DIAGNOSTIC_CHANNELS[channel],
  ): void {
    const at = this.clock.now();
    if (severity !== 'info') {
      const key = `${channel}\u0000${message}`;
      const seen = this.repeats.get(key);
      if (seen && at - seen.firstAt < this.repeatWindowMs) {
        seen.count += 1;
        const entry = this.findBySeq(seen.index);
        if (entry) this.replace(entry, { ...entry, count: seen.count });
        return;
      }
      const previousCount = seen?.count ?? 0;
      const event = this.push(
        channel,
        severity,
        previousCount > 1 ? `${message} (repeated ${previousCount} times before)` : message,
        at,
        data,
      );
      this.repeats.set(key, { index: event.seq, firstAt: at, count: 1 });
      return;
    }
    this.push(channel, severity, message, at, data);
  }

  /** The ring buffer, oldest first. */
  recent(): readonly DiagnosticEvent[] {
    return [...this.ring];
  }

  /** Adds a sink; returns a function that removes it. A throwing sink is removed, never rethrown. */
  addSink(sink: DiagnosticSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  private push(
    channel: DiagnosticChannel,
    severity: Severity,
    message: string,
    at: number,
    data: Readonly<Record<string, unknown>> | undefined,
  ): DiagnosticEvent {
    this.seq += 1;
    const event: DiagnosticEvent = Object.freeze({
      seq: this.seq,
      at,
      channel,
      severity,
      message,
      count: 1,
      ...(data !== undefined ? { data } : {}),
    });
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const sink of [...this.sinks]) {
      try {
        sink(event);
      } catch {
        this.sinks.delete(sink);
      }
    }
    return event;
  }

  private findBySeq(seq: number): DiagnosticEvent | undefined {
    return this.ring.find((e) => e.seq === seq);
  }

  private replace(old: DiagnosticEvent, next: DiagnosticEvent): void {
    const i = this.ring.indexOf(old);
    if (i >= 0) this.ring[i] = Object.freeze(next);
  }
}
