/**
 * Host test: the runtime behind the API is live: its snapshot is readable, its workers run, the
 * status bar renders the state, and "Restart Device Sync" brings it back up.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { RegisterState } from '../../src/core/state';
import { summarizeStatus } from '../../src/core/statusSummary';
import { eventually, isViewCommand, twinspaceApi, type TwinspaceTestApi } from './twinspaceApi';

function liveSnapshot(api: TwinspaceTestApi): RegisterState {
  const state = api.runtime.snapshot();
  assert.ok(state, 'runtime.snapshot() is undefined: Device Sync is off');
  return state;
}

async function allWorkersRunning(api: TwinspaceTestApi): Promise<readonly string[]> {
  const workers = await eventually('every worker running', () => {
    const ws = api.runtime.workers();
    return ws.length > 0 && ws.every((w) => w.status === 'running') ? ws : undefined;
  });
  return workers.map((w) => w.name);
}

describe('runtime', () => {
  let api: TwinspaceTestApi;
  before(async () => {
    api = await twinspaceApi();
  });

  it('publishes a frozen snapshot with a version', () => {
    const state = liveSnapshot(api);
    assert.equal(typeof state.version, 'number');
    assert.ok(state.version >= 0);
    assert.ok(Object.isFrozen(state), 'snapshot must be immutable');
  });

  it('has workers, and all of them reach running', async () => {
    const names = await allWorkersRunning(api);
    for (const n of names) assert.ok(n.length > 0);
    assert.equal(new Set(names).size, names.length, `duplicate worker names: ${names.join(', ')}`);
  });

  it('the snapshot records the running workers', async () => {
    const names = await allWorkersRunning(api);
    await eventually('workers running in the snapshot', () => {
      const s = liveSnapshot(api);
      return names.every((n) => s.workers[n]?.status === 'running') ? s : undefined;
    });
  });

  it('the status bar shows the state derived from the snapshot', async () => {
    // The status bar re-renders on each published snapshot: wait for it to catch up.
    const text = await eventually('status bar text matching the snapshot', () => {
      const summary = summarizeStatus(liveSnapshot(api), api.files()?.status());
      const shown = api.statusText();
      return shown === `$(${summary.icon}) ${summary.text}` ? shown : undefined;
    });
    assert.match(text, /^\$\([\w~-]+\) Twinspace: /);
    const summary = summarizeStatus(liveSnapshot(api), api.files()?.status());
    assert.notEqual(summary.kind, 'off');
    assert.notEqual(summary.kind, 'error', summary.tooltip);
  });

  it('the API lists exactly the registered twinspace.* commands', async () => {
    const registered = (await vscode.commands.getCommands(true)).filter(
      (id) => id.startsWith('twinspace.') && !isViewCommand(id),
    );
    assert.deepEqual([...api.commandIds].sort(), registered.sort());
  });

  it('owns live resources while running', () => {
    assert.ok(api.runtime.openResources().length > 0, 'a running runtime must own something');
    assert.equal(api.runtime.isShutDown(), false);
  });

  it('"Restart Device Sync" restarts the runtime with its workers', async function () {
    this.timeout(20_000);
    const before = await allWorkersRunning(api);
    await vscode.commands.executeCommand('twinspace.restartDeviceSync');
    assert.equal(api.runtime.isShutDown(), false, 'runtime is shut down after a restart');
    const after = await allWorkersRunning(api);
    assert.deepEqual([...after].sort(), [...before].sort());
    assert.ok(api.runtime.openResources().length > 0);
  });
});
