/**
 * Intents: every change to reducer-owned or replicated state enters the Engine as one of these.
 *
 * Naming rule (see ARCHITECTURE.md): an intent's `type` is PascalCase and is either
 *  - an event in the past tense, `<Subject><PastParticiple>` (`WorkerFailed`, `MemorySampled`,
 *    `RemoteUpdateReceived`), when it reports something that already happened, or
 *  - a command in the imperative, `<Verb><Object>` (`VisitNode`, `PinNode`), when it asks the
 *    Engine to change state and may be refused.
 */
import type { OpenEditorsState } from './openEditors';

export type IntentSource =
  | 'Restore'
  | 'LocalUI'
  | 'PeerSync'
  | 'FileWatcher'
  | 'EditorEvents'
  | 'Supervisor'
  | 'PrefetchScheduler'
  | 'MemoryMonitor';

/** Lower drains first. Restore and the user come before peers, advisory hints come last. */
export const SOURCE_PRIORITY: Readonly<Record<IntentSource, number>> = Object.freeze({
  Restore: 0,
  LocalUI: 1,
  PeerSync: 2,
  FileWatcher: 3,
  EditorEvents: 4,
  Supervisor: 5,
  PrefetchScheduler: 6,
  MemoryMonitor: 7,
});

export type WorkerStatus = 'starting' | 'running' | 'backoff' | 'failed' | 'stopped';
export type MemoryPressure = 'normal' | 'elevated' | 'critical';
export type PeerSessionState =
  'Handshaking' | 'Authenticated' | 'Syncing' | 'Idle' | 'Disconnected';
export type NodeKind = 'file' | 'folder' | 'url';
export type EdgeKind = 'navigation' | 'definition' | 'link' | 'explicit';

export type Intent =
  /** Supervisor: a worker's health changed. */
  | {
      readonly type: 'WorkerHealthChanged';
      readonly worker: string;
      readonly status: WorkerStatus;
      readonly failures: number;
      readonly lastError?: string;
    }
  /** Memory monitor: one sample of process and system memory. Advisory. */
  | {
      readonly type: 'MemorySampled';
      readonly rssBytes: number;
      readonly heapUsedBytes: number;
      readonly systemFreeBytes: number;
      readonly systemTotalBytes: number;
      readonly pressure: MemoryPressure;
    }
  /** Sync: a peer session changed state. */
  | {
      readonly type: 'PeerStateChanged';
      readonly peerId: string;
      readonly state: PeerSessionState;
      readonly transport?: string;
    }
  /** Sync: a peer went offline; `reason` says why (closed, timeout, rejected, …). */
  | { readonly type: 'PeerWentOffline'; readonly peerId: string; readonly reason: string }
  /** Sync: a validated Yjs update from a peer, applied with the peer as origin. */
  | { readonly type: 'RemoteUpdateReceived'; readonly peerId: string; readonly update: Uint8Array }
  /** Command: record a visit to a node of the workspace graph (creates it if new). */
  | {
      readonly type: 'VisitNode';
      readonly nodeId: string;
      readonly kind: NodeKind;
      readonly label: string;
      readonly from?: string;
      readonly edge?: EdgeKind;
    }
  /** Command: pin or unpin a node (replicated). */
  | { readonly type: 'PinNode'; readonly nodeId: string; readonly pinned: boolean }
  /** Command: store graph layout positions (replicated; bounded count, finite coordinates). */
  | {
      readonly type: 'MoveNodes';
      readonly positions: readonly {
        readonly nodeId: string;
        readonly x: number;
        readonly y: number;
      }[];
    }
  /**
   * Command: publish this device's open editors (replicated; stored in `devices.editors` under
   * `deviceId`, replacing that device's previous entry; validated in openEditors.ts).
   */
  | {
      readonly type: 'PublishOpenEditors';
      readonly deviceId: string;
      readonly deviceName: string;
      readonly editors: OpenEditorsState;
    }
  /** Command: report this device's git branch and HEAD for the folder (replicated; gitHeads.ts). */
  | {
      readonly type: 'ReportGitHead';
      readonly deviceId: string;
      readonly branch: string;
      readonly head: string;
    }
  /** Command: record a file in the replicated file index (see FileEntry in workspaceDoc.ts). */
  | ({
      readonly type: 'IndexFile';
      readonly path: string;
      readonly size: number;
      readonly hash: string;
    } & IndexFileDetails);

/** The optional details of an IndexFile (defaults: a binary file, not executable, present). */
export interface IndexFileDetails {
  readonly kind?: 'text' | 'binary' | 'dir';
  readonly executable?: boolean;
  /** A tombstone: the file was deleted; `hash` is the content that was deleted. */
  readonly deleted?: boolean;
  /** The hash this version replaced ('' for a new file): how peers tell an update from a conflict. */
  readonly base?: string;
  /** Device that made this version. */
  readonly by?: string;
  /** When (epoch ms, from the runtime's clock). */
  readonly at?: number;
}

export type IntentType = Intent['type'];

/** An intent as it sits in the ControlPanel's queue. */
export interface QueuedIntent {
  readonly intent: Intent;
  readonly source: IntentSource;
  /** Clock time (ms) when it was queued. Comes from the runtime's clock: core never reads time. */
  readonly queuedAt: number;
  /** Monotonically increasing per ControlPanel; breaks ties deterministically. */
  readonly seq: number;
  /** State version the sender saw (optimistic concurrency for UI commands). */
  readonly expectedVersion?: number;
}

/** The deterministic drain order: source priority, then queue time, then sequence. */
export function compareQueued(a: QueuedIntent, b: QueuedIntent): number {
  return (
    SOURCE_PRIORITY[a.source] - SOURCE_PRIORITY[b.source] ||
    a.queuedAt - b.queuedAt ||
    a.seq - b.seq
  );
}

/** Intents whose effect lives in the replicated Yjs documents (the rest are local-only). */
export function isReplicatedIntent(intent: Intent): boolean {
  switch (intent.type) {
    case 'RemoteUpdateReceived':
    case 'VisitNode':
    case 'PinNode':
    case 'MoveNodes':
    case 'PublishOpenEditors':
    case 'ReportGitHead':
    case 'IndexFile':
      return true;
    default:
      return false;
  }
}
