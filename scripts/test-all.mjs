#!/usr/bin/env node
// The whole test suite, every level in turn, with one closing line `N passed, N failed`.
//   levels: check (types, lint, rings, cycles, format), unit, browser (webview bundles in headless
//   Chromium), multiprocess (headless peers over loopback TCP), netns (peers in network namespaces with real mDNS; root only, else skipped),
//   host (the packaged VSIX in a real VS Code host: code-server + Chromium).
// Run one level alone: `node scripts/test-all.mjs unit` (or several: `... unit netns`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const LEVELS = {
  check: { kind: 'checks', steps: ['typecheck', 'lint', 'cycles', 'format:check'] },
  unit: { kind: 'mocha', args: ['test/unit/**/*.test.ts'] },
  browser: {
    kind: 'mocha',
    args: ['test/browser/**/*.test.ts', '--timeout', '120000'],
    needs: 'test/browser',
  },
  multiprocess: {
    kind: 'mocha',
    args: ['test/multiprocess/**/*.test.ts', '--timeout', '60000'],
    needs: 'test/multiprocess',
  },
  netns: {
    kind: 'mocha',
    args: ['test/netns/**/*.test.ts', '--timeout', '60000'],
    needs: 'test/netns',
  },
  host: {
    kind: 'script',
    cmd: ['node', 'scripts/vscode-host/test.mjs'],
    needs: 'scripts/vscode-host/test.mjs',
  },
};

const wanted = process.argv.slice(2);
for (const w of wanted) {
  if (!(w in LEVELS)) {
    console.error(`unknown level ${w}; levels: ${Object.keys(LEVELS).join(', ')}`);
    process.exit(2);
  }
}
const levels = wanted.length > 0 ? wanted : Object.keys(LEVELS);

function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    const onData = (stream) => (chunk) => {
      out += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

function last(re, text) {
  const all = [...text.matchAll(re)];
  return all.length > 0 ? Number(all[all.length - 1][1]) : 0;
}

const results = [];
const t0 = Date.now();
console.log('== build');
const build = await run('npm', ['run', 'build']);
if (build.code !== 0) {
  console.log('build failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

for (const name of levels) {
  const level = LEVELS[name];
  const started = Date.now();
  console.log(`\n== level ${name}`);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let note = '';
  if (level.needs && !existsSync(level.needs)) {
    note = `no ${level.needs} yet`;
  } else if (level.kind === 'checks') {
    for (const step of level.steps) {
      const r = await run('npm', ['run', '--silent', step]);
      if (r.code === 0) passed++;
      else {
        failed++;
        console.log(`check ${step} FAILED`);
      }
    }
  } else if (level.kind === 'mocha') {
    const r = await run('npx', ['mocha', ...level.args]);
    passed = last(/(\d+) passing/g, r.out);
    failed = last(/(\d+) failing/g, r.out);
    skipped = last(/(\d+) pending/g, r.out);
    if (r.code !== 0 && failed === 0) {
      failed = 1;
      note = `mocha exited ${r.code}`;
    }
  } else {
    const r = await run(level.cmd[0], level.cmd.slice(1));
    const m = [
      ...r.out.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm),
    ].pop();
    passed = m ? Number(m[1]) : 0;
    failed = m ? Number(m[2]) : 0;
    skipped = m?.[3] ? Number(m[3]) : 0;
    if (r.code !== 0 && failed === 0) {
      failed = 1;
      note = `exited ${r.code}`;
    }
    if (!m && r.code === 0) {
      failed = 1;
      note = 'printed no summary';
    }
  }
  if (passed + failed === 0 && skipped === 0 && !note) {
    failed = 1;
    note = 'ran no test';
  }
  results.push({
    name,
    passed,
    failed,
    skipped,
    note,
    seconds: Math.round((Date.now() - started) / 1000),
  });
}

console.log('\n== summary');
for (const r of results) {
  console.log(
    `${r.name.padEnd(13)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${String(r.skipped).padStart(3)} skipped  ${String(r.seconds).padStart(4)} s${r.note ? `  (${r.note})` : ''}`,
  );
}
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.reduce((a, r) => a + r.skipped, 0);
console.log(`total time ${Math.round((Date.now() - t0) / 1000)} s`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
