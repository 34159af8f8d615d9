/**
 * Host test: the packaged extension is installed in a real VS Code (code-server) and activates,
 * returning the API object; the harness's safety settings are in force.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { PROJECT_VERSION, twinspaceApi, twinspaceExtension } from './twinspaceApi';

describe('activation', () => {
  it('the installed extension is the build under test', () => {
    const ext = twinspaceExtension();
    const manifest = ext.packageJSON as { version?: unknown; main?: unknown };
    assert.equal(manifest.version, PROJECT_VERSION);
    assert.equal(manifest.main, './dist/extension.js');
  });

  it('activates and returns the test API', async () => {
    const api = await twinspaceApi();
    assert.equal(twinspaceExtension().isActive, true);
    assert.equal(api.runtime.isShutDown(), false);
  });

  it('runs in the Node extension host of a workspace with a folder', () => {
    assert.equal(twinspaceExtension().extensionKind, vscode.ExtensionKind.Workspace);
    assert.equal(typeof process.versions.node, 'string');
    assert.ok((vscode.workspace.workspaceFolders ?? []).length >= 1, 'no workspace folder open');
  });

  it('harness safety: mDNS discovery is off in the user settings', () => {
    const inspected = vscode.workspace
      .getConfiguration('twinspace')
      .inspect<boolean>('discovery.mdns');
    assert.equal(inspected?.globalValue, false);
    assert.equal(vscode.workspace.getConfiguration('twinspace').get('discovery.mdns'), false);
  });
});
