/**
 * UI end-to-end: a live device in the Sync Panel. A headless CLI peer (`node dist/cli.js serve`,
 * spawned here in the test process) shows a pairing code; the user pairs from the command palette
 * ("Pair a Device…" → "Enter a code from another device" → "Type an address…", typing the address
 * and the code into the quick inputs); the Sync Panel's row for the CLI reads "In sync" (Idle)
 * while it runs and "Offline" (Disconnected) once it is killed. The device is forgotten again at
 * the end (through the panel's Forget button) so later suites see no trusted device.
 * Screenshots: test-results/vscode-host/e2e/devices-live-*.png.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator, Locator } from 'playwright-core';
import { exited, readCliStatus, startServe, type CliStatus } from '../support/cliServe';
import { e2eEnv, paletteLabel, type E2eEnv } from './e2eEnv';
import { Workbench } from './Workbench';

const project = path.resolve(__dirname, '..', '..');
const cliPath = path.join(project, 'dist', 'cli.js');

async function eventually<T>(what: string, probe: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Sync Panel: a live CLI peer paired from the command palette', function () {
  this.timeout(120_000);
  let env: E2eEnv;
  let wb: Workbench;
  let tmp: string;
  let stateDir: string;
  let serve: ChildProcess | undefined;
  let status: CliStatus;
  let paired = false;

  const label = (id: string): string => {
    const c = env.commands.find((x) => x.command === id);
    assert.ok(c, `${id} is not contributed`);
    return paletteLabel(c);
  };
  const quickInput = (): Locator => wb.page.locator('.quick-input-widget');
  const panel = (): FrameLocator => wb.activeWebview();
  const row = (): Locator =>
    panel().locator(`[data-testid="peer-row"][data-device-id="${status.deviceId}"]`);

  /** Waits for the quick input titled `title`, then types `text` (filter or value) and Enter. */
  async function answer(title: string | RegExp, text: string): Promise<void> {
    await quickInput().locator('.quick-input-title', { hasText: title }).waitFor();
    const input = quickInput().locator('input');
    await input.fill(text);
    // A quick pick filters as you type: wait for the one row left before accepting it.
    await wb.page.waitForTimeout(300);
    await input.press('Enter');
  }

  before(async function () {
    this.timeout(90_000);
    env = e2eEnv();
    assert.ok(fs.existsSync(cliPath), `${cliPath} is missing (npm run package builds it)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twinspace-e2e-peer-'));
    const folder = path.join(tmp, 'folder');
    stateDir = path.join(tmp, 'state');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'hello.txt'), 'hello\n');
    const started = startServe({
      node: process.execPath,
      cli: cliPath,
      folder,
      stateDir,
      // The window's workspace id defaults to its folder's name.
      workspaceId: path.basename(env.folder),
    });
    serve = started.child;
    status = await eventually('the CLI peer status.json', () => readCliStatus(stateDir), 20_000);
    wb = await Workbench.open({
      chromium: env.chromium,
      baseUrl: env.baseUrl,
      folder: env.folder,
      screenshotsDir: env.screenshotsDir,
    });
  });

  after(async function () {
    this.timeout(30_000);
    if (serve && serve.exitCode === null && serve.signalCode === null) {
      serve.kill('SIGKILL');
      await exited(serve);
    }
    if (paired) {
      // Leave no trusted device behind for the next suites (same profile).
      try {
        await forgetFromPanel();
      } catch (error) {
        console.error(`devicesLive: could not forget the CLI peer: ${String(error)}`);
      }
    }
    await wb.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function forgetFromPanel(): Promise<void> {
    await wb.runCommand(label('twinspace.openSyncPanel'), 'twinspace.openSyncPanel');
    await row().locator('[data-testid="forget-device"]').click();
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog
      .locator('a.monaco-button, button', { hasText: /^Forget$/ })
      .first()
      .click();
    await row().waitFor({ state: 'detached', timeout: 15_000 });
  }

  it('pairs from the palette by address and code, then the row reads "In sync"', async () => {
    const show = spawn(
      process.execPath,
      [cliPath, 'pair', '--show', '--state-dir', stateDir, '--timeout-ms', '60000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let showOut = '';
    show.stdout.on('data', (d: Buffer) => (showOut += d.toString()));
    show.stderr.on('data', (d: Buffer) => (showOut += d.toString()));
    try {
      const code = await eventually(
        'a pairing code from `pair --show`',
        () => /pairing code: (\S+)/.exec(showOut)?.[1],
        15_000,
      );
      const pair = await wb.paletteRow(label('twinspace.pairDevice'), 'twinspace.pairDevice');
      await pair.click();
      await answer(/^Pair a Device with /, 'Enter a code from another device');
      await answer('Pair a Device: which device shows the code?', 'Type an address');
      await answer('Address of the other device', `127.0.0.1:${status.port}`);
      await quickInput()
        .locator('.quick-input-title', { hasText: `Pair with 127.0.0.1:${status.port}` })
        .waitFor();
      await wb.screenshot('devices-live-1-code');
      await quickInput().locator('input').fill(code);
      await quickInput().locator('input').press('Enter');
      await quickInput().waitFor({ state: 'hidden' });
      // The CLI reports the pairing (and its SAS) once both sides stored each other.
      await eventually('the CLI to report the pairing', () => /SAS: /.exec(showOut)?.[0], 30_000);
      paired = true;
    } finally {
      if (show.exitCode === null && show.signalCode === null) show.kill('SIGTERM');
    }

    await wb.runCommand(label('twinspace.openSyncPanel'), 'twinspace.openSyncPanel');
    await row().waitFor({ timeout: 30_000 });
    await panel()
      .locator(`[data-testid="peer-row"][data-device-id="${status.deviceId}"][data-state="Idle"]`)
      .waitFor({ timeout: 30_000 });
    assert.equal(await row().locator('[data-testid="peer-state"]').textContent(), 'In sync');
    assert.match((await row().textContent()) ?? '', /cli-peer/);
    await wb.screenshot('devices-live-2-in-sync');
  });

  it('the row turns "Offline" when the CLI peer is killed', async () => {
    assert.ok(paired, 'the pairing test did not pair');
    assert.ok(serve);
    serve.kill('SIGKILL');
    await exited(serve);
    await panel()
      .locator(
        `[data-testid="peer-row"][data-device-id="${status.deviceId}"][data-state="Disconnected"]`,
      )
      .waitFor({ timeout: 30_000 });
    assert.equal(await row().locator('[data-testid="peer-state"]').textContent(), 'Offline');
    await wb.screenshot('devices-live-3-offline');
  });
});
