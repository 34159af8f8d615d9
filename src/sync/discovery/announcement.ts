/**
 * The mDNS announcement of a Twinspace device: what we publish (service type, instance name,
 * TXT record) and how an announcement received from the network is validated. Everything that
 * arrives by multicast is untrusted input: any field may be missing, of the wrong type, oversized
 * or crafted. Nothing here does I/O.
 */
import { isIP } from 'node:net';

/** DNS-SD service type: `_twinspace._tcp.local`. */
export const TWINSPACE_SERVICE_TYPE = 'twinspace';

/** A device seen on the network. `host` is the address to dial first (also `addresses[0]`). */
export interface DiscoveredPeer {
  readonly deviceId: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly protocolVersion: number;
  /** Usable addresses, the one the announcement came from first, then IPv4, then IPv6. */
  readonly addresses: readonly string[];
  /** Clock time (ms) the announcement was last received. */
  readonly lastSeenAt: number;
}

/** What a received announcement turned out to be. */
export type Announcement =
  | { readonly kind: 'peer'; readonly peer: DiscoveredPeer; readonly instance: string }
  | { readonly kind: 'self' }
  | { readonly kind: 'invalid'; readonly reason: string };

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{3,127}$/;
const UINT = /^[0-9]{1,5}$/;
/** Bytes of UTF-8 a device name may take in the TXT record (one TXT string is at most 255). */
export const MAX_NAME_BYTES = 200;
/** At most this many addresses are kept per peer. */
export const MAX_ADDRESSES = 8;
const MAX_ADDRESS_CANDIDATES = 64;
const MAX_INSTANCE_LENGTH = 255;

export function isValidDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID.test(id);
}

/** The first 12 letters/digits of a device id, lower case, as used in `twinspace-<short id>`. */
export function instanceShortId(deviceId: string): string {
  return deviceId
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 12)
    .toLowerCase();
}

export function serviceInstanceName(deviceId: string): string {
  return `twinspace-${instanceShortId(deviceId)}`;
}

/** The default mDNS host name of a device: unique per device, never the machine's own name. */
export function defaultMdnsHost(deviceId: string): string {
  return `${serviceInstanceName(deviceId)}.local`;
}

/**
 * A device name fit for display: control and bidi-override characters removed, whitespace
 * collapsed, at most MAX_NAME_BYTES of UTF-8 (cut on a code point boundary). May be ''.
 */
export function sanitizeDeviceName(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  const cleaned = raw
    .slice(0, 4 * MAX_NAME_BYTES)
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  let out = '';
  let bytes = 0;
  for (const ch of cleaned) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > MAX_NAME_BYTES) break;
    out += ch;
    bytes += size;
  }
  return out.trim();
}

export interface TxtInput {
  readonly deviceId: string;
  readonly deviceName: string;
  readonly port: number;
  readonly protocolVersion: number;
}

/** The TXT record we publish: `id`, `v` (protocol version), `port`, and `name` (display only). */
export function buildTxtRecord(input: TxtInput): Record<string, string> {
  const txt: Record<string, string> = {
    id: input.deviceId,
    v: String(input.protocolVersion),
    port: String(input.port),
  };
  const name = sanitizeDeviceName(input.deviceName);
  if (name !== '') txt['name'] = name;
  return txt;
}

/** A decimal integer in [min, max] written as a string (TXT values are strings), or undefined. */
export function parseUintField(raw: unknown, min: number, max: number): number | undefined {
  if (typeof raw !== 'string' || !UINT.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isUsableAddress(addr: string): boolean {
  const family = isIP(addr);
  if (family === 4) {
    const first = Number(addr.split('.')[0]);
    // unspecified, multicast and reserved ranges cannot be dialed
    return addr !== '0.0.0.0' && addr !== '255.255.255.255' && first < 224;
  }
  if (family === 6) {
    const lower = addr.toLowerCase();
    if (lower === '::' || lower.startsWith('ff')) return false;
    // link-local without a zone id cannot be dialed
    if (/^fe[89ab]/.test(lower) && !lower.includes('%')) return false;
    return true;
  }
  return false;
}

/**
 * Usable, de-duplicated addresses from an announcement: the referer's (the packet's source) first
 * when the service lists it, then IPv4, then IPv6, at most MAX_ADDRESSES. When the service lists
 * none (seen on loopback), the referer's address alone.
 */
export function orderAddresses(candidates: unknown, refererAddress: unknown): string[] {
  const seen = new Set<string>();
  if (Array.isArray(candidates)) {
    for (const c of candidates.slice(0, MAX_ADDRESS_CANDIDATES)) {
      if (typeof c === 'string' && c.length <= 64 && isUsableAddress(c)) seen.add(c);
    }
  }
  const referer =
    typeof refererAddress === 'string' &&
    refererAddress.length <= 64 &&
    isUsableAddress(refererAddress)
      ? refererAddress
      : undefined;
  const all = [...seen];
  if (all.length === 0) return referer !== undefined ? [referer] : [];
  const v4 = all.filter((a) => isIP(a) === 4);
  const v6 = all.filter((a) => isIP(a) === 6);
  const ordered = [...v4, ...v6];
  if (referer !== undefined && seen.has(referer)) {
    ordered.splice(ordered.indexOf(referer), 1);
    ordered.unshift(referer);
  }
  return ordered.slice(0, MAX_ADDRESSES);
}

/**
 * Validates one service as reported by the mDNS browser (an untrusted, loosely shaped object:
 * `{ name, fqdn, host, port, txt, addresses, referer }`). The TXT record must carry a valid `id`,
 * `v` and `port` (equal to the SRV port); the announcement must give at least one usable address.
 */
export function parseAnnouncement(raw: unknown, selfId: string, now: number): Announcement {
  if (!isRecord(raw)) return { kind: 'invalid', reason: 'announcement is not an object' };
  const txt = raw['txt'];
  if (!isRecord(txt)) return { kind: 'invalid', reason: 'no TXT record' };
  const id = txt['id'];
  if (!isValidDeviceId(id)) return { kind: 'invalid', reason: 'TXT id is not a device id' };
  if (id === selfId) return { kind: 'self' };
  const protocolVersion = parseUintField(txt['v'], 1, 65535);
  if (protocolVersion === undefined) {
    return { kind: 'invalid', reason: 'TXT v is not a protocol version' };
  }
  const port = parseUintField(txt['port'], 1, 65535);
  if (port === undefined) return { kind: 'invalid', reason: 'TXT port is not a port' };
  if (raw['port'] !== port) return { kind: 'invalid', reason: 'SRV port differs from TXT port' };
  const fqdn = raw['fqdn'];
  if (typeof fqdn !== 'string' || fqdn === '' || fqdn.length > MAX_INSTANCE_LENGTH) {
    return { kind: 'invalid', reason: 'no service instance name' };
  }
  const referer = raw['referer'];
  const addresses = orderAddresses(
    raw['addresses'],
    isRecord(referer) ? referer['address'] : undefined,
  );
  const host = addresses[0];
  if (host === undefined) return { kind: 'invalid', reason: 'no usable address' };
  const name =
    sanitizeDeviceName(txt['name']) || sanitizeDeviceName(raw['name']) || serviceInstanceName(id);
  return {
    kind: 'peer',
    instance: fqdn.toLowerCase(),
    peer: { deviceId: id, name, host, port, protocolVersion, addresses, lastSeenAt: now },
  };
}
