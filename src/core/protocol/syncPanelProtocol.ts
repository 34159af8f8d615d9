/**
 * src/core/protocol: the typed message protocols between the host and each webview. Pure data
 * and validators; shared by src/host and webview-ui (the only src/ files webview code may import).
 *
 * Shape (GitLens-style): a webview sends `request`s with an id and gets one `response` with the
 * same id; the host pushes `notification`s. The first request is always `ready`.
 */

export const SYNC_PANEL_PROTOCOL_VERSION = 1;

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
      /** Pair with a discovered device (asks for its code). */
      readonly method: 'pairWith';
      readonly deviceId: string;
    };

/** The only commands the panel may ask the host to run (the webview is untrusted). */
export const SYNC_PANEL_COMMANDS = [
  'twinspace.showLog',
  'twinspace.restartDeviceSync',
  'twinspace.pairDevice',
  'twinspace.addPeerAddress',
] as const;
export type SyncPanelCommand = (typeof SYNC_PANEL_COMMANDS)[number];

/** Host → webview. */
export type SyncPanelMessage =
  | {
      readonly kind: 'response';
      readonly id: number;
      readonly ok: boolean;
      readonly error?: string;
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
      return { ok: true, value: { kind: 'request', id, method } };
    case 'runCommand': {
      const command = raw['command'];
      const allowed = SYNC_PANEL_COMMANDS.find((c) => c === command);
      if (allowed === undefined)
        return { ok: false, error: `command not allowed: ${describeValue(command)}` };
      return { ok: true, value: { kind: 'request', id, method, command: allowed } };
    }
    case 'forgetDevice':
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
