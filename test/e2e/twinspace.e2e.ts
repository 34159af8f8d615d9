/**
 * UI end-to-end: the packaged extension in a real VS Code workbench (code-server + headless
 * Chromium), used the way a person would: command palette, status bar, notifications, output
 * channel, Sync Panel webview. Screenshots go to test-results/vscode-host/e2e/.
 */
import * as assert from 'node:assert/strict';
import { e2eEnv, paletteLabel, type E2eEnv } from './e2eEnv';
import { Workbench } from './Workbench';

describe('Twinspace in the VS Code workbench', function () {
  this.timeout(90_000);
  let env: E2eEnv;
  let wb: Workbench;

  const command = (id: string): { label: string; id: string } => {
    const c = env.commands.find((x) => x.command === id);
    assert.ok(c, `${id} is not contributed in package.json`);
    return { label: paletteLabel(c), id };
  };

  before(async () => {
    env = e2eEnv();
    wb = await Workbench.open(env);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      const name = this.currentTest.title.replace(/[^\w-]+/g, '-').slice(0, 60);
      await wb.screenshot(`failed-${name}`).catch(() => undefined);
    }
  });

  after(async () => {
    await wb.close();
  });

  it('shows the Twinspace status bar item, with the state in its accessible name', async () => {
    const item = wb.statusBarItem(env.extensionId, 'twinspace.status');
    await item.waitFor({ timeout: 60_000 });
    // While the extension activates the item may say "off" or "starting": wait (bounded) for the
    // runtime's first real state.
    let text = '';
    for (let i = 0; i < 150; i++) {
      text = ((await item.textContent()) ?? '').trim();
      if (!/^Twinspace: (off|starting)$/.test(text)) break;
      await wb.page.waitForTimeout(100);
    }
    assert.match(text, /^Twinspace: \S/);
    const state = text.replace(/^Twinspace:\s*/, '');
    assert.notEqual(state, 'off', 'Device Sync is off in a trusted workspace');
    assert.notEqual(state, 'starting', 'Device Sync still starting after 15 s');
    assert.doesNotMatch(state, /failed/);
    const accessible = (await item.locator('a').first().getAttribute('aria-label')) ?? '';
    assert.ok(accessible.includes(state), `accessible name "${accessible}" lacks "${state}"`);
    await wb.screenshot('status-bar');
  });

  it('the command palette lists every contributed command, and no other twinspace.* one', async () => {
    assert.ok(env.commands.length > 0, 'package.json contributes no command');
    for (const c of env.commands) {
      const row = await wb.paletteRow(paletteLabel(c), c.command);
      // The row's accessible name is its label, followed by its group's name when VS Code shows
      // the row under a separator (e.g. ", similar commands").
      const aria = (await row.getAttribute('aria-label')) ?? '';
      assert.ok(
        aria === paletteLabel(c) || aria.startsWith(`${paletteLabel(c)}, `),
        `palette row "${aria}" is not "${paletteLabel(c)}"`,
      );
      await wb.page.keyboard.press('Escape');
    }
    const categories = [...new Set(env.commands.map((c) => c.category))];
    for (const category of categories) {
      const listed = (await wb.paletteEntries(`${category}: `))
        .map((e) => e.id)
        // VS Code adds "Focus on … View" (`<viewId>.focus`) for the contributed Sync Panel view.
        .filter((id) => id.startsWith('twinspace.') && !id.startsWith('twinspace.syncView.'));
      const contributed = env.commands.filter((c) => c.category === category).map((c) => c.command);
      assert.deepEqual([...new Set(listed)].sort(), contributed.sort());
    }
  });

  it('"Show Device Sync Status" reports the same state as the status bar', async () => {
    const item = wb.statusBarItem(env.extensionId, 'twinspace.status');
    const text = ((await item.textContent()) ?? '').trim();
    const { label, id } = command('twinspace.showStatus');
    await wb.runCommand(label, id);
    let shown: string[] = [];
    for (let i = 0; i < 50 && shown.length === 0; i++) {
      const all = await wb.notifications();
      const errors = all.filter((n) => n.severity === 'Error');
      assert.deepEqual(errors, [], 'error notifications');
      shown = all.filter((n) => n.message.startsWith('Twinspace:')).map((n) => n.message);
      if (shown.length === 0) await wb.page.waitForTimeout(200);
    }
    assert.ok(shown.length > 0, 'no Twinspace notification after Show Device Sync Status');
    assert.ok(
      shown.some((m) => m.includes(text)),
      `notifications ${JSON.stringify(shown)} do not state "${text}"`,
    );
    await wb.screenshot('show-status');
  });

  it('"Show Log" shows the Twinspace output channel with runtime and sync diagnostics', async () => {
    const { label, id } = command('twinspace.showLog');
    await wb.runCommand(label, id);
    const editor = wb.outputEditor();
    await editor.waitFor();
    assert.match((await editor.getAttribute('data-uri')) ?? '', /Twinspace/);
    const channel = await wb.page
      .locator('.part.panel select[aria-label="Switch Output"]')
      .first()
      .inputValue();
    assert.equal(channel, 'Twinspace');
    let lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      lines = await wb.readEditorLines(editor);
      if (
        lines.some((l) => l.includes('[sync.worker.')) &&
        lines.some((l) => l.includes('[control_panel.'))
      )
        break;
      await wb.page.waitForTimeout(500);
    }
    const has = (prefix: string): boolean => lines.some((l) => l.includes(`[${prefix}`));
    const shown = `${lines.length} lines:\n${lines.slice(0, 30).join('\n')}`;
    assert.ok(has('control_panel.'), `no [control_panel.*] line in ${shown}`);
    assert.ok(has('sync.worker.'), `no [sync.worker.*] line in ${shown}`);
    const errors = lines.filter((l) => /\[error\]/.test(l));
    assert.deepEqual(errors, [], 'error lines in the Twinspace log');
    await wb.screenshot('output-channel');
  });

  it('"Open Sync Panel" shows this device and the register state', async () => {
    const { label, id } = command('twinspace.openSyncPanel');
    await wb.runCommand(label, id);
    const view = wb.activeWebview();
    await view.locator('[data-testid="sync-panel"]').waitFor({ timeout: 30_000 });
    const deviceId = view.locator('[data-testid="device-id"]');
    const state = view.locator('[data-testid="register-state"]');
    await deviceId.waitFor({ timeout: 30_000 });
    await state.waitFor({ timeout: 30_000 });
    const idText = ((await deviceId.textContent()) ?? '').trim();
    const stateText = ((await state.textContent()) ?? '').trim();
    assert.ok(idText.length > 0, 'empty device id');
    assert.match(stateText, /Twinspace: /);
    await wb.screenshot('sync-panel');
  });
});
