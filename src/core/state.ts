import type { MemoryPressure, PeerSessionState, WorkerStatus } from './intents';

export interface WorkerHealth {
  readonly name: string;
  readonly status: WorkerStatus;
  readonly failures: number;
  readonly lastError?: string;
  readonly changedAt: number;
}

export interface PeerSyncInfo {
  readonly peerId: string;
  readonly state: PeerSessionState;
  readonly transport?: string;
  readonly lastSyncAt?: number;
  readonly updatesReceived: number;
  readonly lastError?: string;
}

export interface SyncState {
  readonly peers: Readonly<Record<string, PeerSyncInfo>>;
  readonly lastSyncAt?: number;
  readonly lastError?: string;
}

export interface MemoryState {
  readonly pressure: MemoryPressure;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly systemFreeBytes: number;
  readonly systemTotalBytes: number;
  readonly sampledAt?: number;
}

/** Counts derived from the replicated documents after each tick (the documents are the truth). */
export interface ReplicaSummary {
  readonly graphNodes: number;
  readonly graphEdges: number;
  readonly indexedFiles: number;
}

/** The Engine's state. Published to observers as a deeply frozen snapshot. */
export interface RegisterState {
  readonly version: number;
  readonly workers: Readonly<Record<string, WorkerHealth>>;
  readonly sync: SyncState;
  readonly memory: MemoryState;
  readonly replica: ReplicaSummary;
}

export function initialState(): RegisterState {
  return {
    version: 0,
    workers: {},
    sync: { peers: {} },
    memory: {
      pressure: 'normal',
      rssBytes: 0,
      heapUsedBytes: 0,
      systemFreeBytes: 0,
      systemTotalBytes: 0,
    },
    replica: { graphNodes: 0, graphEdges: 0, indexedFiles: 0 },
  };
}

/** Freezes a value and everything reachable from it (typed arrays are left alone). */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value)) return value;
  for (const key of Object.keys(value)) {
    deepFreeze((value as Record<string, unknown>)[key]);
  }
  return Object.freeze(value);
}
