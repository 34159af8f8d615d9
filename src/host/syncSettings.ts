/**
 * Device Sync settings, read and validated without `vscode` (plain Node tests import this file).
 * The host passes in what `workspace.getConfiguration('twinspace')` returned: user input, so every
 * value is checked and a bad one is reported, never thrown deep inside the runtime.
 */
import { formatAddress, parseAddress, type PeerAddress } from '../sync/SyncWorker';

/** Longest workspace id sent on the wire (SyncStep1 allows 255 bytes; keep a margin). */
export const MAX_WORKSPACE_ID_BYTES = 128;

export interface DeviceSyncSettings {
  readonly deviceName: string;
  readonly workspaceId: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly mdns: boolean;
  readonly manualPeers: readonly PeerAddress[];
  /** One sentence per ignored value (shown in the log). */
  readonly problems: readonly string[];
}

/** Raw values as `getConfiguration('twinspace').get(...)` returns them. */
export interface RawSyncSettings {
  readonly deviceName?: unknown;
  readonly workspaceId?: unknown;
  readonly listenHost?: unknown;
  readonly listenPort?: unknown;
  readonly mdns?: unknown;
  readonly manualPeers?: unknown;
}

/** Trims a workspace id to at most MAX_WORKSPACE_ID_BYTES of UTF-8 without splitting a character. */
function clampUtf8(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** The workspace id: the setting when set, else the first folder's name, else 'default'. */
export function workspaceIdFor(setting: unknown, folderName: string | undefined): string {
  const chosen =
    typeof setting === 'string' && setting.trim() !== ''
      ? setting.trim()
      : (folderName?.trim() ?? '');
  const clamped = clampUtf8(chosen, MAX_WORKSPACE_ID_BYTES);
  return clamped === '' ? 'default' : clamped;
}

/** Undefined when `text` is a usable `host:port`, else a sentence saying why not. */
export function checkPeerAddress(text: string): string | undefined {
  try {
    parseAddress(text);
    return undefined;
  } catch {
    return `"${text}" is not host:port (for example 192.168.1.20:47100)`;
  }
}

/** Normalizes `host:port` (trims, brackets IPv6); throws RangeError when it is not one. */
export function normalizePeerAddress(text: string): string {
  return formatAddress(parseAddress(text));
}

export function readSyncSettings(
  raw: RawSyncSettings,
  folderName: string | undefined,
  hostname: string,
): DeviceSyncSettings {
  const problems: string[] = [];
  const deviceName =
    typeof raw.deviceName === 'string' && raw.deviceName.trim() !== ''
      ? raw.deviceName.trim().slice(0, 64)
      : hostname;
  let listenPort = 0;
  if (raw.listenPort !== undefined) {
    const p = raw.listenPort;
    if (typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535) listenPort = p;
    else problems.push('twinspace.listenPort must be an integer 0-65535; using 0 (any free port)');
  }
  let listenHost = '0.0.0.0';
  if (raw.listenHost !== undefined && raw.listenHost !== '') {
    if (typeof raw.listenHost === 'string' && /^[A-Za-z0-9.:-]{1,253}$/.test(raw.listenHost)) {
      listenHost = raw.listenHost;
    } else problems.push('twinspace.listenHost is not a host name or address; using 0.0.0.0');
  }
  const manualPeers: PeerAddress[] = [];
  const seen = new Set<string>();
  if (raw.manualPeers !== undefined) {
    if (!Array.isArray(raw.manualPeers)) {
      problems.push('twinspace.manualPeers must be an array of "host:port" strings');
    } else {
      for (const entry of raw.manualPeers as unknown[]) {
        if (typeof entry !== 'string') {
          problems.push('twinspace.manualPeers: ignoring an entry that is not a string');
          continue;
        }
        try {
          const address = parseAddress(entry);
          const key = formatAddress(address);
          if (!seen.has(key)) {
            seen.add(key);
            manualPeers.push(address);
          }
        } catch {
          problems.push(`twinspace.manualPeers: ignoring ${checkPeerAddress(entry) ?? entry}`);
        }
      }
    }
  }
  return {
    deviceName,
    workspaceId: workspaceIdFor(raw.workspaceId, folderName),
    listenHost,
    listenPort,
    mdns: raw.mdns !== false,
    manualPeers,
    problems,
  };
}
