/**
 * What the UI end-to-end tests need from the launcher (scripts/vscode-host/test.ts), passed as
 * environment variables so the tests can also run by hand against any code-server:
 *   TWINSPACE_E2E_URL=http://127.0.0.1:PORT TWINSPACE_E2E_FOLDER=/abs/folder \
 *     npx mocha --timeout 120000 'test/e2e/*.e2e.ts'
 * The contributed commands come from the project's package.json (the VSIX is built from it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ContributedCommand {
  readonly command: string;
  readonly title: string;
  readonly category: string;
}

export interface E2eEnv {
  readonly baseUrl: string;
  readonly folder: string;
  readonly chromium: string;
  readonly screenshotsDir: string;
  readonly extensionId: string;
  readonly commands: readonly ContributedCommand[];
}

export const E2E_ENV = {
  url: 'TWINSPACE_E2E_URL',
  folder: 'TWINSPACE_E2E_FOLDER',
  shots: 'TWINSPACE_E2E_SCREENSHOTS',
} as const;

interface Manifest {
  publisher: string;
  name: string;
  contributes?: { commands?: { command: string; title: string; category?: string }[] };
}

export function e2eEnv(): E2eEnv {
  const project = path.resolve(__dirname, '..', '..');
  const baseUrl = process.env[E2E_ENV.url];
  const folder = process.env[E2E_ENV.folder];
  if (baseUrl === undefined || folder === undefined) {
    throw new Error(`set ${E2E_ENV.url} and ${E2E_ENV.folder} (scripts/vscode-host/test.mjs does)`);
  }
  const manifest = JSON.parse(
    fs.readFileSync(path.join(project, 'package.json'), 'utf8'),
  ) as Manifest;
  // Titles are `%key%` placeholders resolved through package.nls.json, as VS Code shows them.
  const nls = JSON.parse(fs.readFileSync(path.join(project, 'package.nls.json'), 'utf8')) as Record<
    string,
    string
  >;
  const localize = (text: string): string => {
    const key = /^%(.+)%$/.exec(text)?.[1];
    if (key === undefined) return text;
    const value = nls[key];
    if (value === undefined) throw new Error(`package.nls.json has no "${key}"`);
    return value;
  };
  const commands = (manifest.contributes?.commands ?? []).map((c) => ({
    command: c.command,
    title: localize(c.title),
    category: localize(c.category ?? ''),
  }));
  return {
    baseUrl,
    folder,
    chromium: process.env.CHROMIUM ?? '/usr/bin/chromium',
    screenshotsDir:
      process.env[E2E_ENV.shots] ?? path.join(project, 'test-results', 'vscode-host', 'e2e'),
    extensionId: `${manifest.publisher}.${manifest.name}`,
    commands,
  };
}

/** How a command shows in the palette: "Category: Title". */
export function paletteLabel(c: ContributedCommand): string {
  return c.category !== '' ? `${c.category}: ${c.title}` : c.title;
}
