/**
 * UI end-to-end: the Workspace Graph in the real workbench. Open a file (the visit becomes a
 * graph node), open the graph from the command palette, find the node with the graph's search
 * box, click it on the canvas: the file becomes the active editor.
 */
import * as assert from 'node:assert/strict';
import { e2eEnv, paletteLabel, type E2eEnv } from './e2eEnv';
import { Workbench } from './Workbench';

describe('Workspace Graph in the VS Code workbench', function () {
  this.timeout(120_000);
  let env: E2eEnv;
  let wb: Workbench;

  before(async () => {
    env = e2eEnv();
    wb = await Workbench.open(env);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await wb.screenshot('failed-graph').catch(() => undefined);
    }
  });

  after(async () => {
    await wb.close();
  });

  const activeTab = async (): Promise<string> => {
    const tab = wb.page.locator('.tabs-container .tab.active').first();
    if ((await tab.count()) === 0) return '';
    return (await tab.getAttribute('aria-label', { timeout: 2_000 })) ?? '';
  };

  it('open the graph and click a node to open a file', async () => {
    // The runtime records visits once it runs: wait for the status bar's first real state.
    const item = wb.statusBarItem(env.extensionId, 'twinspace.status');
    await item.waitFor({ timeout: 60_000 });
    for (let i = 0; i < 150; i++) {
      if (!/^Twinspace: (off|starting)$/.test(((await item.textContent()) ?? '').trim())) break;
      await wb.page.waitForTimeout(100);
    }
    // Visit hello.txt (Quick Open), so the graph has a node for it.
    await wb.page.keyboard.press('Control+P');
    await wb.page.keyboard.type('hello.txt');
    const row = wb.page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'hello.txt' })
      .first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    for (let i = 0; i < 150 && !(await activeTab()).includes('hello.txt'); i++) {
      await wb.page.waitForTimeout(200);
    }
    assert.match(await activeTab(), /hello\.txt/, 'Quick Open did not open hello.txt');

    const c = env.commands.find((x) => x.command === 'twinspace.openGraph');
    assert.ok(c, 'twinspace.openGraph is not contributed');
    await wb.runCommand(paletteLabel(c), c.command);
    const view = wb.activeWebview();
    const stats = view.getByTestId('graph-stats');
    await stats.waitFor({ timeout: 30_000 });
    for (let i = 0; i < 100; i++) {
      if (Number((await stats.getAttribute('data-nodes')) ?? '0') >= 1) break;
      await wb.page.waitForTimeout(200);
    }
    assert.ok(
      Number((await stats.getAttribute('data-nodes')) ?? '0') >= 1,
      'the graph has no node',
    );
    assert.doesNotMatch(await activeTab(), /hello\.txt/);
    await wb.screenshot('graph-open');

    // Search selects the node and centres the view on it; then click it.
    const search = view.getByTestId('graph-search');
    const canvas = view.getByTestId('graph-canvas');
    let opened = false;
    for (let attempt = 0; attempt < 6 && !opened; attempt++) {
      await wb.page.waitForTimeout(attempt === 0 ? 2_000 : 1_000); // let the layout settle
      await search.fill('hello.txt');
      await search.press('Escape');
      await search.fill('hello.txt');
      await search.press('ArrowDown');
      const box = await canvas.boundingBox();
      assert.ok(box, 'the canvas has no size');
      await canvas.click({ position: { x: box.width / 2, y: box.height / 2 } });
      for (let i = 0; i < 20 && !opened; i++) {
        opened = (await activeTab()).includes('hello.txt');
        if (!opened) await wb.page.waitForTimeout(100);
      }
      if (!opened) {
        // Back to the graph for another try.
        await wb.runCommand(paletteLabel(c), c.command);
      }
    }
    assert.ok(
      opened,
      `clicking the node did not open hello.txt (active tab: ${await activeTab()})`,
    );
    await wb.screenshot('graph-clicked');
  });
});
