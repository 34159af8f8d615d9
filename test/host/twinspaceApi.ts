/**
 * What the host tests need from the extension: its manifest and the API object `activate()`
 * returns. The API is checked at run time (exports are `any` to VS Code), so a changed contract
 * fails with a clear message instead of a TypeError deep inside a test.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import projectManifest from '../../package.json';
import type { TwinspaceApi } from '../../src/host/TwinspaceExtension';

/** The API `activate()` returns, as the extension declares it (one definition, no copy). */
export type TwinspaceTestApi = TwinspaceApi;

export interface ContributedCommand {
  readonly command: string;
  readonly title: string;
  readonly category?: string;
}

export const EXTENSION_ID = `${projectManifest.publisher}.${projectManifest.name}`;
/** The version of the checkout the test bundle was built from. */
export const PROJECT_VERSION = projectManifest.version;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

export function assertTwinspaceApi(x: unknown): asserts x is TwinspaceTestApi {
  assert.ok(isObject(x), `activate() must return the API object, got ${typeof x}`);
  assert.ok(isObject(x.runtime), 'API must have a `runtime` object');
  for (const fn of ['snapshot', 'workers', 'openResources', 'isShutDown']) {
    assert.equal(typeof x.runtime[fn], 'function', `API runtime.${fn} must be a function`);
  }
  assert.ok(isObject(x.sync), 'API must have a `sync` object');
  for (const fn of [
    'deviceId',
    'workspaceId',
    'listenPort',
    'error',
    'peers',
    'trusted',
    'panelView',
  ]) {
    assert.equal(typeof x.sync[fn], 'function', `API sync.${fn} must be a function`);
  }
  assert.equal(typeof x.statusText, 'function', 'API must have statusText()');
  assert.ok(Array.isArray(x.commandIds), 'API must have commandIds');
  assert.equal(typeof x.deactivateForTest, 'function', 'API must have deactivateForTest()');
}

export function twinspaceExtension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in this host`);
  return ext;
}

/** Activates the extension (a no-op when already active) and returns its checked API. */
export async function twinspaceApi(): Promise<TwinspaceTestApi> {
  const api: unknown = await twinspaceExtension().activate();
  assertTwinspaceApi(api);
  return api;
}

/** `contributes.commands` of the installed extension's package.json. */
export function contributedCommands(): ContributedCommand[] {
  const manifest: unknown = twinspaceExtension().packageJSON;
  assert.ok(isObject(manifest) && isObject(manifest.contributes), 'manifest has no contributes');
  const commands = manifest.contributes.commands;
  assert.ok(Array.isArray(commands), 'contributes.commands must be an array');
  return commands.map((c: unknown, i) => {
    assert.ok(isObject(c), `contributes.commands[${i}] must be an object`);
    const { command, title, category } = c;
    assert.equal(typeof command, 'string', `contributes.commands[${i}].command`);
    assert.equal(typeof title, 'string', `contributes.commands[${i}].title`);
    return {
      command: command as string,
      title: title as string,
      ...(typeof category === 'string' ? { category } : {}),
    };
  });
}

/**
 * Whether `id` is one of the commands VS Code itself registers for a contributed view
 * (`<viewId>.focus`, `.open`, `.resetViewLocation`, ...): not ours to declare.
 */
export function isViewCommand(id: string): boolean {
  const manifest: unknown = twinspaceExtension().packageJSON;
  if (!isObject(manifest) || !isObject(manifest.contributes)) return false;
  const views = manifest.contributes.views;
  if (!isObject(views)) return false;
  const ids: string[] = [];
  for (const list of Object.values(views)) {
    if (!Array.isArray(list)) continue;
    for (const v of list as unknown[]) {
      if (isObject(v) && typeof v.id === 'string') ids.push(v.id);
    }
  }
  return ids.some((viewId) => id.startsWith(`${viewId}.`));
}

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
