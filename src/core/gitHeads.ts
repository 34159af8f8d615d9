/**
 * Each device's git branch and HEAD for the synced folder, replicated in the workspace document
 * (`devices.git`: deviceId → { branch, head }), so a device can warn when a linked device is on
 * another branch or commit instead of silently syncing one working tree over the other.
 * Pure: yjs only; values from peers are validated on read.
 */
import * as Y from 'yjs';
import type { ResultCode } from './errors';
import type { DeviceGitHead } from './files/fileSyncStatus';

export const DEVICES_GIT = 'devices.git';
const MAX_BRANCH = 255;
const HEAD_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})?$/;
const DEVICE_ID_PATTERN = /^[A-Z2-7]{32}$/;

function devicesGit(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap<unknown>(DEVICES_GIT);
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

/** Validates one report; undefined when it is well formed. */
export function checkGitHead(value: {
  readonly deviceId: unknown;
  readonly branch: unknown;
  readonly head: unknown;
}): string | undefined {
  const { deviceId, branch, head } = value;
  if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) return 'bad device id';
  if (typeof branch !== 'string' || branch.length > MAX_BRANCH || hasControlCharacter(branch))
    return 'bad branch name';
  if (typeof head !== 'string' || !HEAD_PATTERN.test(head)) return 'bad HEAD (a hex object id)';
  return undefined;
}

/** Applies ReportGitHead: replaces the device's entry (no change when equal). */
export function applyReportGitHead(
  doc: Y.Doc,
  intent: { readonly deviceId: unknown; readonly branch: unknown; readonly head: unknown },
  origin: unknown,
): { readonly code: ResultCode; readonly message: string } | undefined {
  const problem = checkGitHead(intent);
  if (problem !== undefined) return { code: 'validation', message: problem };
  const deviceId = intent.deviceId as string;
  const entry = { branch: intent.branch as string, head: intent.head as string };
  const map = devicesGit(doc);
  const current = map.get(deviceId) as { branch?: unknown; head?: unknown } | undefined;
  if (current?.branch === entry.branch && current.head === entry.head) return undefined;
  doc.transact(() => {
    map.set(deviceId, entry);
  }, origin);
  return undefined;
}

/** Every valid report in the document, sorted by device id. */
export function readGitHeads(doc: Y.Doc): DeviceGitHead[] {
  const out: DeviceGitHead[] = [];
  for (const [deviceId, value] of devicesGit(doc)) {
    if (typeof value !== 'object' || value === null) continue;
    const { branch, head } = value as { branch?: unknown; head?: unknown };
    if (checkGitHead({ deviceId, branch, head }) !== undefined) continue;
    out.push({ deviceId, branch: branch as string, head: head as string });
  }
  return out.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

/** Devices whose branch or HEAD differs from `mine`, among `deviceIds`. */
export function gitMismatches(
  mine: { readonly branch: string; readonly head: string } | undefined,
  heads: readonly DeviceGitHead[],
  deviceIds: ReadonlySet<string>,
): DeviceGitHead[] {
  if (mine === undefined) return [];
  return heads.filter(
    (h) => deviceIds.has(h.deviceId) && (h.branch !== mine.branch || h.head !== mine.head),
  );
}
