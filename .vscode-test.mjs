// @vscode/test-cli configuration: the same extension-host suite as scripts/vscode-host (test/host,
// bundled into out/host-tests by `node esbuild.mjs --tests`), run in desktop VS Code, for machines
// that can download it:
//   npm run build && node esbuild.mjs --tests && npx vscode-test
// Machines without internet (like the project's CI) run the suite in code-server instead:
//   node scripts/vscode-host/test.mjs
import { defineConfig } from '@vscode/test-cli';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const userData = join(root, '.vscode-test', 'user-data');
const workspace = join(root, '.vscode-test', 'workspace');
mkdirSync(join(userData, 'User'), { recursive: true });
mkdirSync(workspace, { recursive: true });
// The same user settings as the code-server harness; above all `twinspace.discovery.mdns: false`
// (never mDNS from a test host), which a host test checks.
writeFileSync(
  join(userData, 'User', 'settings.json'),
  readFileSync(join(root, 'scripts', 'vscode-host', 'user-settings.json')),
);

// Run order as in the in-host runner (test/host/runner): by name, shutdown.test.js last.
const suite = join(root, 'out', 'host-tests', 'suites', 'main');
const files = existsSync(suite)
  ? readdirSync(suite)
      .filter((f) => f.endsWith('.test.js'))
      .sort((a, b) => (a === 'shutdown.test.js') - (b === 'shutdown.test.js') || a.localeCompare(b))
      .map((f) => `out/host-tests/suites/main/${f}`)
  : 'out/host-tests/suites/main/*.test.js';

export default defineConfig({
  label: 'host',
  files,
  version: 'stable',
  extensionDevelopmentPath: root,
  workspaceFolder: workspace,
  launchArgs: [`--user-data-dir=${userData}`, '--disable-extensions'],
  mocha: { ui: 'bdd', timeout: 30_000, color: false },
});
