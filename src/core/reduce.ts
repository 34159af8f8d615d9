/**
 * src/core: the pure, synchronous, deterministic heart of Twinspace. No vscode, no Node I/O; time,
 * randomness and ids come in as data. This file holds the reducer for reducer-owned (local) state:
 * worker health, SyncState and memory. Replicated state lives in Yjs documents that the Engine
 * mutates through `workspaceDoc.ts`, also in this folder.
 */
import type { Effect } from './effects';
import type { Intent, QueuedIntent } from './intents';
import type { RegisterState, WorkerHealth } from './state';
import type { ResultCode } from './errors';

export interface ReduceOutcome {
  readonly state: RegisterState;
  readonly effects: readonly Effect[];
  /** `undefined` when applied; a code and message when refused (state unchanged). */
  readonly rejected?: { readonly code: ResultCode; readonly message: string };
}

/**
 * Applies one queued intent to the local state. `now` is the Engine tick time.
 * Does not bump `version`: the Engine bumps it once per tick that changed anything.
 */
export function reduce(state: RegisterState, queued: QueuedIntent, now: number): ReduceOutcome {
  if (queued.expectedVersion !== undefined && queued.expectedVersion !== state.version) {
    return {
      state,
      effects: [],
      rejected: {
        code: 'version_conflict',
        message: `made against version ${queued.expectedVersion}, state is at ${state.version}`,
      },
    };
  }
  return reduceIntent(state, queued.intent, now);
}

function reduceIntent(state: RegisterState, intent: Intent, now: number): ReduceOutcome {
  switch (intent.type) {
    case 'WorkerHealthChanged': {
      const health: WorkerHealth = {
        name: intent.worker,
        status: intent.status,
        failures: intent.failures,
        changedAt: now,
        ...(intent.lastError !== undefined ? { lastError: intent.lastError } : {}),
      };
      return {
        state: { ...state, workers: { ...state.workers, [intent.worker]: health } },
        effects: [],
      };
    }
    case 'MemorySampled': {
      const effects: Effect[] =
        intent.pressure !== 'normal' && intent.pressure !== state.memory.pressure
          ? [{ type: 'RelieveMemoryPressure', pressure: intent.pressure }]
          : [];
      return {
        state: {
          ...state,
          memory: {
            pressure: intent.pressure,
            rssBytes: intent.rssBytes,
            heapUsedBytes: intent.heapUsedBytes,
            systemFreeBytes: intent.systemFreeBytes,
            systemTotalBytes: intent.systemTotalBytes,
            sampledAt: now,
          },
        },
        effects,
      };
    }
    case 'PeerStateChanged': {
      const prev = state.sync.peers[intent.peerId];
      const peer = {
        peerId: intent.peerId,
        state: intent.state,
        updatesReceived: prev?.updatesReceived ?? 0,
        ...(intent.transport !== undefined
          ? { transport: intent.transport }
          : prev?.transport !== undefined
            ? { transport: prev.transport }
            : {}),
        ...(intent.state === 'Idle'
          ? { lastSyncAt: now }
          : prev?.lastSyncAt !== undefined
            ? { lastSyncAt: prev.lastSyncAt }
            : {}),
      };
      const lastSyncAt = intent.state === 'Idle' ? now : state.sync.lastSyncAt;
      return {
        state: {
          ...state,
          sync: {
            ...state.sync,
            peers: { ...state.sync.peers, [intent.peerId]: peer },
            ...(lastSyncAt !== undefined ? { lastSyncAt } : {}),
          },
        },
        effects: [],
      };
    }
    case 'PeerWentOffline': {
      const prev = state.sync.peers[intent.peerId];
      const peer = {
        updatesReceived: 0,
        ...prev,
        peerId: intent.peerId,
        state: 'Disconnected' as const,
        lastError: intent.reason,
      };
      return {
        state: {
          ...state,
          sync: {
            ...state.sync,
            peers: { ...state.sync.peers, [intent.peerId]: peer },
            lastError: `${intent.peerId}: ${intent.reason}`,
          },
        },
        effects: [],
      };
    }
    case 'RemoteUpdateReceived': {
      const prev = state.sync.peers[intent.peerId];
      if (prev === undefined) return { state, effects: [] };
      return {
        state: {
          ...state,
          sync: {
            ...state.sync,
            peers: {
              ...state.sync.peers,
              [intent.peerId]: {
                ...prev,
                updatesReceived: prev.updatesReceived + 1,
                lastSyncAt: now,
              },
            },
            lastSyncAt: now,
          },
        },
        effects: [],
      };
    }
    case 'VisitNode':
    case 'PinNode':
    case 'MoveNodes':
    case 'PublishOpenEditors':
    case 'ReportGitHead':
    case 'IndexFile':
      // Replicated: the Engine applies these to the workspace document.
      return { state, effects: [] };
  }
}
