/**
 * The open-editor state of one device ("continue on this device"): its editor groups (by view
 * column), the text tabs of each group as folder-relative paths, the active tab of each group, the
 * active group, and per tab the selections and the top visible line.
 *
 * Each device publishes its own state with the replicated intent `PublishOpenEditors`; the
 * workspace document keeps it under the top-level map `devices.editors` (deviceId → a plain JSON
 * value replaced as a whole, so the latest publication of a device wins).
 *
 * What a peer wrote is untrusted: `validateOpenEditors` / `validateDeviceEditors` check every field
 * (types, ranges, caps on counts and lengths, safe relative paths) and are applied both when the
 * intent is applied and when the document is read.
 *
 * Pure: imports yjs only, no time (the host passes `updatedAt`), no I/O.
 */
import * as Y from 'yjs';
import { fail, ok, type Result, type ResultCode } from './errors';
import { checkRelativePath } from './files/pathSafety';

/** The top-level Y.Map of the workspace document: deviceId → DeviceEditorsEntry (JSON). */
export const DEVICES_EDITORS = 'devices.editors';

/** Caps (a hostile or broken peer cannot make a reader allocate more than this). */
export const MAX_EDITOR_GROUPS = 16;
export const MAX_TABS_PER_GROUP = 100;
export const MAX_TABS_TOTAL = 300;
export const MAX_SELECTIONS_PER_TAB = 32;
/** Highest line / character number accepted (zero-based). */
export const MAX_POSITION = 10_000_000;
export const MAX_DEVICE_NAME_LENGTH = 256;
/** View columns as VS Code numbers them (1 = first group). */
export const MAX_VIEW_COLUMN = 64;

/** A device id: 32 characters of RFC 4648 base32 (see src/sync/identity/DeviceIdentity.ts). */
const DEVICE_ID_PATTERN = /^[A-Z2-7]{32}$/;

/** A zero-based position in a text document. */
export interface EditorPosition {
  readonly line: number;
  readonly character: number;
}

/** A selection: the anchor (where it started) and the active end (the cursor). */
export interface EditorSelection {
  readonly anchor: EditorPosition;
  readonly active: EditorPosition;
}

export interface OpenEditorTab {
  /** Folder-relative, `/`-separated, canonical (see files/pathSafety.ts). */
  readonly path: string;
  /** The selections last seen in this tab, primary first; may be empty (never shown yet). */
  readonly selections: readonly EditorSelection[];
  /** The first visible line (zero-based) when last seen. */
  readonly topLine: number;
  /** Whether the tab is pinned in its group. */
  readonly pinned: boolean;
}

export interface OpenEditorGroup {
  /** VS Code's view column of the group (1-based). Unique among a device's groups. */
  readonly viewColumn: number;
  readonly tabs: readonly OpenEditorTab[];
  /** Index into `tabs` of the group's active tab; absent when the group has no text tab active. */
  readonly activeTab?: number;
}

export interface OpenEditorsState {
  /** Sorted by viewColumn. */
  readonly groups: readonly OpenEditorGroup[];
  /** The view column of the active group; absent when none of the groups is active. */
  readonly activeViewColumn?: number;
  /** Clock time (ms) of the publication, from the host. */
  readonly updatedAt: number;
}

/** What a device publishes and what `devices.editors` holds under its id. */
export interface DeviceEditors {
  readonly deviceId: string;
  readonly deviceName: string;
  readonly editors: OpenEditorsState;
}

export const EMPTY_OPEN_EDITORS: OpenEditorsState = Object.freeze({
  groups: Object.freeze([]),
  updatedAt: 0,
});

/** How many tabs the state holds, over all groups. */
export function countEditors(state: OpenEditorsState): number {
  let n = 0;
  for (const group of state.groups) n += group.tabs.length;
  return n;
}

export function isDeviceId(x: unknown): x is string {
  return typeof x === 'string' && DEVICE_ID_PATTERN.test(x);
}

// -------------------------------------------------------------------------------------------------
// Validation

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Names a hostile value without calling into it (no toString, no getters beyond typeof). */
function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 60 ? `${x.slice(0, 57)}...` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null) return String(x);
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

function isIndex(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max;
}

class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    // Enough to say what is wrong; a hostile value must not make the message huge.
    if (this.list.length < 20) this.list.push(message);
  }
}

function readPosition(x: unknown, where: string, problems: Problems): EditorPosition | undefined {
  if (!isRecord(x)) {
    problems.add(`${where} must be an object (got ${describe(x)})`);
    return undefined;
  }
  const line = x['line'];
  const character = x['character'];
  if (!isIndex(line, MAX_POSITION)) {
    problems.add(`${where}.line must be an integer 0..${MAX_POSITION} (got ${describe(line)})`);
    return undefined;
  }
  if (!isIndex(character, MAX_POSITION)) {
    problems.add(
      `${where}.character must be an integer 0..${MAX_POSITION} (got ${describe(character)})`,
    );
    return undefined;
  }
  return { line, character };
}

function readSelection(x: unknown, where: string, problems: Problems): EditorSelection | undefined {
  if (!isRecord(x)) {
    problems.add(`${where} must be an object (got ${describe(x)})`);
    return undefined;
  }
  const anchor = readPosition(x['anchor'], `${where}.anchor`, problems);
  const active = readPosition(x['active'], `${where}.active`, problems);
  if (anchor === undefined || active === undefined) return undefined;
  return { anchor, active };
}

function readTab(x: unknown, where: string, problems: Problems): OpenEditorTab | undefined {
  if (!isRecord(x)) {
    problems.add(`${where} must be an object (got ${describe(x)})`);
    return undefined;
  }
  const path = x['path'];
  if (typeof path !== 'string') {
    problems.add(`${where}.path must be a string (got ${describe(path)})`);
    return undefined;
  }
  const violations = checkRelativePath(path, 'posix');
  const first = violations[0];
  if (first !== undefined) {
    problems.add(`${where}.path is not a safe folder-relative path: ${first.message}`);
    return undefined;
  }
  const rawSelections = x['selections'];
  if (!Array.isArray(rawSelections) || rawSelections.length > MAX_SELECTIONS_PER_TAB) {
    problems.add(
      `${where}.selections must be an array of at most ${MAX_SELECTIONS_PER_TAB} (got ${describe(rawSelections)}${Array.isArray(rawSelections) ? ` of ${rawSelections.length}` : ''})`,
    );
    return undefined;
  }
  const selections: EditorSelection[] = [];
  for (let i = 0; i < rawSelections.length; i++) {
    const selection = readSelection(rawSelections[i], `${where}.selections[${i}]`, problems);
    if (selection === undefined) return undefined;
    selections.push(selection);
  }
  const topLine = x['topLine'];
  if (!isIndex(topLine, MAX_POSITION)) {
    problems.add(
      `${where}.topLine must be an integer 0..${MAX_POSITION} (got ${describe(topLine)})`,
    );
    return undefined;
  }
  const pinned = x['pinned'];
  if (typeof pinned !== 'boolean') {
    problems.add(`${where}.pinned must be a boolean (got ${describe(pinned)})`);
    return undefined;
  }
  return { path, selections, topLine, pinned };
}

function readGroup(
  x: unknown,
  where: string,
  problems: Problems,
  total: { tabs: number },
): OpenEditorGroup | undefined {
  if (!isRecord(x)) {
    problems.add(`${where} must be an object (got ${describe(x)})`);
    return undefined;
  }
  const viewColumn = x['viewColumn'];
  if (typeof viewColumn !== 'number' || !Number.isSafeInteger(viewColumn)) {
    problems.add(`${where}.viewColumn must be an integer (got ${describe(viewColumn)})`);
    return undefined;
  }
  if (viewColumn < 1 || viewColumn > MAX_VIEW_COLUMN) {
    problems.add(`${where}.viewColumn must be 1..${MAX_VIEW_COLUMN} (got ${viewColumn})`);
    return undefined;
  }
  const rawTabs = x['tabs'];
  if (!Array.isArray(rawTabs) || rawTabs.length > MAX_TABS_PER_GROUP) {
    problems.add(
      `${where}.tabs must be an array of at most ${MAX_TABS_PER_GROUP} (got ${describe(rawTabs)}${Array.isArray(rawTabs) ? ` of ${rawTabs.length}` : ''})`,
    );
    return undefined;
  }
  total.tabs += rawTabs.length;
  if (total.tabs > MAX_TABS_TOTAL) {
    problems.add(`more than ${MAX_TABS_TOTAL} tabs in all groups`);
    return undefined;
  }
  const tabs: OpenEditorTab[] = [];
  for (let i = 0; i < rawTabs.length; i++) {
    const tab = readTab(rawTabs[i], `${where}.tabs[${i}]`, problems);
    if (tab === undefined) return undefined;
    tabs.push(tab);
  }
  const activeTab = x['activeTab'];
  if (
    activeTab !== undefined &&
    !(isIndex(activeTab, MAX_TABS_PER_GROUP) && activeTab < tabs.length)
  ) {
    problems.add(
      `${where}.activeTab must be an index into its ${tabs.length} tabs (got ${describe(activeTab)})`,
    );
    return undefined;
  }
  return { viewColumn, tabs, ...(activeTab !== undefined ? { activeTab } : {}) };
}

/**
 * Checks an untrusted value (a peer's document entry, an intent) and returns a frozen, normalised
 * OpenEditorsState (groups sorted by view column, no unknown fields kept), or a 'validation'
 * failure listing the problems found.
 */
export function validateOpenEditors(x: unknown): Result<OpenEditorsState> {
  const problems = new Problems();
  const value = readOpenEditors(x, 'editors', problems);
  if (value === undefined || problems.list.length > 0) {
    return fail('validation', problems.list.join('; ') || 'editors is invalid');
  }
  return ok(deepFreeze(value));
}

function readOpenEditors(
  x: unknown,
  where: string,
  problems: Problems,
): OpenEditorsState | undefined {
  if (!isRecord(x)) {
    problems.add(`${where} must be an object (got ${describe(x)})`);
    return undefined;
  }
  const updatedAt = x['updatedAt'];
  if (typeof updatedAt !== 'number' || !Number.isSafeInteger(updatedAt) || updatedAt < 0) {
    problems.add(`${where}.updatedAt must be a non-negative integer (got ${describe(updatedAt)})`);
    return undefined;
  }
  const rawGroups = x['groups'];
  if (!Array.isArray(rawGroups) || rawGroups.length > MAX_EDITOR_GROUPS) {
    problems.add(
      `${where}.groups must be an array of at most ${MAX_EDITOR_GROUPS} (got ${describe(rawGroups)}${Array.isArray(rawGroups) ? ` of ${rawGroups.length}` : ''})`,
    );
    return undefined;
  }
  const groups: OpenEditorGroup[] = [];
  const columns = new Set<number>();
  const total = { tabs: 0 };
  for (let i = 0; i < rawGroups.length; i++) {
    const group = readGroup(rawGroups[i], `${where}.groups[${i}]`, problems, total);
    if (group === undefined) return undefined;
    if (columns.has(group.viewColumn)) {
      problems.add(`${where}.groups has view column ${group.viewColumn} twice`);
      return undefined;
    }
    columns.add(group.viewColumn);
    groups.push(group);
  }
  groups.sort((a, b) => a.viewColumn - b.viewColumn);
  const activeViewColumn = x['activeViewColumn'];
  if (
    activeViewColumn !== undefined &&
    !(typeof activeViewColumn === 'number' && columns.has(activeViewColumn))
  ) {
    problems.add(
      `${where}.activeViewColumn must be the view column of one of the groups (got ${describe(activeViewColumn)})`,
    );
    return undefined;
  }
  return {
    groups,
    ...(activeViewColumn !== undefined ? { activeViewColumn } : {}),
    updatedAt,
  };
}

/** Validates a whole publication: device id (base32, 32 characters), name, editors. */
export function validateDeviceEditors(x: unknown): Result<DeviceEditors> {
  if (!isRecord(x))
    return fail('validation', `device editors must be an object (got ${describe(x)})`);
  const deviceId = x['deviceId'];
  if (!isDeviceId(deviceId)) {
    return fail('validation', `deviceId must be a device id (got ${describe(deviceId)})`);
  }
  const deviceName = x['deviceName'];
  if (
    typeof deviceName !== 'string' ||
    deviceName.trim().length === 0 ||
    deviceName.length > MAX_DEVICE_NAME_LENGTH ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(deviceName)
  ) {
    return fail(
      'validation',
      `deviceName must be a non-empty string of at most ${MAX_DEVICE_NAME_LENGTH} characters without control characters (got ${describe(deviceName)})`,
    );
  }
  const editors = validateOpenEditors(x['editors']);
  if (!editors.ok) return editors;
  return ok(Object.freeze({ deviceId, deviceName, editors: editors.value }));
}

/** Code-unit order: deterministic, unlike localeCompare. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}

// -------------------------------------------------------------------------------------------------
// The workspace document part

/** The `devices.editors` map of a workspace document. */
export function devicesEditors(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap<unknown>(DEVICES_EDITORS);
}

/**
 * Applies a PublishOpenEditors intent: validates it and replaces the device's entry as a whole, in
 * one transaction with `origin`. An identical entry is left alone (no empty update). Returns a
 * rejection (document unchanged) when invalid. Never throws on bad input.
 */
export function applyPublishOpenEditors(
  doc: Y.Doc,
  intent: { readonly deviceId: unknown; readonly deviceName: unknown; readonly editors: unknown },
  origin: unknown,
): { readonly code: ResultCode; readonly message: string } | undefined {
  const checked = validateDeviceEditors({
    deviceId: intent.deviceId,
    deviceName: intent.deviceName,
    editors: intent.editors,
  });
  if (!checked.ok) return { code: checked.code, message: checked.message };
  const { deviceId, deviceName, editors } = checked.value;
  // A plain JSON copy (Yjs stores it as given); undefined fields are already absent.
  const entry = JSON.parse(JSON.stringify({ deviceName, editors })) as unknown;
  const map = devicesEditors(doc);
  const current = map.get(deviceId);
  if (current !== undefined && JSON.stringify(current) === JSON.stringify(entry)) return undefined;
  doc.transact(() => {
    map.set(deviceId, entry);
  }, origin);
  return undefined;
}

/**
 * Every device's open editors as held by the document, validated (entries that fail validation
 * are left out and reported in `invalid`), sorted by device name then id.
 */
export function readDeviceEditors(doc: Y.Doc): {
  readonly devices: readonly DeviceEditors[];
  readonly invalid: readonly { readonly deviceId: string; readonly message: string }[];
} {
  const devices: DeviceEditors[] = [];
  const invalid: { deviceId: string; message: string }[] = [];
  for (const [deviceId, raw] of devicesEditors(doc).entries()) {
    const record = isRecord(raw) ? raw : {};
    const checked = validateDeviceEditors({
      deviceId,
      deviceName: record['deviceName'],
      editors: record['editors'],
    });
    if (checked.ok) devices.push(checked.value);
    else invalid.push({ deviceId: deviceId.slice(0, 64), message: checked.message });
  }
  devices.sort(
    (a, b) => compareStrings(a.deviceName, b.deviceName) || compareStrings(a.deviceId, b.deviceId),
  );
  return { devices, invalid };
}
