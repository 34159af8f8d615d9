/**
 * Host test: the Workspace Graph panel in the real extension host. Opening it loads the webview
 * (which answers with the ready handshake through the real message channel, under the panel's
 * CSP); the host refuses hostile messages; visiting files records graph nodes, and asking the
 * panel to open one (the webview's `openNode`) opens it in an editor.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { eventually, twinspaceApi, type TwinspaceTestApi } from './twinspaceApi';

const A = 'graph-panel-a.txt';
const B = 'graph-panel-b.txt';

describe('Workspace Graph panel', function () {
  this.timeout(60_000);
  let api: TwinspaceTestApi;
  let folder: vscode.Uri;

  before(async () => {
    api = await twinspaceApi();
    const first = vscode.workspace.workspaceFolders?.[0];
    assert.ok(first, 'the host test needs a workspace folder');
    folder = first.uri;
    const encoder = new TextEncoder();
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(folder, A), encoder.encode('a\n'));
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(folder, B), encoder.encode('b\n'));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.workspace.fs.delete(vscode.Uri.joinPath(folder, A));
    await vscode.workspace.fs.delete(vscode.Uri.joinPath(folder, B));
  });

  it('opens, and the webview completes the ready handshake', async () => {
    await vscode.commands.executeCommand('twinspace.openGraph');
    const panel = await eventually('the graph panel', () => api.graphPanel());
    await eventually('the webview ready request', () => (panel.ready ? true : undefined), 30_000);
    assert.equal(panel.rejected, 0, 'the webview sent a message the host refused');
  });

  it('rejects hostile messages', async () => {
    const panel = await eventually('the graph panel', () => api.graphPanel());
    const before = panel.rejected;
    const hostile: unknown[] = [
      null,
      { kind: 'request', id: 1, method: 'runCommand', command: 'workbench.action.terminal.new' },
      { kind: 'request', id: 2, method: 'moveNodes', positions: [{ nodeId: 'a', x: NaN, y: 0 }] },
      { kind: 'request', id: 3, method: 'openNode', nodeId: '' },
      { kind: 'request', id: 4, method: 'ready', stateVector: 'not base64!' },
    ];
    for (const m of hostile) assert.equal(await panel.receive(m), false, JSON.stringify(m));
    assert.equal(panel.rejected, before + hostile.length);
    // Well-formed but pointing outside the workspace, or at no node: answered, nothing opened.
    const opened = panel.opened.length;
    assert.equal(
      await panel.receive({
        kind: 'request',
        id: 5,
        method: 'openNode',
        nodeId: '../../etc/passwd',
      }),
      true,
    );
    assert.equal(panel.opened.length, opened);
  });

  it('records visited files as nodes and opens a node in an editor', async () => {
    for (const name of [A, B]) {
      await vscode.window.showTextDocument(vscode.Uri.joinPath(folder, name));
    }
    await eventually('the visits in the graph', () => {
      const replica = api.runtime.snapshot()?.replica;
      return replica && replica.graphNodes >= 2 && replica.graphEdges >= 1 ? true : undefined;
    });
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('twinspace.openGraph');
    const panel = await eventually('the graph panel', () => api.graphPanel());
    assert.equal(
      await panel.receive({ kind: 'request', id: 10, method: 'openNode', nodeId: A }),
      true,
    );
    const editor = await eventually('an editor on the node', () =>
      vscode.window.visibleTextEditors.find((e) => e.document.uri.path.endsWith(`/${A}`)),
    );
    assert.equal(editor.document.getText(), 'a\n');
    assert.ok(panel.opened.includes(A));
  });
});
