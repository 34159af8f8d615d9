/**
 * UI end-to-end: the Workspace Graph in the real workbench. Visit a few files one after another
 * (each visit becomes a node, each move from one file to the next an edge), open the graph from
 * the command palette, shoot it in the light and the dark default theme (graph-light.png,
 * graph-dark.png), then find a node with the graph's search box and click it on the canvas: the
 * file becomes the active editor.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentColorTheme, setColorTheme, THEMES } from './colorTheme';
import { e2eEnv, paletteLabel, type E2eEnv } from './e2eEnv';
import { Workbench } from './Workbench';

/** Files visited after hello.txt (made in the e2e folder), then back to hello.txt. */
const FILES: Record<string, string> = {
  'docs/guide.md': '# Guide\n',
  'docs/todo.txt': 'todo\n',
  'scripts/build.sh': 'echo build\n',
  'config/settings.ini': '[main]\n',
};

describe('Workspace Graph in the VS Code workbench', function () {
  this.timeout(120_000);
  let env: E2eEnv;
  let wb: Workbench;

  let initialTheme: string | undefined;
  let closedSecondarySideBar = false;

  before(async () => {
    env = e2eEnv();
    for (const [file, text] of Object.entries(FILES)) {
      const full = path.join(env.folder, ...file.split('/'));
      fs.mkdirSync(path.dirname(full), { recursive: true });
      if (!fs.existsSync(full)) fs.writeFileSync(full, text);
    }
    wb = await Workbench.open(env);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await wb.screenshot('failed-graph').catch(() => undefined);
    }
  });

  after(async () => {
    // Leave the workbench as it was for the suites after this one.
    if (initialTheme !== undefined) await setColorTheme(wb, initialTheme).catch(() => undefined);
    if (closedSecondarySideBar) {
      await wb
        .runCommand('Toggle Secondary Side Bar', 'workbench.action.toggleAuxiliaryBar')
        .catch(() => undefined);
    }
    await wb.close();
  });

  const activeTab = async (): Promise<string> => {
    const tab = wb.page.locator('.tabs-container .tab.active').first();
    if ((await tab.count()) === 0) return '';
    return (await tab.getAttribute('aria-label', { timeout: 2_000 })) ?? '';
  };

  /** Opens a file by name through Quick Open and waits until it is the active editor. */
  async function quickOpen(name: string): Promise<void> {
    await wb.page.keyboard.press('Control+P');
    await wb.page.keyboard.type(name);
    const row = wb.page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    for (let i = 0; i < 150 && !(await activeTab()).includes(name); i++) {
      await wb.page.waitForTimeout(200);
    }
    assert.ok((await activeTab()).includes(name), `Quick Open did not open ${name}`);
    // Let the visit be recorded before the next one (the edge comes from the previous file).
    await wb.page.waitForTimeout(300);
  }

  it('visit files, open the graph (light and dark), click a node to open a file', async () => {
    // The runtime records visits once it runs: wait for the status bar's first real state.
    const item = wb.statusBarItem(env.extensionId, 'twinspace.status');
    await item.waitFor({ timeout: 60_000 });
    for (let i = 0; i < 150; i++) {
      if (!/^Twinspace: (off|starting)$/.test(((await item.textContent()) ?? '').trim())) break;
      await wb.page.waitForTimeout(100);
    }
    // Visit hello.txt and the other files one after another (Quick Open), then hello.txt again:
    // five nodes, and an edge for each move.
    const names = ['hello.txt', ...Object.keys(FILES), 'hello.txt'];
    for (const name of names) await quickOpen(path.posix.basename(name));

    const c = env.commands.find((x) => x.command === 'twinspace.openGraph');
    assert.ok(c, 'twinspace.openGraph is not contributed');
    await wb.runCommand(paletteLabel(c), c.command);
    const view = wb.activeWebview();
    const stats = view.getByTestId('graph-stats');
    await stats.waitFor({ timeout: 30_000 });
    const counts = async (): Promise<[number, number]> => {
      const text = (await stats.textContent()) ?? '';
      const m = /(\d+) nodes · (\d+) edges/.exec(text);
      return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
    };
    for (let i = 0; i < 100; i++) {
      const [nodes, edges] = await counts();
      if (nodes >= 5 && edges >= 5) break;
      await wb.page.waitForTimeout(200);
    }
    const [nodes, edges] = await counts();
    assert.ok(nodes >= 5 && edges >= 5, `the graph has ${nodes} nodes and ${edges} edges`);
    assert.doesNotMatch(await activeTab(), /hello\.txt/);
    // The pointer off the tab strip (the palette row it clicked lay over a tab's close button,
    // whose tooltip would cover the graph's toolbar) and off the nodes.
    const canvasBox = await view.getByTestId('graph-canvas').boundingBox();
    assert.ok(canvasBox, 'the canvas has no size');
    const offNodes = async (): Promise<void> => {
      await wb.page.mouse.move(canvasBox.x + 8, canvasBox.y + canvasBox.height - 8);
      await wb.page
        .locator('.context-view .hover-contents')
        .waitFor({ state: 'hidden', timeout: 3_000 })
        .catch(() => undefined);
    };
    await offNodes();
    await wb.page.waitForTimeout(2_000); // let the layout settle
    await wb.screenshot('graph-open');

    // The same graph in the light and the dark theme, fitted to the view. The secondary side
    // bar (empty here) is closed so the graph has the room.
    if (await wb.page.locator('.part.auxiliarybar').isVisible()) {
      await wb.runCommand('Toggle Secondary Side Bar', 'workbench.action.toggleAuxiliaryBar');
      closedSecondarySideBar = true;
    }
    initialTheme = await currentColorTheme(wb);
    for (const [tag, theme] of THEMES) {
      await setColorTheme(wb, theme);
      await offNodes();
      await view.getByTestId('graph-fit').click();
      await offNodes();
      await wb.page.waitForTimeout(500);
      await wb.screenshot(`graph-${tag}`);
    }

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
