/** Switching the workbench's colour theme through its picker, for the e2e suites' screenshots. */
import type { Workbench } from './Workbench';

/** `workbench.colorTheme` ids "Default Light Modern"/"Default Dark Modern", as the picker names them. */
export const THEMES = [
  ['light', 'Light Modern'],
  ['dark', 'Dark Modern'],
] as const;

/** Picks the theme the picker names `name` and waits for the workbench to repaint. */
export async function setColorTheme(wb: Workbench, name: string): Promise<void> {
  // Not Workbench.runCommand: the theme picker reuses the quick input, which stays open.
  const pick = await wb.paletteRow('Preferences: Color Theme', 'workbench.action.selectTheme');
  await pick.click();
  const input = wb.page.locator('.quick-input-widget input[aria-label^="Select Color Theme"]');
  await input.waitFor({ state: 'visible' });
  await input.fill(name);
  const row = wb.page.locator(
    `.quick-input-list .monaco-list-row[aria-label="${name}"], .quick-input-list .monaco-list-row[aria-label^="${name},"]`,
  );
  await row.first().click();
  await input.waitFor({ state: 'hidden' });
  // The workbench repaints with the theme's colours; the webview gets them as CSS variables.
  await wb.page.waitForTimeout(800);
}

/** The theme the picker marks as current (its focused row when it opens). */
export async function currentColorTheme(wb: Workbench): Promise<string | undefined> {
  const pick = await wb.paletteRow('Preferences: Color Theme', 'workbench.action.selectTheme');
  await pick.click();
  const focused = wb.page.locator('.quick-input-list .monaco-list-row.focused').first();
  await focused.waitFor();
  const label = (await focused.getAttribute('aria-label')) ?? undefined;
  await wb.page.keyboard.press('Escape');
  await wb.page.locator('.quick-input-widget input').waitFor({ state: 'hidden' });
  return label?.split(',')[0];
}
