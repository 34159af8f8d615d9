/**
 * A page object for the VS Code workbench served by code-server, driven through playwright-core:
 * command palette, status bar, notifications, output channel, webview frames, screenshots.
 * Selectors are those of VS Code 1.139 (code-server 4.139.1); every wait is bounded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';
import { launchChromium } from '../../scripts/vscode-host/launchChromium';

export interface Notification {
  /** "Info", "Warning" or "Error". */
  readonly severity: string;
  readonly message: string;
  /** The whole accessible label (message, source, …). */
  readonly label: string;
}

/** The few DOM members the in-page functions use (the project's tsconfig has no DOM lib). */
interface DomElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  readonly textContent: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Workbench {
  private constructor(
    private readonly browser: Browser,
    readonly page: Page,
    private readonly screenshotsDir: string,
  ) {}

  /** Opens `folder` in a fresh browser and waits until the workbench is up. */
  static async open(o: {
    chromium: string;
    baseUrl: string;
    folder: string;
    screenshotsDir: string;
    timeoutMs?: number;
  }): Promise<Workbench> {
    const browser = await launchChromium(o.chromium);
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      page.setDefaultTimeout(15_000);
      await page.goto(`${o.baseUrl}/?folder=${encodeURIComponent(o.folder)}`, {
        timeout: o.timeoutMs ?? 60_000,
      });
      await page.locator('.monaco-workbench').waitFor({ timeout: o.timeoutMs ?? 60_000 });
      fs.mkdirSync(o.screenshotsDir, { recursive: true });
      return new Workbench(browser, page, o.screenshotsDir);
    } catch (error) {
      await browser.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.browser.close();
  }

  async screenshot(name: string): Promise<string> {
    const file = path.join(this.screenshotsDir, `${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  private get quickInput(): Locator {
    return this.page.locator('.quick-input-widget input');
  }

  /**
   * Opens the palette on `query` (without the leading ">") and returns the row for `commandId`.
   * Retries a bounded number of times: on a cold start the remote extension host may not have
   * registered the extension's commands yet ("No matching commands").
   */
  async paletteRow(query: string, commandId: string, attempts = 20): Promise<Locator> {
    const row = this.page.locator(
      `.quick-input-list .monaco-list-row:has([data-quick-input-id="${commandId}"])`,
    );
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('F1');
      await this.quickInput.waitFor({ state: 'visible' });
      await this.quickInput.fill(`>${query}`);
      try {
        await row.first().waitFor({ timeout: 3_000 });
        return row.first();
      } catch (error) {
        await this.page.keyboard.press('Escape');
        if (attempt >= attempts) throw error;
        await sleep(1_000);
      }
    }
  }

  /** Command ids and labels the palette lists for `query` (rendered rows). */
  async paletteEntries(query: string): Promise<{ id: string; label: string }[]> {
    await this.page.keyboard.press('F1');
    await this.quickInput.waitFor({ state: 'visible' });
    await this.quickInput.fill(`>${query}`);
    await this.page.locator('.quick-input-list .monaco-list-row').first().waitFor();
    const entries = await this.page
      .locator('.quick-input-list .monaco-list-row')
      .evaluateAll((rows: DomElement[]) =>
        rows.map((r) => ({
          id: r.querySelector('[data-quick-input-id]')?.getAttribute('data-quick-input-id') ?? '',
          label: r.getAttribute('aria-label') ?? '',
        })),
      );
    await this.page.keyboard.press('Escape');
    return entries;
  }

  /** Runs a command through the palette, as a user would. */
  async runCommand(label: string, commandId: string): Promise<void> {
    const row = await this.paletteRow(label, commandId);
    await row.click();
    await this.quickInput.waitFor({ state: 'hidden' });
  }

  /** A status bar item contributed by an extension (`<extensionId>.<itemId>`). */
  statusBarItem(extensionId: string, itemId: string): Locator {
    return this.page.locator(`.statusbar-item[id="${extensionId}.${itemId}"]`);
  }

  /** Everything in the notification center (opened and closed again). */
  async notifications(): Promise<Notification[]> {
    const center = this.page.locator('.notifications-center');
    await this.page.locator('.statusbar-item[id="status.notifications"]').click();
    await center.waitFor({ state: 'visible' });
    const labels = await center
      .locator('.monaco-list-row')
      .evaluateAll((rows: DomElement[]) => rows.map((r) => r.getAttribute('aria-label') ?? ''));
    await this.page.keyboard.press('Escape');
    await center.waitFor({ state: 'hidden' });
    return labels.map((label) => {
      const m = /^(Info|Warning|Error): ([\s\S]*?)(?:, source: [\s\S]*)?$/.exec(label);
      return { severity: m?.[1] ?? '', message: m?.[2] ?? label, label };
    });
  }

  /** The output view's editor for a channel, e.g. `output:twinspace.twinspace.Twinspace.log`. */
  outputEditor(): Locator {
    return this.page.locator('.part.panel .monaco-editor[data-uri^="output:"]').first();
  }

  /**
   * Reads every line of the editor, not just the visible ones: Monaco renders only the lines in
   * view, so page from the top to the end and merge lines by their vertical position.
   */
  async readEditorLines(editor: Locator, maxPages = 200): Promise<string[]> {
    // Click inside the editor's visible box (the .view-lines element is as tall as the whole
    // document, so its centre can lie outside the panel).
    await editor.click({ position: { x: 60, y: 8 } });
    await this.page.keyboard.press('Control+Home');
    const byTop = new Map<number, string>();
    let unchanged = 0;
    for (let i = 0; i < maxPages && unchanged < 2; i++) {
      await sleep(50);
      const lines = await editor
        .locator('.view-lines .view-line')
        .evaluateAll((els: DomElement[]) =>
          els.map(
            (e) =>
              [
                Number(/top:\s*(-?[\d.]+)px/.exec(e.getAttribute('style') ?? '')?.[1] ?? NaN),
                e.textContent,
              ] as const,
          ),
        );
      const before = byTop.size;
      for (const [top, text] of lines) {
        if (!Number.isNaN(top)) byTop.set(top, (text ?? '').replace(/\u00a0/g, ' '));
      }
      unchanged = byTop.size === before ? unchanged + 1 : 0;
      await this.page.keyboard.press('PageDown');
    }
    return [...byTop.entries()].sort((a, b) => a[0] - b[0]).map(([, text]) => text);
  }

  /** The document inside the active webview: two iframes deep. */
  activeWebview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  }
}
