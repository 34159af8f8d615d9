#!/usr/bin/env node
// Entry of the "host" test level: node scripts/vscode-host/test.mjs [--only host,selftest,e2e]
//   [--vsix FILE] [--keep]
// 1. scripts/vscode-host/setup.sh (cached; needs the network only the first time);
// 2. scripts/vscode-host/test.ts (package the VSIX, host tests, harness self-test, UI e2e), run
//    inside a fresh network namespace that has only loopback when this machine allows it (root and
//    `unshare`), so nothing the host or the extension does can reach the network.
// Prints one line per test and ends with exactly `N passed, N failed`; exit code 1 on failure.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const project = join(here, '..', '..');
const args = process.argv.slice(2);
const t0 = Date.now();
const say = (line) => console.log(`[vscode-host] ${line}`);

const setup = spawnSync('bash', [join(here, 'setup.sh')], { cwd: project, stdio: 'inherit' });
if (setup.status !== 0) {
  console.log('  FAIL [setup] scripts/vscode-host/setup.sh');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
say(`setup ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const node = [process.execPath, '--import', 'tsx', join(here, 'test.ts'), ...args];
const canIsolate =
  process.env.TWINSPACE_HOST_NETNS !== '0' &&
  spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' })
    .status === 0;
let cmd;
if (canIsolate) {
  say('running in a private network namespace (loopback only)');
  cmd = ['unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...node];
} else {
  say(
    'WARNING: no private network namespace (needs root + unshare); running in the host namespace',
  );
  cmd = node;
}
const child = spawn(cmd[0], cmd.slice(1), { cwd: project, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  if (code === null) {
    console.log(`  FAIL [harness] test.ts killed by ${signal}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  process.exit(code);
});
