import type { Intent, IntentSource } from '../core/intents';
import type { Clock } from './Clock';
import type { Diagnostics } from './Diagnostics';

/** What a supervised worker gets from the ControlPanel. */
export interface WorkerContext {
  readonly name: string;
  readonly clock: Clock;
  readonly diagnostics: Diagnostics;
  /** Enqueue an intent that must never be lost: waits for queue space (or rejects on abort). */
  send(intent: Intent, source: IntentSource, signal?: AbortSignal): Promise<void>;
  /** Enqueue an advisory intent: false (and a backpressure diagnostic) when the queue is full. */
  trySend(intent: Intent, source: IntentSource): boolean;
}

/**
 * A supervised background service. `run` must return (or reject) soon after `signal` aborts.
 * restart: 'on-failure' (default) restarts after a throw or rejection, a normal return means done;
 *          'always' restarts after a normal return too; 'never' never restarts.
 */
export interface WorkerSpec {
  readonly name: string;
  readonly restart?: 'on-failure' | 'always' | 'never';
  run(signal: AbortSignal, ctx: WorkerContext): Promise<void>;
}
