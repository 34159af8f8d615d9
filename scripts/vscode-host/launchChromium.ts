/** Headless Debian Chromium for playwright-core, with everything that could phone home turned off. */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
] as const;

export function launchChromium(executablePath: string, timeoutMs = 60_000): Promise<Browser> {
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], timeout: timeoutMs });
}
