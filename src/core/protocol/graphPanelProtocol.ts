/**
 * The Workspace Graph webview protocol (host ↔ webview), in the shape of syncPanelProtocol.ts:
 * the webview sends `request`s with an id and gets one `response` with the same id; the host
 * pushes `notification`s. The first request is always `ready`, carrying the state vector of the
 * webview's cached replica (from IndexedDB) so the host sends only what it lacks.
 *
 * Yjs updates and state vectors travel as base64 strings (compact, and a string is cheap to
 * bound before decoding). Both directions are validated: the webview is untrusted input to the
 * host, and the webview checks what it receives before applying it to its replica.
 *
 * Pure: no DOM, no Node (base64 is implemented here, not taken from Buffer or atob).
 */

export const GRAPH_PANEL_PROTOCOL_VERSION = 1;

/** Largest Yjs update the host may send in one message (decoded bytes). */
export const MAX_GRAPH_UPDATE_BYTES = 64 * 1024 * 1024;
/** Largest state vector the webview may send (decoded bytes). */
export const MAX_STATE_VECTOR_BYTES = 256 * 1024;
/** At most this many positions in one `moveNodes` request (and in one MoveNodes intent). */
export const MAX_MOVE_POSITIONS = 500;
/** Coordinates are finite and within ±this (graph units). */
export const MAX_COORDINATE = 1_000_000;
/** Node ids are at most this long (matches src/core/workspaceDoc.ts MAX_ID_LENGTH). */
export const MAX_GRAPH_NODE_ID_LENGTH = 4096;

export interface NodePosition {
  readonly nodeId: string;
  readonly x: number;
  readonly y: number;
}

/** Local lifecycle of a node on this device (not replicated). */
export type NodeLifecycle = 'cold' | 'warm' | 'active';

/** What the host tells the webview besides the replica: local, per-device facts. */
export interface GraphPanelStatus {
  /** This device's id ('' when Device Sync is not running): its own badge is drawn differently. */
  readonly deviceId: string;
  /** Node ids that are Warm (loaded in the background) or Active (visible in an editor). */
  readonly lifecycle: Readonly<Record<string, NodeLifecycle>>;
}

/** Webview → host. */
export type GraphPanelRequest =
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'ready';
      /** base64 Yjs state vector of the webview's replica ('' for an empty replica). */
      readonly stateVector: string;
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'moveNodes';
      readonly positions: readonly NodePosition[];
    }
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: 'openNode';
      readonly nodeId: string;
    };

/** Host → webview. */
export type GraphPanelMessage =
  | {
      readonly kind: 'response';
      readonly id: number;
      readonly ok: boolean;
      readonly error?: string;
    }
  | {
      readonly kind: 'notification';
      readonly method: 'update';
      /** base64 Yjs update of the workspace document. */
      readonly update: string;
    }
  | { readonly kind: 'notification'; readonly method: 'status'; readonly status: GraphPanelStatus };

export type Validated<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Names a hostile value without calling into it (no toString, no getters). */
function describeValue(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x.slice(0, 80)) : typeof x;
}

function isRequestId(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function isGraphNodeId(x: unknown): x is string {
  return (
    typeof x === 'string' &&
    x.length > 0 &&
    x.length <= MAX_GRAPH_NODE_ID_LENGTH &&
    !x.includes('\u0000')
  );
}

export function isCoordinate(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_COORDINATE;
}

/** Validates a list of positions: bounded count, valid ids, finite bounded numbers, no duplicates. */
export function parseNodePositions(raw: unknown): Validated<readonly NodePosition[]> {
  if (!Array.isArray(raw)) return { ok: false, error: 'positions must be an array' };
  if (raw.length === 0) return { ok: false, error: 'positions is empty' };
  if (raw.length > MAX_MOVE_POSITIONS) {
    return { ok: false, error: `more than ${MAX_MOVE_POSITIONS} positions` };
  }
  const seen = new Set<string>();
  const out: NodePosition[] = [];
  for (const [i, p] of (raw as unknown[]).entries()) {
    if (!isRecord(p)) return { ok: false, error: `positions[${i}] is not an object` };
    const nodeId = p['nodeId'];
    const x = p['x'];
    const y = p['y'];
    if (!isGraphNodeId(nodeId)) {
      return {
        ok: false,
        error: `positions[${i}].nodeId is not a node id: ${describeValue(nodeId)}`,
      };
    }
    if (!isCoordinate(x) || !isCoordinate(y)) {
      return { ok: false, error: `positions[${i}] has a non-finite or out-of-range coordinate` };
    }
    if (seen.has(nodeId)) return { ok: false, error: `positions[${i}] repeats a node id` };
    seen.add(nodeId);
    out.push({ nodeId, x, y });
  }
  return { ok: true, value: out };
}

/** A base64 string (standard alphabet, padded) that decodes to at most `maxBytes` bytes. */
function checkBase64(
  x: unknown,
  what: string,
  maxBytes: number,
  allowEmpty: boolean,
): string | undefined {
  if (typeof x !== 'string') return `${what} must be a base64 string`;
  if (x.length === 0) return allowEmpty ? undefined : `${what} is empty`;
  if (x.length > Math.ceil(maxBytes / 3) * 4) return `${what} is larger than ${maxBytes} bytes`;
  if (x.length % 4 !== 0 || !BASE64_PATTERN.test(x)) return `${what} is not base64`;
  return undefined;
}

const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

/** Validates a message that claims to come from the Workspace Graph webview. */
export function parseGraphPanelRequest(raw: unknown): Validated<GraphPanelRequest> {
  if (!isRecord(raw)) return { ok: false, error: 'message is not an object' };
  if (raw['kind'] !== 'request') return { ok: false, error: 'kind must be "request"' };
  const id = raw['id'];
  if (!isRequestId(id)) return { ok: false, error: 'id must be a non-negative integer' };
  const method = raw['method'];
  switch (method) {
    case 'ready': {
      const stateVector = raw['stateVector'];
      const bad = checkBase64(stateVector, 'stateVector', MAX_STATE_VECTOR_BYTES, true);
      if (bad !== undefined || typeof stateVector !== 'string')
        return { ok: false, error: bad ?? 'stateVector' };
      return { ok: true, value: { kind: 'request', id, method, stateVector } };
    }
    case 'moveNodes': {
      const positions = parseNodePositions(raw['positions']);
      if (!positions.ok) return positions;
      return { ok: true, value: { kind: 'request', id, method, positions: positions.value } };
    }
    case 'openNode': {
      const nodeId = raw['nodeId'];
      if (!isGraphNodeId(nodeId))
        return { ok: false, error: `not a node id: ${describeValue(nodeId)}` };
      return { ok: true, value: { kind: 'request', id, method, nodeId } };
    }
    default:
      return { ok: false, error: `unknown method: ${describeValue(method)}` };
  }
}

const LIFECYCLES: ReadonlySet<string> = new Set<NodeLifecycle>(['cold', 'warm', 'active']);
/** Bound on the lifecycle map the host may send (entries). */
export const MAX_LIFECYCLE_ENTRIES = 100_000;

function parseStatus(raw: unknown): Validated<GraphPanelStatus> {
  if (!isRecord(raw)) return { ok: false, error: 'status is not an object' };
  const deviceId = raw['deviceId'];
  if (typeof deviceId !== 'string' || deviceId.length > 256) {
    return { ok: false, error: 'status.deviceId must be a short string' };
  }
  const lifecycle = raw['lifecycle'];
  if (!isRecord(lifecycle)) return { ok: false, error: 'status.lifecycle is not an object' };
  const out: Record<string, NodeLifecycle> = Object.create(null) as Record<string, NodeLifecycle>;
  const keys = Object.keys(lifecycle);
  if (keys.length > MAX_LIFECYCLE_ENTRIES)
    return { ok: false, error: 'status.lifecycle is too large' };
  for (const key of keys) {
    const value = lifecycle[key];
    if (!isGraphNodeId(key) || typeof value !== 'string' || !LIFECYCLES.has(value)) {
      return { ok: false, error: `status.lifecycle has an invalid entry ${describeValue(key)}` };
    }
    out[key] = value as NodeLifecycle;
  }
  return { ok: true, value: { deviceId, lifecycle: out } };
}

/** Validates a message that claims to come from the host (the webview checks before applying). */
export function parseGraphPanelMessage(raw: unknown): Validated<GraphPanelMessage> {
  if (!isRecord(raw)) return { ok: false, error: 'message is not an object' };
  if (raw['kind'] === 'response') {
    const id = raw['id'];
    if (!isRequestId(id)) return { ok: false, error: 'id must be a non-negative integer' };
    const ok = raw['ok'];
    if (typeof ok !== 'boolean') return { ok: false, error: 'ok must be a boolean' };
    const error = raw['error'];
    if (error !== undefined && typeof error !== 'string')
      return { ok: false, error: 'error must be a string' };
    return {
      ok: true,
      value: {
        kind: 'response',
        id,
        ok,
        ...(error !== undefined ? { error: error.slice(0, 1000) } : {}),
      },
    };
  }
  if (raw['kind'] !== 'notification')
    return { ok: false, error: 'kind must be "response" or "notification"' };
  const method = raw['method'];
  switch (method) {
    case 'update': {
      const update = raw['update'];
      const bad = checkBase64(update, 'update', MAX_GRAPH_UPDATE_BYTES, false);
      if (bad !== undefined || typeof update !== 'string')
        return { ok: false, error: bad ?? 'update' };
      return { ok: true, value: { kind: 'notification', method, update } };
    }
    case 'status': {
      const status = parseStatus(raw['status']);
      if (!status.ok) return status;
      return { ok: true, value: { kind: 'notification', method, status: status.value } };
    }
    default:
      return { ok: false, error: `unknown method: ${describeValue(method)}` };
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Standard, padded base64 of `bytes`. */
export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    chunk +=
      ALPHABET.charAt(v >>> 18) +
      ALPHABET.charAt((v >>> 12) & 63) +
      ALPHABET.charAt((v >>> 6) & 63) +
      ALPHABET.charAt(v & 63);
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  if (i < n) {
    const a = bytes[i] ?? 0;
    const b = i + 1 < n ? (bytes[i + 1] ?? 0) : 0;
    const v = (a << 16) | (b << 8);
    chunk +=
      ALPHABET.charAt(v >>> 18) +
      ALPHABET.charAt((v >>> 12) & 63) +
      (i + 1 < n ? ALPHABET.charAt((v >>> 6) & 63) : '=') +
      '=';
  }
  parts.push(chunk);
  return parts.join('');
}

/** Decodes standard, padded base64; returns undefined for anything else. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      let d: number;
      if (c === 61 /* = */ && i + 4 === text.length && j >= 4 - pad) d = 0;
      else {
        d = c < 128 ? (DECODE[c] ?? -1) : -1;
        if (d < 0) return undefined;
      }
      v = (v << 6) | d;
    }
    if (o < out.length) out[o++] = v >>> 16;
    if (o < out.length) out[o++] = (v >>> 8) & 255;
    if (o < out.length) out[o++] = v & 255;
  }
  return out;
}
