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

export interface SyncPanelPeerView {
  readonly peerId: string;
  readonly state: string;
  readonly transport?: string;
  readonly lastSyncAt?: number;
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
  readonly deviceId: string;
  readonly statusText: string;
  readonly version: number;
  readonly workers: readonly SyncPanelWorkerView[];
  readonly peers: readonly SyncPanelPeerView[];
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
    };

/** The only commands the panel may ask the host to run (the webview is untrusted). */
export const SYNC_PANEL_COMMANDS = ['twinspace.showLog', 'twinspace.restartDeviceSync'] as const;
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
    default:
      return { ok: false, error: `unknown method: ${describeValue(method)}` };
  }
}
