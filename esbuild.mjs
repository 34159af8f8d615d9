// One build script for every bundle: the extension (Node, cjs, `vscode` external), the headless
// CLI, and each webview (browser, iife). `--production` minifies; sourcemaps are always written.
import * as esbuild from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

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

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
