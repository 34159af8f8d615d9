import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { ESLint } from 'eslint';

/**
 * The architecture rings are ESLint rules (eslint.config.mjs). These probes lint small snippets
 * as if they lived in each ring, with the project's real configuration, and check that a
 * forbidden import is reported and an allowed one is not.
 */
const root = path.resolve(__dirname, '../../..');
const eslint = new ESLint({
  cwd: root,
  // Only the ring rule: type-aware rules need real files in the TypeScript project.
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
});

async function ringErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

describe('architecture rings (lint)', function () {
  this.timeout(30_000);

  const cases: [file: string, importPath: string, forbidden: boolean][] = [
    ['src/core/probe.ts', 'node:fs', true],
    ['src/core/probe.ts', 'vscode', true],
    ['src/core/probe.ts', '../runtime/Clock', true],
    ['src/core/probe.ts', './intents', false],
    ['src/core/probe.ts', 'yjs', false],
    ['src/runtime/probe.ts', '../sync/SyncWorker', true],
    ['src/runtime/probe.ts', 'vscode', true],
    ['src/runtime/probe.ts', 'node:fs', false],
    ['src/sync/probe.ts', '../host/extension', true],
    ['src/sync/probe.ts', '../runtime/Clock', false],
    ['src/cli/probe.ts', '../host/extension', true],
    ['src/cli/probe.ts', 'vscode', true],
    ['src/host/probe.ts', 'vscode', false],
    ['src/host/probe.ts', '../cli/serve', true],
    ['webview-ui/syncPanel/probe.ts', '../../src/runtime/Clock', true],
    ['webview-ui/syncPanel/probe.ts', '../../src/core/reduce', true],
    ['webview-ui/syncPanel/probe.ts', 'node:fs', true],
    ['webview-ui/syncPanel/probe.ts', '../../src/core/protocol/syncPanelProtocol', false],
  ];

  for (const [file, importPath, forbidden] of cases) {
    it(`${file}: import '${importPath}' is ${forbidden ? 'forbidden' : 'allowed'}`, async () => {
      const errors = await ringErrors(
        file,
        `import * as m from '${importPath}';\nexport const x = m;\n`,
      );
      assert.equal(errors.length > 0, forbidden, errors.join('; ') || 'no ring error');
    });
  }
});
