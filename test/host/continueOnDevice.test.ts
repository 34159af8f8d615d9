/**
 * Host test: "continue on this device" opens the right editors. A fake other device publishes its
 * open editors (two files in two groups, a selection, a scroll position, and one file this folder
 * does not have) through the real intent path; the command, given that device's id, opens them in
 * the same view columns with the same selections, reports the missing file, and focuses the
 * device's active editor. Also: this window publishes its own open editors, and the two lifecycle
 * workers run under the ControlPanel (so the Sync Panel lists them).
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { OpenEditorsState } from '../../src/core/openEditors';
import { eventually, twinspaceApi, type TwinspaceTestApi } from './twinspaceApi';

const OTHER_DEVICE = 'ZZZZ2222YYYY3333XXXX4444WWWW5555';
const NOTES = 'continue-notes.txt';
const CODE = 'continue-src/code.ts';

interface ContinueResult {
  readonly deviceId: string;
  readonly opened: readonly string[];
  readonly missing: readonly string[];
}

function lines(n: number, prefix: string): string {
  return Array.from({ length: n }, (_, i) => `${prefix} line ${i} ${'x'.repeat(i % 20)}`).join(
    '\n',
  );
}

function relative(folder: vscode.Uri, uri: vscode.Uri): string {
  return uri.path.slice(folder.path.length + 1);
}

describe('continue on this device', () => {
  let api: TwinspaceTestApi;
  let folder: vscode.Uri;

  before(async () => {
    api = await twinspaceApi();
    const first = vscode.workspace.workspaceFolders?.[0];
    assert.ok(first, 'the host test needs a workspace folder');
    folder = first.uri;
    const encoder = new TextEncoder();
    await vscode.workspace.fs.writeFile(
      vscode.Uri.joinPath(folder, NOTES),
      encoder.encode(lines(40, 'notes')),
    );
    await vscode.workspace.fs.writeFile(
      vscode.Uri.joinPath(folder, ...CODE.split('/')),
      encoder.encode(lines(300, 'code')),
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.workspace.fs.delete(vscode.Uri.joinPath(folder, NOTES));
    await vscode.workspace.fs.delete(vscode.Uri.joinPath(folder, 'continue-src'), {
      recursive: true,
    });
  });

  it('runs the prefetch scheduler and the tab demoter as supervised workers', async () => {
    await eventually('lifecycle workers running', () => {
      const running = api.runtime
        .workers()
        .filter((w) => w.status === 'running')
        .map((w) => w.name);
      return running.includes('prefetch-scheduler') && running.includes('tab-demoter')
        ? running
        : undefined;
    });
    const listed = api.sync.panelView().workers.map((w) => w.name);
    assert.ok(listed.includes('prefetch-scheduler'), `Sync Panel workers: ${listed.join(', ')}`);
    assert.ok(listed.includes('tab-demoter'), `Sync Panel workers: ${listed.join(', ')}`);
  });

  it('opens the right editors, in the same columns, with the same selections', async () => {
    const editors: OpenEditorsState = {
      groups: [
        {
          viewColumn: 1,
          tabs: [
            { path: 'not-here/missing.txt', selections: [], topLine: 0, pinned: false },
            {
              path: NOTES,
              selections: [
                { anchor: { line: 2, character: 1 }, active: { line: 4, character: 3 } },
              ],
              topLine: 0,
              pinned: false,
            },
          ],
          activeTab: 1,
        },
        {
          viewColumn: 2,
          tabs: [
            {
              path: CODE,
              selections: [
                { anchor: { line: 150, character: 0 }, active: { line: 150, character: 5 } },
              ],
              topLine: 100,
              pinned: false,
            },
          ],
          activeTab: 0,
        },
      ],
      activeViewColumn: 2,
      updatedAt: Date.now(),
    };
    await api.lifecycle.dispatch(
      { type: 'PublishOpenEditors', deviceId: OTHER_DEVICE, deviceName: 'Other laptop', editors },
      'LocalUI',
    );
    const known = await eventually('the other device in the workspace document', () =>
      api.lifecycle.devices().find((d) => d.deviceId === OTHER_DEVICE),
    );
    assert.deepEqual(known, { deviceId: OTHER_DEVICE, deviceName: 'Other laptop', editors: 3 });

    const result = await vscode.commands.executeCommand<ContinueResult | undefined>(
      'twinspace.continueOnThisDevice',
      { deviceId: OTHER_DEVICE },
    );
    assert.ok(result, 'the command returned no result (it failed: see the log)');
    assert.equal(result.deviceId, OTHER_DEVICE);
    assert.deepEqual([...result.opened].sort(), [CODE, NOTES].sort());
    assert.deepEqual(result.missing, ['not-here/missing.txt']);

    // The tabs, by view column.
    const byColumn = new Map<number, string[]>();
    for (const group of vscode.window.tabGroups.all) {
      const paths = group.tabs.flatMap((t) =>
        t.input instanceof vscode.TabInputText ? [relative(folder, t.input.uri)] : [],
      );
      byColumn.set(group.viewColumn, paths);
    }
    assert.deepEqual(byColumn.get(1), [NOTES]);
    assert.deepEqual(byColumn.get(2), [CODE]);

    // The selections, and the device's active editor focused.
    const visible = (path: string): vscode.TextEditor | undefined =>
      vscode.window.visibleTextEditors.find((e) => relative(folder, e.document.uri) === path);
    const notes = visible(NOTES);
    const code = visible(CODE);
    assert.ok(notes && code, 'both editors visible');
    assert.equal(notes.viewColumn, vscode.ViewColumn.One);
    assert.equal(code.viewColumn, vscode.ViewColumn.Two);
    const sel = (e: vscode.TextEditor): number[] =>
      e.selections.flatMap((s) => [
        s.anchor.line,
        s.anchor.character,
        s.active.line,
        s.active.character,
      ]);
    assert.deepEqual(sel(notes), [2, 1, 4, 3]);
    assert.deepEqual(sel(code), [150, 0, 150, 5]);
    assert.equal(
      vscode.window.activeTextEditor &&
        relative(folder, vscode.window.activeTextEditor.document.uri),
      CODE,
    );
    // Scrolled so that line 100 is at the top (VS Code keeps up to 5 lines of context above a
    // line revealed at the top), not centred on the selection (line 150, then off screen).
    let seen: string | undefined;
    await eventually('code.ts scrolled to line 100', () => {
      const ranges = visible(CODE)?.visibleRanges ?? [];
      seen = ranges.map((r) => `${r.start.line}-${r.end.line}`).join(',');
      const start = ranges[0]?.start.line;
      return start !== undefined && start >= 94 && start <= 100 ? ranges : undefined;
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}; visible ranges: ${seen ?? 'none'}`);
    });
  });

  it("publishes this window's own open editors for the other devices", async () => {
    const own = api.sync.deviceId();
    assert.ok(own, 'Device Sync is running (it has a device id)');
    const mine = await eventually("this device's open editors published", () =>
      api.lifecycle.devices().find((d) => d.deviceId === own && d.editors === 2),
    );
    assert.equal(mine.editors, 2);
  });
});
