// One build script for every bundle: the extension (Node, cjs, `vscode` external), the headless
// CLI, and each webview (browser, iife). `--production` minifies; sourcemaps are always written.
import * as esbuild from 'esbuild';
import { readdirSync, existsSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
// `--tests`: instead of the product, bundle the extension-host test suites (test/host, and the
// harness canaries in test/host-canary/<name>) into out/host-tests/ for scripts/vscode-host.
const tests = process.argv.includes('--tests');

const common = {
  bundle: true,
  minify: production,
  sourcemap: true,
  logLevel: 'info',
  legalComments: 'none',
};

const webviews = readdirSync('webview-ui', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`webview-ui/${d.name}/main.ts`))
  .map((d) => d.name);

const builds = [
  {
    ...common,
    entryPoints: { extension: 'src/host/extension.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
  ...webviews.map((name) => ({
    ...common,
    entryPoints: { [name]: `webview-ui/${name}/main.ts` },
    outdir: 'dist/webview',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  })),
];

const testFiles = (dir) =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.ts')) : [];
const hostTestEntries = () => {
  const entries = { index: 'test/host/runner/index.ts' };
  for (const f of testFiles('test/host')) {
    entries[`suites/main/${f.replace(/\.ts$/, '')}`] = `test/host/${f}`;
  }
  const canaries = existsSync('test/host-canary') ? readdirSync('test/host-canary') : [];
  for (const name of canaries) {
    for (const f of testFiles(`test/host-canary/${name}`)) {
      entries[`suites/canary-${name}/${f.replace(/\.ts$/, '')}`] = `test/host-canary/${name}/${f}`;
    }
  }
  return entries;
};
const testBuilds = () => [
  {
    ...common,
    entryPoints: hostTestEntries(),
    outdir: 'out/host-tests',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    // mocha's parallel mode (never used in the host) resolves worker files at run time.
    logOverride: { 'require-resolve-not-external': 'silent' },
  },
];

// The webviews' icon font: @vscode/codicons' stylesheet and font, loaded under the webview CSP.
const copyCodicons = () => {
  mkdirSync('dist/webview/codicons', { recursive: true });
  for (const f of ['codicon.css', 'codicon.ttf']) {
    copyFileSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/webview/codicons/${f}`);
  }
};

if (tests) {
  // Start clean: a stale bundle of a deleted test would still be loaded by the runner.
  rmSync('out/host-tests', { recursive: true, force: true });
  await Promise.all(testBuilds().map((b) => esbuild.build(b)));
} else if (watch) {
  copyCodicons();
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  copyCodicons();
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
