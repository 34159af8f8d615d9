/**
 * Workspace files between two real `twinspace serve` processes on 127.0.0.1: initial sync of a
 * folder (text, binary, executable, empty folder, ignored files), live edits both ways, deletes,
 * concurrent text edits merging, concurrent binary edits keeping exactly one conflict copy,
 * delete-vs-edit keeping the edit, CRLF and BOM kept byte for byte. Needs `npm run build`.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { pairPeers, PeerGroup, waitUntil, type CliPeer } from './cliPeers';

function tree(root: string, dir = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      out.set(`${rel}/`, 'dir');
      for (const [k, v] of tree(root, rel)) out.set(k, v);
    } else {
      const bytes = readFileSync(path.join(root, rel));
      out.set(rel, createHash('sha256').update(bytes).digest('hex'));
    }
  }
  return out;
}

function read(peer: CliPeer, rel: string): Buffer | undefined {
  const file = path.join(peer.folder, rel);
  return existsSync(file) ? readFileSync(file) : undefined;
}

describe('Workspace files between CLI processes', function () {
  this.timeout(120_000);
  let group: PeerGroup;
  let a: CliPeer;
  let b: CliPeer;

  before(async () => {
    group = PeerGroup.create();
    a = await group.add('a');
    b = await group.add('b');
    // A's folder before anything runs.
    mkdirSync(path.join(a.folder, 'src', 'deep'), { recursive: true });
    mkdirSync(path.join(a.folder, 'empty'));
    mkdirSync(path.join(a.folder, 'node_modules', 'x'), { recursive: true });
    writeFileSync(path.join(a.folder, '.gitignore'), 'node_modules/\n*.log\n');
    writeFileSync(path.join(a.folder, 'src', 'main.ts'), 'export const a = 1;\n');
    writeFileSync(path.join(a.folder, 'src', 'deep', 'crlf.txt'), 'one\r\ntwo\r\n');
    writeFileSync(
      path.join(a.folder, 'bom.txt'),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('héllo\n')]),
    );
    writeFileSync(path.join(a.folder, 'run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(path.join(a.folder, 'run.sh'), 0o755);
    const blob = Buffer.alloc(1_500_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 7919) % 251;
    writeFileSync(path.join(a.folder, 'image.bin'), blob);
    writeFileSync(path.join(a.folder, 'node_modules', 'x', 'index.js'), 'ignored');
    writeFileSync(path.join(a.folder, 'debug.log'), 'ignored');
    await a.start();
    await b.start();
    await pairPeers(a, b);
  });

  after(async () => {
    await group.dispose();
  });

  function waitFiles(peer: CliPeer): void {
    const r = peer.cli(['wait-synced', '--files', '--timeout-ms', '30000'], 40_000);
    assert.equal(r.code, 0, `${peer.name} files not synced: ${r.stderr}`);
  }

  async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
    await waitUntil(cond, what, ms);
  }

  it('initial sync: B gets A’s tree byte for byte, minus ignored files', async () => {
    waitFiles(a);
    await until(() => read(b, 'image.bin') !== undefined, 'image.bin on b');
    waitFiles(b);
    const expected = tree(a.folder);
    expected.delete('node_modules/');
    expected.delete('node_modules/x/');
    expected.delete('node_modules/x/index.js');
    expected.delete('debug.log');
    assert.deepEqual(tree(b.folder), expected);
    assert.equal(statSync(path.join(b.folder, 'run.sh')).mode & 0o111, 0o111, 'exec bit');
    assert.ok(!existsSync(path.join(b.folder, 'node_modules')));
    assert.deepEqual(read(b, 'src/deep/crlf.txt'), Buffer.from('one\r\ntwo\r\n'));
    assert.deepEqual(read(b, 'bom.txt'), read(a, 'bom.txt'));
  });

  it('a live edit on either side reaches the other', async () => {
    writeFileSync(path.join(b.folder, 'src', 'main.ts'), 'export const a = 2;\n');
    await until(() => read(a, 'src/main.ts')?.toString() === 'export const a = 2;\n', 'edit b→a');
    writeFileSync(path.join(a.folder, 'notes.md'), '# notes\n');
    await until(() => read(b, 'notes.md')?.toString() === '# notes\n', 'new file a→b');
  });

  it('a delete propagates', async () => {
    rmSync(path.join(a.folder, 'notes.md'));
    await until(() => read(b, 'notes.md') === undefined, 'delete a→b');
  });

  it('concurrent edits to one text file merge without a conflict copy', async () => {
    const base = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n') + '\n';
    writeFileSync(path.join(a.folder, 'shared.txt'), base);
    await until(() => read(b, 'shared.txt')?.toString() === base, 'shared.txt on b');
    waitFiles(a);
    waitFiles(b);
    // Both edit at the same time, different lines.
    writeFileSync(path.join(a.folder, 'shared.txt'), base.replace('line 2\n', 'line 2 from a\n'));
    writeFileSync(path.join(b.folder, 'shared.txt'), base.replace('line 15\n', 'line 15 from b\n'));
    const merged = base
      .replace('line 2\n', 'line 2 from a\n')
      .replace('line 15\n', 'line 15 from b\n');
    await until(
      () =>
        read(a, 'shared.txt')?.toString() === merged &&
        read(b, 'shared.txt')?.toString() === merged,
      'merged text on both',
    );
    const copies = [...tree(a.folder).keys(), ...tree(b.folder).keys()].filter((p) =>
      p.includes('conflict'),
    );
    assert.deepEqual(copies, []);
  });

  it('concurrent binary edits keep exactly one conflict copy and both contents', async () => {
    const fromA = Buffer.from([1, 2, 3, 0, 0xaa]);
    const fromB = Buffer.from([9, 8, 7, 0, 0xbb]);
    writeFileSync(path.join(a.folder, 'data.bin'), Buffer.from([0, 0, 0, 0]));
    await until(() => read(b, 'data.bin') !== undefined, 'data.bin on b');
    waitFiles(a);
    waitFiles(b);
    writeFileSync(path.join(a.folder, 'data.bin'), fromA);
    writeFileSync(path.join(b.folder, 'data.bin'), fromB);
    const copiesOf = (peer: CliPeer): string[] =>
      readdirSync(peer.folder).filter((n) => n.startsWith('data') && n !== 'data.bin');
    await until(
      () =>
        copiesOf(a).length === 1 &&
        copiesOf(b).length === 1 &&
        read(a, 'data.bin')?.equals(read(b, 'data.bin') ?? Buffer.alloc(0)) === true,
      'one conflict copy on both sides',
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(copiesOf(a), copiesOf(b));
    assert.equal(copiesOf(a).length, 1);
    const copy = read(a, copiesOf(a)[0] ?? '');
    const winner = read(a, 'data.bin');
    assert.ok(copy && winner);
    assert.deepEqual(
      [copy.toString('hex'), winner.toString('hex')].sort(),
      [fromA.toString('hex'), fromB.toString('hex')].sort(),
      'both versions survive',
    );
    const status = a.status() as unknown as { files?: { conflicts?: unknown[] } };
    const statusB = b.status() as unknown as { files?: { conflicts?: unknown[] } };
    assert.equal(
      (status.files?.conflicts?.length ?? 0) + (statusB.files?.conflicts?.length ?? 0),
      1,
      'exactly one device recorded the conflict',
    );
  });

  it('a device on another git branch is reported, and .git itself never syncs', async () => {
    const sha = 'c'.repeat(40);
    for (const [peer, branch] of [
      [a, 'main'],
      [b, 'feature'],
    ] as const) {
      mkdirSync(path.join(peer.folder, '.git', 'refs', 'heads'), { recursive: true });
      writeFileSync(path.join(peer.folder, '.git', 'HEAD'), `ref: refs/heads/${branch}\n`);
      writeFileSync(path.join(peer.folder, '.git', 'refs', 'heads', branch), `${sha}\n`);
    }
    type GitStatus = { files?: { gitMismatches?: { branch: string }[] } };
    await until(
      () =>
        (a.status() as unknown as GitStatus).files?.gitMismatches?.[0]?.branch === 'feature' &&
        (b.status() as unknown as GitStatus).files?.gitMismatches?.[0]?.branch === 'main',
      'both sides report the other branch',
    );
    assert.ok(!existsSync(path.join(b.folder, '.git', 'refs', 'heads', 'main')));
    writeFileSync(path.join(b.folder, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(path.join(b.folder, '.git', 'refs', 'heads', 'main'), `${sha}\n`);
    await until(
      () => (a.status() as unknown as GitStatus).files?.gitMismatches?.length === 0,
      'the mismatch cleared once b is on main',
    );
  });

  it('a delete concurrent with an edit keeps the edit', async () => {
    writeFileSync(path.join(a.folder, 'keep.txt'), 'v1\n');
    await until(() => read(b, 'keep.txt')?.toString() === 'v1\n', 'keep.txt on b');
    waitFiles(a);
    waitFiles(b);
    rmSync(path.join(a.folder, 'keep.txt'));
    writeFileSync(path.join(b.folder, 'keep.txt'), 'v2 edited\n');
    await until(
      () =>
        read(a, 'keep.txt')?.toString() === 'v2 edited\n' &&
        read(b, 'keep.txt')?.toString() === 'v2 edited\n',
      'the edit on both sides',
    );
  });

  it('unlink: refused while serve runs; after kill -9 it drops the file state and keeps every file', async () => {
    const busy = b.cli(['unlink', b.folder]);
    assert.notEqual(busy.code, 0, busy.stdout);
    assert.match(busy.stderr, /busy|in use|locked/i);
    const before = tree(b.folder);
    await b.kill9();
    const r = b.cli(['unlink', b.folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /your files are untouched/);
    assert.deepEqual(tree(b.folder), before);
    assert.ok(!existsSync(path.join(b.stateDir, 'files', 'known.json')));
    assert.ok(!existsSync(path.join(b.stateDir, 'files', 'docs')));
  });
});

describe('The first sync of a folder that already has files', function () {
  this.timeout(120_000);
  let group: PeerGroup;

  before(() => {
    group = PeerGroup.create();
  });

  after(async () => {
    await group.dispose();
  });

  /** Two peers with overlapping folders; `second` starts with `--first-sync <choice>`. */
  async function pairOf(choice: string): Promise<[CliPeer, CliPeer]> {
    const first = await group.add(`${choice}-1`);
    const second = await group.add(`${choice}-2`);
    for (const [peer, who] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      writeFileSync(path.join(peer.folder, 'same.txt'), 'identical\n');
      writeFileSync(path.join(peer.folder, 'diff.txt'), `${who} version\n`);
      writeFileSync(path.join(peer.folder, 'diff.bin'), Buffer.from([0, 1, who.length, 0xff]));
      writeFileSync(path.join(peer.folder, `only-${who}.txt`), `${who} only\n`);
    }
    await first.start();
    await second.start(['--first-sync', choice]);
    await pairPeers(first, second);
    return [first, second];
  }

  function waitBoth(a: CliPeer, b: CliPeer): void {
    for (const peer of [a, b]) {
      const r = peer.cli(['wait-synced', '--files', '--timeout-ms', '30000'], 40_000);
      assert.equal(r.code, 0, `${peer.name} files not synced: ${r.stderr}`);
    }
  }

  it('merge (the default): both versions of each differing file survive, one as a conflict copy', async () => {
    const [first, second] = await pairOf('merge');
    const copies = (peer: CliPeer): string[] =>
      readdirSync(peer.folder).filter((n) => n.includes('conflict'));
    await waitUntil(
      () =>
        copies(first).length === 2 &&
        copies(second).length === 2 &&
        read(first, 'only-second.txt') !== undefined &&
        read(second, 'only-first.txt') !== undefined,
      'merge converged with two conflict copies',
      30_000,
    );
    waitBoth(first, second);
    assert.deepEqual(tree(first.folder), tree(second.folder));
    const texts = [read(first, 'diff.txt'), ...copies(first).map((c) => read(first, c))]
      .map((b) => b?.toString())
      .filter((t) => t?.endsWith('version\n'));
    assert.deepEqual(texts.sort(), ['first version\n', 'second version\n']);
  });

  it('take-peer: the joining folder takes the peer’s versions (its own are backed up), no conflict copies', async () => {
    const [first, second] = await pairOf('take-peer');
    await waitUntil(
      () =>
        read(second, 'diff.txt')?.toString() === 'first version\n' &&
        read(second, 'diff.bin')?.equals(Buffer.from([0, 1, 5, 0xff])) === true &&
        read(first, 'only-second.txt')?.toString() === 'second only\n' &&
        read(second, 'only-first.txt')?.toString() === 'first only\n',
      'take-peer converged',
      30_000,
    );
    waitBoth(first, second);
    assert.deepEqual(tree(first.folder), tree(second.folder));
    assert.deepEqual(
      [...tree(first.folder).keys()].filter((p) => p.includes('conflict')),
      [],
    );
    // The replaced versions are kept outside the folder.
    const backups = path.join(second.stateDir, 'files', 'replaced');
    const saved = readdirSync(backups, { recursive: true }).map(String);
    assert.ok(
      saved.some((p) => p.endsWith('diff.txt')),
      saved.join(','),
    );
    assert.ok(
      saved.some((p) => p.endsWith('diff.bin')),
      saved.join(','),
    );
  });

  it('keep-mine: the joining folder’s versions win on both devices, no conflict copies', async () => {
    const [first, second] = await pairOf('keep-mine');
    await waitUntil(
      () =>
        read(first, 'diff.txt')?.toString() === 'second version\n' &&
        read(first, 'diff.bin')?.equals(Buffer.from([0, 1, 6, 0xff])) === true &&
        read(second, 'diff.txt')?.toString() === 'second version\n' &&
        read(first, 'only-second.txt') !== undefined &&
        read(second, 'only-first.txt') !== undefined,
      'keep-mine converged',
      30_000,
    );
    waitBoth(first, second);
    assert.deepEqual(tree(first.folder), tree(second.folder));
    assert.deepEqual(
      [...tree(first.folder).keys()].filter((p) => p.includes('conflict')),
      [],
    );
  });
});
