/**
 * The on-disk form of the trust store: one JSON document with a schema name and version, and the
 * list of trusted peers. Parsing is strict: anything a hand edit or a torn write could produce that
 * is not exactly this shape is an error naming the file and the offending field, never a silently
 * emptied store.
 */
import { TwinspaceError } from '../../core/errors';

export type WorkspaceGrant = 'read-write' | 'read-only';

/** A device this device trusts (or once trusted: see `revokedAt`). Immutable snapshot. */
export interface TrustedPeer {
  readonly deviceId: string;
  /** Name shown in the UI (from the peer or chosen by the user). */
  readonly name: string;
  /** Base64 of the raw 32-byte Ed25519 public key. */
  readonly publicKey: string;
  /** Milliseconds since the Unix epoch. */
  readonly addedAt: number;
  readonly lastSeenAt?: number;
  /** Per workspace id; a workspace without an entry gets `defaultGrant`. */
  readonly grants: Readonly<Record<string, WorkspaceGrant>>;
  readonly defaultGrant: WorkspaceGrant;
  /** Set when the user revoked the device: it is kept for display but never trusted. */
  readonly revokedAt?: number;
}

export const TRUST_FILE_SCHEMA = 'twinspace.trusted-devices';
export const TRUST_FILE_VERSION = 1;
export const MAX_PEER_NAME_LENGTH = 256;
const MAX_WORKSPACE_ID_LENGTH = 512;

const PEER_FIELDS = new Set([
  'deviceId',
  'name',
  'publicKey',
  'addedAt',
  'lastSeenAt',
  'grants',
  'defaultGrant',
  'revokedAt',
]);
const TOP_FIELDS = new Set(['schema', 'version', 'peers']);
const BASE64_32_BYTES = /^[A-Za-z0-9+/]{43}=$/;

/** The trust file could not be read as a trust store. `code` is always 'validation'. */
export class TrustFileError extends TwinspaceError {
  constructor(
    readonly file: string,
    /** Where in the document, e.g. `peers[2].publicKey`; empty for the whole document. */
    readonly field: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      'validation',
      `trust store ${file} is invalid${field ? ` at ${field}` : ''}: ${detail}. ` +
        'Fix or move the file away (moving it away forgets every paired device).',
      options,
    );
    this.name = 'TrustFileError';
  }
}

export function isWorkspaceGrant(value: unknown): value is WorkspaceGrant {
  return value === 'read-write' || value === 'read-only';
}

export function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

export function isValidWorkspaceId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_WORKSPACE_ID_LENGTH;
}

export function isValidPeerName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_PEER_NAME_LENGTH;
}

/** Canonical base64 of exactly 32 bytes, or undefined. */
export function decodePublicKey(text: string): Uint8Array | undefined {
  if (!BASE64_32_BYTES.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

export function encodePublicKey(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses and validates the file's text. `deviceIdOf` derives the device id from a public key; an
 * entry whose id does not match its key is rejected (a hand edit must not re-point an id).
 */
export function parseTrustFile(
  text: string,
  file: string,
  deviceIdOf: (publicKey: Uint8Array) => string,
): TrustedPeer[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    const detail = text.trim() === '' ? 'the file is empty' : 'not valid JSON';
    throw new TrustFileError(file, '', detail, { cause: error });
  }
  if (!isPlainObject(doc)) throw new TrustFileError(file, '', 'expected a JSON object');
  if (doc.schema !== TRUST_FILE_SCHEMA) {
    throw new TrustFileError(file, 'schema', `expected "${TRUST_FILE_SCHEMA}"`);
  }
  const version = doc.version;
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new TrustFileError(file, 'version', 'expected an integer schema version');
  }
  if (version > TRUST_FILE_VERSION) {
    throw new TrustFileError(
      file,
      'version',
      `schema version ${version} was written by a newer Twinspace (this one reads up to ${TRUST_FILE_VERSION})`,
    );
  }
  if (version < 1) throw new TrustFileError(file, 'version', `unknown schema version ${version}`);
  for (const key of Object.keys(doc)) {
    if (!TOP_FIELDS.has(key)) throw new TrustFileError(file, key, 'unknown field');
  }
  if (!Array.isArray(doc.peers)) throw new TrustFileError(file, 'peers', 'expected an array');
  const seen = new Set<string>();
  return (doc.peers as unknown[]).map((raw, index) => {
    const peer = parsePeer(raw, `peers[${index}]`, file, deviceIdOf);
    if (seen.has(peer.deviceId)) {
      throw new TrustFileError(file, `peers[${index}].deviceId`, 'duplicate device id');
    }
    seen.add(peer.deviceId);
    return peer;
  });
}

function parsePeer(
  raw: unknown,
  at: string,
  file: string,
  deviceIdOf: (publicKey: Uint8Array) => string,
): TrustedPeer {
  const bad = (field: string, detail: string): TrustFileError =>
    new TrustFileError(file, `${at}.${field}`, detail);
  if (!isPlainObject(raw)) throw new TrustFileError(file, at, 'expected an object');
  for (const key of Object.keys(raw)) {
    if (!PEER_FIELDS.has(key)) throw bad(key, 'unknown field');
  }
  const { deviceId, name, publicKey, addedAt, lastSeenAt, grants, defaultGrant, revokedAt } = raw;
  if (typeof publicKey !== 'string') throw bad('publicKey', 'expected a base64 string');
  const keyBytes = decodePublicKey(publicKey);
  if (keyBytes === undefined) {
    throw bad('publicKey', 'expected the base64 of a 32-byte Ed25519 public key');
  }
  if (typeof deviceId !== 'string') throw bad('deviceId', 'expected a string');
  if (deviceIdOf(keyBytes) !== deviceId) {
    throw bad('deviceId', 'does not match the public key');
  }
  if (!isValidPeerName(name)) {
    throw bad('name', `expected a string of at most ${MAX_PEER_NAME_LENGTH} characters`);
  }
  if (!isTimestamp(addedAt)) throw bad('addedAt', 'expected a timestamp (ms)');
  if (lastSeenAt !== undefined && !isTimestamp(lastSeenAt)) {
    throw bad('lastSeenAt', 'expected a timestamp (ms)');
  }
  if (revokedAt !== undefined && !isTimestamp(revokedAt)) {
    throw bad('revokedAt', 'expected a timestamp (ms)');
  }
  if (!isWorkspaceGrant(defaultGrant)) {
    throw bad('defaultGrant', 'expected "read-write" or "read-only"');
  }
  if (!isPlainObject(grants)) throw bad('grants', 'expected an object');
  const entries: [string, WorkspaceGrant][] = [];
  for (const [workspaceId, grant] of Object.entries(grants)) {
    if (!isValidWorkspaceId(workspaceId)) throw bad('grants', 'invalid workspace id');
    if (!isWorkspaceGrant(grant)) {
      throw bad(`grants[${JSON.stringify(workspaceId)}]`, 'expected "read-write" or "read-only"');
    }
    entries.push([workspaceId, grant]);
  }
  return makePeer({
    deviceId,
    name,
    publicKey,
    addedAt,
    grants: Object.fromEntries(entries),
    defaultGrant,
    ...(lastSeenAt !== undefined ? { lastSeenAt } : {}),
    ...(revokedAt !== undefined ? { revokedAt } : {}),
  });
}

/** A frozen peer (grants frozen too) with fields in a stable order. */
export function makePeer(peer: TrustedPeer): TrustedPeer {
  return Object.freeze({
    deviceId: peer.deviceId,
    name: peer.name,
    publicKey: peer.publicKey,
    addedAt: peer.addedAt,
    ...(peer.lastSeenAt !== undefined ? { lastSeenAt: peer.lastSeenAt } : {}),
    grants: Object.freeze(Object.fromEntries(Object.entries(peer.grants))),
    defaultGrant: peer.defaultGrant,
    ...(peer.revokedAt !== undefined ? { revokedAt: peer.revokedAt } : {}),
  });
}

export function serializeTrustFile(peers: readonly TrustedPeer[]): string {
  return `${JSON.stringify(
    { schema: TRUST_FILE_SCHEMA, version: TRUST_FILE_VERSION, peers },
    undefined,
    2,
  )}\n`;
}
