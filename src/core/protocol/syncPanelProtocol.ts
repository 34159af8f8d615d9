/**
 * src/core/protocol: the typed message protocols between the host and each webview. Pure data
 * and validators; shared by src/host and webview-ui (the only src/ files webview code may import).
 *
 * Shape (GitLens-style): a webview sends `request`s with an id and gets one `response` with the
 * same id; the host pushes `notification`s. The first request is always `ready`.
 */

import type {
  ConflictChoice,
  DeviceGitHead,
  FileConflict,
  FileSyncState,
  FileSyncStatus,
  FolderPlanSummary,
  GitHead,
  LinkChoice,
  PlanItem,
  PlanItemAction,
} from '../files/fileSyncStatus';

// The file sync's report, re-exported for the webview (which may import only src/core/protocol).
export type {
  ConflictChoice,
  DeviceGitHead,
  FileConflict,
  FileSyncState,
  FileSyncStatus,
  FolderPlanSummary,
  GitHead,
  LinkChoice,
  PlanItem,
  PlanItemAction,
};

export const SYNC_PANEL_PROTOCOL_VERSION = 2;

export interface SyncPanelWorkerView {
  readonly name: string;
  readonly status: string;
  readonly failures: number;
}

/** A trusted device (from the trust store) merged with its live session, if any. */
export interface SyncPanelPeerView {
  readonly peerId: string;
  /** Name the device gave when it paired. */
  readonly name?: string;
  readonly state: string;
  readonly transport?: string;
  readonly lastSyncAt?: number;
  readonly lastSeenAt?: number;
  readonly address?: string;
  readonly pendingOut?: number;
  readonly pendingIn?: number;
  readonly lastError?: string;
  /** How many editors the device has open (published); "Continue here" is offered when > 0. */
  readonly openEditors?: number;
  /** Device Sync with this device is paused on this device (for this run). */
  readonly paused?: boolean;
}

/** A device found on the network that is not trusted yet: offered for pairing. */
export interface SyncPanelDiscoveredView {
  readonly deviceId: string;
  readonly name: string;
  readonly address: string;
}

export interface SyncPanelDiagnosticView {
  readonly at: number;
  readonly channel: string;
  readonly severity: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly count: number;
}

/** Everything the Sync Panel renders. */
export interface SyncPanelView {
  readonly deviceName: string;
  /** Full device id ('' while Device Sync is not running). */
  readonly deviceId: string;
  /** `ABCD-EFGH-JKLM`, for reading aloud. */
  readonly deviceShortId: string;
  /** Where this device accepts connections (`host:port`), when listening. */
  readonly listenAddress?: string;
  readonly workspaceId?: string;
  /** Why Device Sync could not start, if it could not. */
  readonly syncError?: string;
  readonly statusText: string;
  readonly version: number;
  readonly workers: readonly SyncPanelWorkerView[];
  readonly peers: readonly SyncPanelPeerView[];
  readonly discovered: readonly SyncPanelDiscoveredView[];
  readonly diagnostics: readonly SyncPanelDiagnosticView[];
  /**
   * The file sync of the linked folder; absent (or state `off`) when no file sync runs. Filled
   * in by the panel's controller from the host's FileSyncView.
   */
  readonly files?: FileSyncStatus;
}

/** Webview → host. */
export type SyncPanelRequest =
  | { readonly kind: 'request'; readonly id: number; readonly method: 'ready' }
  | { readonly kind: 'request'; readonly id: number; readonly method: 'refresh' }
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'runCommand';
      readonly command: SyncPanelCommand;
      /**
       * The trusted device a device command acts on (passed to the command as `{ deviceId }`):
       * required for SYNC_PANEL_DEVICE_COMMANDS, refused for the others.
       */
      readonly deviceId?: string;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'forgetDevice';
      readonly deviceId: string;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      /** Stops Device Sync with a trusted device (no dialing, session closed) until resumed. */
      readonly method: 'pauseDevice';
      readonly deviceId: string;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'resumeDevice';
      readonly deviceId: string;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      /** Pair with a discovered device (asks for its code). */
      readonly method: 'pairWith';
      readonly deviceId: string;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      /** Open the settings on `twinspace.deviceName`. */
      readonly method: 'renameDevice';
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      /** Run the first sync of a newly linked folder (answers the dry-run plan). */
      readonly method: 'confirmLink';
      readonly choice: LinkChoice;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'resolveConflict';
      readonly conflictId: string;
      readonly choice: ConflictChoice;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      /** VS Code's diff editor between the conflict copy and the file. */
      readonly method: 'openDiff';
      readonly conflictId: string;
    };

export type SyncPanelMethod = SyncPanelRequest['method'];

export const LINK_CHOICES: readonly LinkChoice[] = ['merge', 'takePeer', 'keepMine'];
export const CONFLICT_CHOICES: readonly ConflictChoice[] = ['keepCurrent', 'keepCopy'];

/** Result codes of a failed request (the small fixed set of BRIEF 1.1). */
export type SyncPanelErrorCode = 'validation' | 'not_found' | 'busy' | 'internal';

/** The only commands the panel may ask the host to run (the webview is untrusted). */
export const SYNC_PANEL_COMMANDS = [
  'twinspace.showLog',
  'twinspace.restartDeviceSync',
  'twinspace.pairDevice',
  'twinspace.addPeerAddress',
  'twinspace.linkWorkspace',
  'twinspace.continueOnThisDevice',
] as const;
export type SyncPanelCommand = (typeof SYNC_PANEL_COMMANDS)[number];

/** The panel's commands that act on one trusted device: `runCommand` carries its `deviceId`. */
export const SYNC_PANEL_DEVICE_COMMANDS = [
  'twinspace.continueOnThisDevice',
] as const satisfies readonly SyncPanelCommand[];
export type SyncPanelDeviceCommand = (typeof SYNC_PANEL_DEVICE_COMMANDS)[number];

export function isSyncPanelDeviceCommand(
  command: SyncPanelCommand,
): command is SyncPanelDeviceCommand {
  return SYNC_PANEL_DEVICE_COMMANDS.some((c) => c === command);
}

/** Host → webview. */
export type SyncPanelMessage =
  | {
      readonly kind: 'response';
      readonly id: number;
      readonly ok: boolean;
      readonly error?: string;
      readonly code?: SyncPanelErrorCode;
      readonly view?: SyncPanelView;
    }
  | { readonly kind: 'notification'; readonly method: 'view'; readonly view: SyncPanelView };

export type Validated<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Names a hostile value without calling into it (no toString, no getters). */
function describeValue(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x.slice(0, 80)) : typeof x;
}

/** A device id: 32 characters of RFC 4648 base32 (see src/sync/identity/DeviceIdentity.ts). */
const DEVICE_ID_PATTERN = /^[A-Z2-7]{32}$/;

export function isSyncPanelDeviceId(x: unknown): x is string {
  return typeof x === 'string' && DEVICE_ID_PATTERN.test(x);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Longest conflict id accepted (ids are folder-relative paths). */
export const MAX_CONFLICT_ID_LENGTH = 4096;

/** A conflict id: a folder-relative path, bounded, without control characters. */
export function isConflictId(x: unknown): x is string {
  return (
    typeof x === 'string' &&
    x.length > 0 &&
    x.length <= MAX_CONFLICT_ID_LENGTH &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(x)
  );
}

/**
 * The request id of a message, if it has a usable one: lets the host answer a rejected request
 * (with `ok: false`) so the webview is not left waiting.
 */
export function requestIdOf(raw: unknown): number | undefined {
  if (!isRecord(raw)) return undefined;
  const id = raw['id'];
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

/** Validates a message that claims to come from the Sync Panel webview. */
export function parseSyncPanelRequest(raw: unknown): Validated<SyncPanelRequest> {
  if (!isRecord(raw)) return { ok: false, error: 'message is not an object' };
  if (raw['kind'] !== 'request') return { ok: false, error: 'kind must be "request"' };
  const id = raw['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    return { ok: false, error: 'id must be a non-negative integer' };
  }
  const method = raw['method'];
  switch (method) {
    case 'ready':
    case 'refresh':
    case 'renameDevice':
      return { ok: true, value: { kind: 'request', id, method } };
    case 'confirmLink': {
      const choice = LINK_CHOICES.find((c) => c === raw['choice']);
      if (choice === undefined)
        return { ok: false, error: `not a link choice: ${describeValue(raw['choice'])}` };
      return { ok: true, value: { kind: 'request', id, method, choice } };
    }
    case 'resolveConflict':
    case 'openDiff': {
      const conflictId = raw['conflictId'];
      if (!isConflictId(conflictId))
        return { ok: false, error: `not a conflict id: ${describeValue(conflictId)}` };
      if (method === 'openDiff')
        return { ok: true, value: { kind: 'request', id, method, conflictId } };
      const choice = CONFLICT_CHOICES.find((c) => c === raw['choice']);
      if (choice === undefined)
        return { ok: false, error: `not a conflict choice: ${describeValue(raw['choice'])}` };
      return { ok: true, value: { kind: 'request', id, method, conflictId, choice } };
    }
    case 'runCommand': {
      const command = raw['command'];
      const allowed = SYNC_PANEL_COMMANDS.find((c) => c === command);
      if (allowed === undefined)
        return { ok: false, error: `command not allowed: ${describeValue(command)}` };
      const deviceId = raw['deviceId'];
      if (!isSyncPanelDeviceCommand(allowed)) {
        if (deviceId !== undefined) return { ok: false, error: `${allowed} takes no device id` };
        return { ok: true, value: { kind: 'request', id, method, command: allowed } };
      }
      if (!isSyncPanelDeviceId(deviceId))
        return { ok: false, error: `not a device id: ${describeValue(deviceId)}` };
      return { ok: true, value: { kind: 'request', id, method, command: allowed, deviceId } };
    }
    case 'forgetDevice':
    case 'pauseDevice':
    case 'resumeDevice':
    case 'pairWith': {
      const deviceId = raw['deviceId'];
      if (!isSyncPanelDeviceId(deviceId))
        return { ok: false, error: `not a device id: ${describeValue(deviceId)}` };
      return { ok: true, value: { kind: 'request', id, method, deviceId } };
    }
    default:
      return { ok: false, error: `unknown method: ${describeValue(method)}` };
  }
}
