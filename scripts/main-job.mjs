#!/usr/bin/env node
// The main job: build and package the VSIX, then run a two-device Device Sync on this machine:
// two headless peers ("desktop" and "laptop") on loopback, paired with a one-time code, editing
// the workspace document on both sides and converging. Prints what happened; exit 0 on success.
// mDNS is off here (it must never run in the root network namespace); the netns test level
// covers discovery by real mDNS.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(root, 'dist', 'cli.js');
const log = (m) => console.log(`[main] ${m}`);

function must(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
}

function cli(args, timeoutMs = 20_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`twinspace ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, predicate, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = predicate();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const children = [];
function startPeer(name, dir, port) {
  const folder = path.join(dir, name, 'folder');
  const stateDir = path.join(dir, name, 'state');
  spawnSync('mkdir', ['-p', folder]);
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      folder,
      '--name',
      name,
      '--state-dir',
      stateDir,
      '--no-mdns',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  children.push(child);
  const status = () => {
    try {
      return JSON.parse(readFileSync(path.join(stateDir, 'status.json'), 'utf8'));
    } catch {
      return undefined;
    }
  };
  return { name, folder, stateDir, port, child, status, stderr: () => stderr };
}

async function stopAll() {
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGINT');
        }),
    ),
  );
}

try {
  log('building and packaging the VSIX');
  must('npm', ['run', '--silent', 'package']);
  const vsix = path.join(root, 'twinspace.vsix');
  log(`VSIX: ${vsix} (${Math.round(statSync(vsix).size / 1024)} KB)`);

  const dir = mkdtempSync(path.join(tmpdir(), 'twinspace-main-'));
  const desktop = startPeer('desktop', dir, await freePort());
  const laptop = startPeer('laptop', dir, await freePort());
  await waitFor('both peers to start', () => desktop.status() && laptop.status());
  log(`desktop ${desktop.status().shortId} listening on 127.0.0.1:${desktop.port}`);
  log(`laptop  ${laptop.status().shortId} listening on 127.0.0.1:${laptop.port}`);

  // Pairing: desktop shows a one-time code, laptop enters it.
  const show = spawn(
    process.execPath,
    [CLI, 'pair', '--show', '--state-dir', desktop.stateDir, '--timeout-ms', '20000'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(show);
  let showOut = '';
  show.stdout.on('data', (d) => (showOut += d.toString()));
  const code = await waitFor('a pairing code', () => /pairing code: (\S+)/.exec(showOut)?.[1]);
  log(`desktop shows pairing code ${code}`);
  const joined = cli([
    'pair',
    '--join',
    `127.0.0.1:${desktop.port}`,
    code,
    '--state-dir',
    laptop.stateDir,
  ]);
  log(`laptop: ${joined.trim().split('\n').join(' | ')}`);
  await new Promise((r) => show.once('exit', r));
  log(`desktop: ${showOut.trim().split('\n').join(' | ')}`);

  // Edits on both devices, then wait until both are in sync.
  cli(['visit', 'src/app.ts', '--label', 'app.ts', '--state-dir', desktop.stateDir]);
  cli(['visit', 'README.md', '--label', 'README.md', '--state-dir', laptop.stateDir]);
  cli(['wait-synced', '--state-dir', desktop.stateDir, '--peers', '1', '--timeout-ms', '20000']);
  cli(['wait-synced', '--state-dir', laptop.stateDir, '--peers', '1', '--timeout-ms', '20000']);
  const [a, b] = await waitFor('equal document hashes', () => {
    const sa = desktop.status();
    const sb = laptop.status();
    return sa && sb && sa.docHash === sb.docHash && sa.state.replica.graphNodes === 2
      ? [sa, sb]
      : undefined;
  });
  log(
    `desktop: ${a.state.replica.graphNodes} graph nodes, doc ${a.docHash.slice(0, 16)}…, peers ${a.peers.map((p) => `${p.peerId.slice(0, 8)}=${p.state}`).join(', ')}`,
  );
  log(
    `laptop:  ${b.state.replica.graphNodes} graph nodes, doc ${b.docHash.slice(0, 16)}…, peers ${b.peers.map((p) => `${p.peerId.slice(0, 8)}=${p.state}`).join(', ')}`,
  );
  log('converged: both devices hold the same workspace document');

  // Files: one written on each device reaches the other (text merged as Yjs, binary by hash).
  mkdirSync(path.join(desktop.folder, 'src'), { recursive: true });
  writeFileSync(path.join(desktop.folder, 'src', 'app.ts'), 'export const answer = 42;\n');
  writeFileSync(path.join(laptop.folder, 'logo.bin'), Buffer.from([0, 1, 2, 254, 255]));
  const readBack = (peer, rel) => {
    const file = path.join(peer.folder, rel);
    return existsSync(file) ? readFileSync(file) : undefined;
  };
  await waitFor('the files on both devices', () =>
    readBack(laptop, 'src/app.ts')?.toString() === 'export const answer = 42;\n' &&
    readBack(desktop, 'logo.bin')?.equals(Buffer.from([0, 1, 2, 254, 255]))
      ? true
      : undefined,
  );
  for (const peer of [desktop, laptop]) {
    cli(['wait-synced', '--files', '--state-dir', peer.stateDir, '--timeout-ms', '20000']);
  }
  log(
    'files: src/app.ts (desktop → laptop) and logo.bin (laptop → desktop) synced; wait-synced --files passed on both',
  );
  await stopAll();
  log('both peers stopped cleanly');
} catch (error) {
  console.error(`[main] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(1);
}
