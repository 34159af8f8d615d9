/**
 * UI end-to-end: the Sync Panel in the real workbench, as an editor tab and as the Twinspace view
 * in the activity bar (also at 250 px), in the light and the dark default themes. The real panel
 * is shot first; then a fuller view (devices in each state, the first-sync plan, conflicts, a git
 * mismatch, diagnostics of each severity) is handed to the page through the same message event
 * the host's notifications use, so every section is seen with the workbench's own theme.
 * Screenshots: test-results/vscode-host/e2e/sync-panel-*.png.
 */
import * as assert from 'node:assert/strict';
import type { FrameLocator } from 'playwright-core';
import type { FileSyncStatus, SyncPanelView } from '../../src/core/protocol/syncPanelProtocol';
import { currentColorTheme, setColorTheme, THEMES } from './colorTheme';
import { e2eEnv, paletteLabel, type E2eEnv } from './e2eEnv';
import { Workbench } from './Workbench';

const NOW = Date.UTC(2026, 4, 12, 14, 30, 0);
const LAPTOP = 'LAPTOPAAAABBBBCCCCDDDDEEEEFFFF22';
const BUILD = 'BUILDBOXAAAABBBBCCCCDDDDEEEEFF33';
const OLD = 'OLDDESKAAAABBBBCCCCDDDDEEEEFFF44';

function demoView(
  real: { deviceName: string; deviceShortId: string },
  files: FileSyncStatus,
): SyncPanelView {
  return {
    deviceName: real.deviceName,
    deviceId: 'THISDEVICEAAAABBBBCCCCDDDDEEEE55',
    deviceShortId: real.deviceShortId,
    listenAddress: '192.168.1.20:47211',
    workspaceId: 'twinspace',
    statusText:
      files.conflicts.length > 0
        ? `Twinspace: ${files.conflicts.length} conflicts`
        : 'Twinspace: 1 device in sync',
    version: 1287,
    workers: [
      { name: 'sync', status: 'running', failures: 0 },
      { name: 'discovery', status: 'running', failures: 1 },
      { name: 'memory-monitor', status: 'running', failures: 0 },
    ],
    peers: [
      {
        peerId: LAPTOP,
        name: 'laptop',
        state: 'Idle',
        transport: 'tcp',
        address: '192.168.1.31:47211',
        lastSyncAt: NOW - 60_000,
        pendingOut: 0,
        pendingIn: 0,
      },
      {
        peerId: BUILD,
        name: 'build-box',
        state: 'Syncing',
        transport: 'tcp',
        address: '192.168.1.40:50112',
        lastSyncAt: NOW - 5_000,
        pendingOut: 12,
        pendingIn: 3,
      },
      {
        peerId: OLD,
        name: 'old-desktop',
        state: 'Disconnected',
        lastSyncAt: NOW - 86_400_000,
        lastError: 'connection refused (192.168.1.12:47211)',
      },
    ],
    discovered: [
      {
        deviceId: 'TABLETAAAABBBBCCCCDDDDEEEEFFFF66',
        name: 'tablet',
        address: '192.168.1.55:47211',
      },
    ],
    diagnostics: [
      {
        at: NOW - 50_000,
        channel: 'sync.worker.started',
        severity: 'info',
        message: 'listening on 0.0.0.0:47211',
        count: 1,
      },
      {
        at: NOW - 40_000,
        channel: 'sync.worker.peer_connected',
        severity: 'info',
        message: 'laptop connected over tcp',
        count: 1,
      },
      {
        at: NOW - 30_000,
        channel: 'sync.worker.peer_rejected',
        severity: 'warn',
        message: 'unknown device 7Q2M… rejected before any data',
        count: 3,
      },
      {
        at: NOW - 20_000,
        channel: 'control_panel.worker.restarted',
        severity: 'warn',
        message: 'discovery restarted after an error (1 failure)',
        count: 1,
      },
      {
        at: NOW - 10_000,
        channel: 'orchestrator.action.halted',
        severity: 'error',
        message: 'write docs/big.bin halted: file over the size limit',
        count: 1,
      },
    ],
    files,
  };
}

const PLAN: FileSyncStatus = {
  state: 'awaiting-confirmation',
  files: 0,
  pending: 0,
  percent: 0,
  conflicts: [],
  plan: {
    creates: 214,
    updates: 9,
    deletes: 2,
    conflicts: 1,
    items: [
      { action: 'conflict', path: 'README.md' },
      { action: 'create', path: 'docs/architecture/overview.md' },
      { action: 'create', path: 'src/core/statusSummary.ts' },
      { action: 'delete', path: 'scratch/old-notes.txt' },
      { action: 'update', path: 'package.json' },
      { action: 'update', path: 'src/host/extension.ts' },
    ],
  },
  git: { branch: 'main', head: '4f2c9a1e7b' },
  gitMismatches: [],
};

const CONFLICTS: FileSyncStatus = {
  state: 'syncing',
  files: 1834,
  pending: 57,
  percent: 63,
  conflicts: [
    {
      id: 'src/host/SyncPanel.conflict-laptop-20260512-1429.ts',
      path: 'src/host/SyncPanel.ts',
      copyPath: 'src/host/SyncPanel.conflict-laptop-20260512-1429.ts',
      kind: 'text',
      device: 'laptop',
      at: NOW - 60_000,
    },
    {
      id: 'media/logo.conflict-build-box-20260512-1430.png',
      path: 'media/logo.png',
      copyPath: 'media/logo.conflict-build-box-20260512-1430.png',
      kind: 'binary',
      device: 'build-box',
      at: NOW - 30_000,
    },
  ],
  git: { branch: 'main', head: '4f2c9a1e7b' },
  gitMismatches: [{ deviceId: LAPTOP, branch: 'feature/panel', head: '9d81be0c33' }],
};

describe('the Sync Panel in the workbench (editor tab and activity-bar view, light and dark)', function () {
  this.timeout(180_000);
  let env: E2eEnv;
  let wb: Workbench;
  let initialTheme: string | undefined;

  const command = (id: string): { label: string; id: string } => {
    const c = env.commands.find((x) => x.command === id);
    assert.ok(c, `${id} is not contributed in package.json`);
    return { label: paletteLabel(c), id };
  };

  /**
   * The Sync Panel's document on one surface. Both surfaces can be in the page at once (the
   * view stays in the side bar while the tab is open), so find the webview frame that holds it.
   */
  async function surface(kind: 'panel' | 'view'): Promise<FrameLocator> {
    const frames = wb.page.locator('iframe.webview.ready');
    const selector = `[data-testid="sync-panel"][data-surface="${kind}"]`;
    for (let attempt = 0; attempt < 60; attempt++) {
      const n = await frames.count();
      for (let i = 0; i < n; i++) {
        const inner = frames.nth(i).contentFrame().frameLocator('#active-frame');
        if (
          (await inner
            .locator(selector)
            .count()
            .catch(() => 0)) > 0
        )
          return inner;
      }
      await wb.page.waitForTimeout(500);
    }
    throw new Error(`no webview shows the Sync Panel's ${kind}`);
  }

  interface Rect {
    readonly x: number;
    readonly y: number;
    readonly width: number;
    readonly height: number;
  }

  /** Drags the sash on the side bar's right edge so the side bar is `width` px wide. */
  async function sideBarWidth(width: number): Promise<number> {
    const sidebar = wb.page.locator('.part.sidebar');
    const box = await sidebar.boundingBox();
    assert.ok(box, 'no side bar');
    const edge = box.x + box.width;
    const sashes = await wb.page
      .locator('.monaco-sash.vertical')
      .evaluateAll((els: { getBoundingClientRect(): Rect }[]) =>
        els.map((e) => {
          const r = e.getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: r.height };
        }),
      );
    const centre = (r: Rect): number => r.x + r.width / 2;
    const sash = sashes
      .filter((r) => r.height > box.height / 2 && r.width > 0)
      .sort((a, b) => Math.abs(centre(a) - edge) - Math.abs(centre(b) - edge))[0];
    assert.ok(sash && Math.abs(centre(sash) - edge) < 20, 'no sash at the side bar edge');
    const x = centre(sash);
    const y = box.y + box.height / 2;
    await wb.page.mouse.move(x, y);
    await wb.page.mouse.down();
    await wb.page.mouse.move(x + (width - box.width), y, { steps: 10 });
    await wb.page.mouse.up();
    // Off the sash, so its hover highlight is not in the screenshots.
    await wb.page.mouse.move(x + 400, y);
    await wb.page.waitForTimeout(300);
    return (await sidebar.boundingBox())?.width ?? 0;
  }

  async function readDevice(
    view: FrameLocator,
  ): Promise<{ deviceName: string; deviceShortId: string }> {
    const id = view.locator('[data-testid="device-id"]');
    await id.waitFor({ timeout: 30_000 });
    return {
      deviceName: ((await view.locator('[data-testid="device-name"]').textContent()) ?? '').trim(),
      deviceShortId: ((await id.textContent()) ?? '').trim(),
    };
  }

  /** Hands the page a view through the message event the host's notifications arrive by. */
  async function show(view: FrameLocator, data: SyncPanelView): Promise<void> {
    await view.locator('body').evaluate((_body, v) => {
      const g = globalThis as unknown as {
        dispatchEvent(e: unknown): void;
        MessageEvent: new (type: string, init: { data: unknown }) => unknown;
      };
      g.dispatchEvent(
        new g.MessageEvent('message', { data: { kind: 'notification', method: 'view', view: v } }),
      );
    }, data);
  }

  /**
   * Shows a demo view and waits for `ready`. The host pushes the real view on every state change
   * (a memory sample every few seconds), which may replace the demo: show it again then.
   */
  async function showDemo(view: FrameLocator, data: SyncPanelView, ready: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await show(view, data);
      try {
        await view.locator(ready).first().waitFor({ timeout: 2_000 });
        return;
      } catch (error) {
        if (attempt >= 8) throw error;
      }
    }
  }

  /**
   * Shows a demo view and runs `check` on it; when a host update replaced the demo in the middle
   * (the real view is pushed on every state change), shows it again and checks again.
   */
  async function withDemo(
    view: FrameLocator,
    data: SyncPanelView,
    ready: string,
    check: () => Promise<void>,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await showDemo(view, data, ready);
      try {
        await check();
        return;
      } catch (error) {
        if (attempt >= 4) throw error;
      }
    }
  }

  async function codiconFontLoaded(view: FrameLocator): Promise<boolean> {
    return view.locator('body').evaluate(async () => {
      const doc = (
        globalThis as unknown as {
          document: {
            fonts: {
              ready: Promise<unknown>;
              check(font: string): boolean;
              load(font: string): Promise<unknown[]>;
            };
          };
        }
      ).document;
      await doc.fonts.ready;
      const loaded = await doc.fonts.load('16px codicon');
      return loaded.length > 0 && doc.fonts.check('16px codicon');
    });
  }

  async function closeEditors(): Promise<void> {
    await wb.runCommand('View: Close All Editors', 'workbench.action.closeAllEditors');
    await wb.page
      .locator('iframe.webview')
      .first()
      .waitFor({ state: 'detached', timeout: 10_000 })
      .catch(() => undefined);
  }

  before(async () => {
    env = e2eEnv();
    wb = await Workbench.open(env);
    // Wait for the extension: its status bar item is there once it activated.
    await wb.statusBarItem(env.extensionId, 'twinspace.status').waitFor({ timeout: 60_000 });
    initialTheme = await currentColorTheme(wb);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      const name = this.currentTest.title.replace(/[^\w-]+/g, '-').slice(0, 60);
      await wb.screenshot(`failed-${name}`).catch(() => undefined);
    }
  });

  after(async () => {
    // Leave the theme as it was for the suites after this one.
    if (initialTheme !== undefined) await setColorTheme(wb, initialTheme).catch(() => undefined);
    await wb.close();
  });

  for (const [tag, theme] of THEMES) {
    it(`editor tab, ${tag} theme: codicons load; devices, plan, conflicts and filters render`, async () => {
      await setColorTheme(wb, theme);
      const { label, id } = command('twinspace.openSyncPanel');
      await wb.runCommand(label, id);
      const view = await surface('panel');
      const real = await readDevice(view);
      assert.ok(real.deviceShortId.length > 0);
      // The files section shows whatever the file sync reports (off without one).
      await view.locator('[data-testid="files-state"]').waitFor();
      assert.ok(await codiconFontLoaded(view), 'the codicon font did not load under the CSP');
      await wb.screenshot(`sync-panel-${tag}`);

      await withDemo(view, demoView(real, PLAN), '[data-testid="plan"]', async () => {
        assert.equal(await view.locator('[data-testid="peer-row"]').count(), 3);
        assert.match(
          (await view.locator('[data-testid="plan-counts"]').textContent()) ?? '',
          /214 to create.*9 to update.*2 to delete.*1 conflict/,
        );
        for (const b of ['link-merge', 'link-takePeer', 'link-keepMine']) {
          assert.ok(await view.locator(`[data-testid="${b}"]`).isVisible(), b);
        }
        await wb.screenshot(`sync-panel-plan-${tag}`);
      });

      await withDemo(view, demoView(real, CONFLICTS), '[data-testid="conflict-row"]', async () => {
        assert.equal(await view.locator('[data-testid="conflict-row"]').count(), 2);
        // "Open diff" for the text conflict only; both can be resolved either way.
        assert.equal(await view.locator('[data-testid="open-diff"]').count(), 1);
        assert.equal(await view.locator('[data-testid="keep-current"]').count(), 2);
        assert.equal(await view.locator('[data-testid="keep-copy"]').count(), 2);
        assert.match(
          (await view.locator('[data-testid="git-mismatch"]').textContent()) ?? '',
          /laptop is on feature\/panel @ 9d81be0/,
        );
        assert.match(
          (await view.locator('[data-testid="files-state"]').textContent()) ?? '',
          /Syncing 63%/,
        );

        // Severity filters: keyboard-operated toggles, kept across re-renders.
        const warn = view.locator('[data-testid="filter-warn"]');
        if ((await warn.getAttribute('aria-pressed')) === 'false') await warn.click(); // a retry
        assert.equal(await view.locator('[data-severity="warn"]').count(), 2);
        await warn.focus();
        await wb.page.keyboard.press('Space');
        assert.equal(await warn.getAttribute('aria-pressed'), 'false');
        assert.equal(await view.locator('[data-severity="warn"]').count(), 0);
        assert.equal(await view.locator('[data-severity="error"]').count(), 1);
        const focused = await view.locator('body').evaluate(
          () =>
            (
              globalThis as unknown as {
                document: { activeElement: { getAttribute(n: string): string | null } | null };
              }
            ).document.activeElement?.getAttribute('data-testid') ?? null,
        );
        assert.equal(focused, 'filter-warn', 'focus left the toggle after the re-render');
        await wb.screenshot(`sync-panel-conflicts-${tag}`);
        await wb.page.keyboard.press('Enter');
        assert.equal(await warn.getAttribute('aria-pressed'), 'true');
      });
      await closeEditors();
    });

    it(`activity-bar view, ${tag} theme, also at 250 px`, async () => {
      await setColorTheme(wb, theme);
      // The container's icon is in the activity bar; "View: Show Twinspace" reveals it (a click
      // on the icon would hide the side bar when the container is already shown).
      const item = wb.page.locator('.part.activitybar .action-item a[aria-label^="Twinspace"]');
      assert.equal(await item.count(), 1, 'no Twinspace item in the activity bar');
      await wb.runCommand('View: Show Twinspace', 'workbench.view.extension.twinspace');
      const sidebar = wb.page.locator('.part.sidebar');
      const view = await surface('view');
      const real = await readDevice(view);
      assert.ok(await codiconFontLoaded(view), 'the codicon font did not load in the view');
      await wb.screenshot(`sync-view-${tag}`);

      // Narrow: drag the side bar's sash to 250 px.
      const wide = (await sidebar.boundingBox())?.width ?? 300;
      const narrow = await sideBarWidth(250);
      assert.ok(Math.abs(narrow - 250) <= 12, `side bar is ${narrow} px wide`);

      await showDemo(view, demoView(real, CONFLICTS), '[data-testid="conflict-row"]');
      // Nothing overflows sideways at 250 px: no horizontal scrolling in the view.
      const overflow = await view.locator('body').evaluate(() => {
        const d = (
          globalThis as unknown as {
            document: { documentElement: { scrollWidth: number; clientWidth: number } };
          }
        ).document.documentElement;
        return d.scrollWidth - d.clientWidth;
      });
      assert.ok(overflow <= 1, `the view scrolls sideways by ${overflow} px at 250 px`);
      await wb.screenshot(`sync-view-narrow-${tag}`);
      await showDemo(view, demoView(real, PLAN), '[data-testid="plan"]');
      await wb.screenshot(`sync-view-narrow-plan-${tag}`);

      // Back to the usual width for whatever runs next.
      await sideBarWidth(wide);
    });
  }
});
