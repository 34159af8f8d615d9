import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../../../../../src/core/errors';
import { ExpectedWrites } from '../../../../../src/sync/files/scan/ExpectedWrites';
import {
  applyDelta,
  hashFile,
  scanFolder,
  scanPaths,
  type ScanResult,
  type ScanSnapshot,
} from '../../../../../src/sync/files/scan/scanFolder';
import { fakeClock } from '../../../support/fakeClock';

const sha = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const HOUR = 3600_000;

async function write(root: string, rel: string, data: string | Uint8Array): Promise<void> {
  const file = path.join(root, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, data);
}

/** Sets every file's mtime one hour back, so the next scan does not treat them as racy. */
async function age(root: string, rels: readonly string[], ms = HOUR): Promise<void> {
  const t = (Date.now() - ms) / 1000;
  for (const rel of rels) await fs.utimes(path.join(root, rel), t, t);
}

describe('scanFolder', function () {
  this.timeout(20_000);
  let root: string;
  let outside: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'twinspace-scan-'));
    outside = await fs.mkdtemp(path.join(os.tmpdir(), 'twinspace-outside-'));
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
  });

  async function makeTree(): Promise<void> {
    await write(root, '.gitignore', 'node_modules/\n*.log\n');
    await write(root, 'README.md', '# hi\r\n');
    await write(root, 'src/main.ts', 'export const x = 1;\n');
    await write(root, 'src/.gitignore', 'generated/\n!keep.log\n');
    await write(root, 'src/keep.log', 'kept\n');
    await write(root, 'src/generated/out.js', 'ignored\n');
    await write(root, 'app.log', 'ignored\n');
    await write(root, 'node_modules/pkg/index.js', 'ignored\n');
    await write(root, '.git/HEAD', 'ref: refs/heads/main\n');
    await write(root, '.twinspace/state.json', '{}');
    await write(root, 'assets/logo.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
    await write(root, 'bin/run.sh', '#!/bin/sh\necho hi\n');
    await fs.chmod(path.join(root, 'bin/run.sh'), 0o755);
    await fs.mkdir(path.join(root, 'empty/nested'), { recursive: true });
    await write(root, 'big.bin', new Uint8Array(3000).fill(7));
    await write(outside, 'secret.txt', 'outside\n');
    await fs.symlink(path.join(outside, 'secret.txt'), path.join(root, 'escape.txt'));
    await fs.symlink('src', path.join(root, 'src-link'));
    await fs.symlink('README.md', path.join(root, 'readme-link'));
    await fs.symlink('missing', path.join(root, 'dangling'));
  }

  it('lists synced files with hash, kind, mode; honours ignore rules; reports links', async () => {
    await makeTree();
    const result = await scanFolder(root, { maxFileBytes: 2000 });
    assert.deepEqual(
      [...result.entries.keys()],
      [
        '.gitignore',
        'README.md',
        'assets/logo.png',
        'bin/run.sh',
        'src/.gitignore',
        'src/keep.log',
        'src/main.ts',
      ],
    );
    const readme = result.entries.get('README.md');
    assert.deepEqual(readme && { ...readme, mtimeMs: 0 }, {
      path: 'README.md',
      size: 6,
      mtimeMs: 0,
      mode: readme?.mode,
      executable: false,
      kind: 'text',
      hash: sha('# hi\r\n'),
    });
    assert.equal(result.entries.get('assets/logo.png')?.kind, 'binary');
    assert.equal(result.entries.get('bin/run.sh')?.executable, true);
    assert.equal((result.entries.get('bin/run.sh')?.mode ?? 0) & 0o777, 0o755);
    assert.deepEqual([...result.dirs].sort(), ['assets', 'bin', 'empty', 'empty/nested', 'src']);
    assert.deepEqual(result.symlinks, [
      { path: 'dangling', target: 'missing', reason: 'symlink_dangling' },
      {
        path: 'escape.txt',
        target: path.join(outside, 'secret.txt'),
        reason: 'symlink_outside_folder',
      },
      { path: 'readme-link', target: 'README.md', reason: 'symlink_to_file' },
      { path: 'src-link', target: 'src', reason: 'symlink_to_directory' },
    ]);
    assert.deepEqual(
      result.skipped.map((s) => [s.path, s.reason]),
      [['big.bin', 'too_large']],
    );
    assert.ok(result.stats.ignored >= 5);
    assert.equal(result.stats.hashed, 7);
  });

  it('reports special files and does not block on them', async () => {
    await write(root, 'a.txt', 'a');
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    const result = await scanFolder(root);
    assert.deepEqual([...result.entries.keys()], ['a.txt']);
    assert.deepEqual(
      result.skipped.map((s) => [s.path, s.reason]),
      [['pipe', 'special_file']],
    );
  });

  it('hashes binaries read in blocks and text read whole to the same digests as a full read', async () => {
    const multiBlock = Buffer.alloc(200_000);
    for (let i = 0; i < multiBlock.length; i += 1) multiBlock[i] = (i * 7 + 3) % 256;
    multiBlock[10] = 0; // a NUL in the head: binary at once
    const lateNul = Buffer.from('x'.repeat(10_000) + '\u0000' + 'y'.repeat(10));
    const text = Buffer.from('é'.repeat(9_000));
    await fs.writeFile(path.join(root, 'multi.bin'), multiBlock);
    await fs.writeFile(path.join(root, 'late-nul.dat'), lateNul);
    await fs.writeFile(path.join(root, 'text.txt'), text);
    const result = await scanFolder(root);
    const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.deepEqual(
      ['multi.bin', 'late-nul.dat', 'text.txt'].map((p) => {
        const e = result.entries.get(p);
        return [e?.kind, e?.hash, e?.size];
      }),
      [
        ['binary', digest(multiBlock), multiBlock.length],
        // A NUL past the first 8 KiB does not make a binary (decodeText's rule): read whole, text.
        ['text', digest(lateNul), lateNul.length],
        ['text', digest(text), text.length],
      ],
    );
  });

  it('streams files over the text limit and treats them as binary', async () => {
    const text = 'x'.repeat(3000);
    await write(root, 'long.txt', text);
    const result = await scanFolder(root, { maxTextBytes: 1000 });
    assert.equal(result.entries.get('long.txt')?.kind, 'binary');
    assert.equal(result.entries.get('long.txt')?.hash, sha(text));
    assert.deepEqual(await hashFile(path.join(root, 'long.txt')).then((h) => h.kind), 'text');
  });

  it('a cheap rescan reads only files whose size or mtime changed', async () => {
    const files = ['a.txt', 'b.txt', 'c/d.txt', 'c/e.bin'];
    for (const f of files) await write(root, f, `content of ${f}`);
    await age(root, files);
    const first = await scanFolder(root);
    assert.equal(first.stats.hashed, 4);
    await write(root, 'b.txt', 'changed, and longer');
    await age(root, ['b.txt'], HOUR / 2);
    const second = await scanFolder(root, { previous: first });
    assert.deepEqual(second.stats, { hashed: 1, reused: 3, ignored: 0 });
    assert.equal(second.entries.get('b.txt')?.hash, sha('changed, and longer'));
    assert.equal(second.entries.get('a.txt')?.hash, first.entries.get('a.txt')?.hash);
  });

  it('re-reads a racily clean file (modified just before the previous scan)', async () => {
    await write(root, 'a.txt', 'one');
    await write(root, 'b.txt', 'two');
    await age(root, ['a.txt']);
    const mtime = (await fs.stat(path.join(root, 'b.txt'))).mtimeMs;
    const first = await scanFolder(root, { now: () => mtime + 500 });
    // Same size and mtime, different content: only a re-read can tell.
    await write(root, 'b.txt', 'TWO');
    await fs.utimes(path.join(root, 'b.txt'), mtime / 1000, mtime / 1000);
    const second = await scanFolder(root, { previous: first });
    assert.equal(second.stats.hashed, 1);
    assert.equal(second.entries.get('b.txt')?.hash, sha('TWO'));
  });

  it('fails clearly on a missing folder and stops when aborted', async () => {
    await assert.rejects(
      scanFolder(path.join(root, 'nope')),
      (e: unknown) => e instanceof TwinspaceError && e.code === 'not_found',
    );
    await write(root, 'a.txt', 'a');
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      scanFolder(root, { signal: controller.signal }),
      (e: unknown) => e instanceof TwinspaceError && e.code === 'closed',
    );
  });

  it('reports progress', async () => {
    for (let i = 0; i < 5; i += 1) await write(root, `f${i}.txt`, String(i));
    const seen: number[] = [];
    await scanFolder(root, { onProgress: (n) => seen.push(n), concurrency: 2 });
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  describe('scanPaths', () => {
    let first: ScanResult;

    beforeEach(async () => {
      await write(root, '.gitignore', '*.tmp\n');
      await write(root, 'keep.txt', 'keep');
      await write(root, 'edit.txt', 'before');
      await write(root, 'gone.txt', 'gone');
      await write(root, 'dir/a.txt', 'a');
      await write(root, 'dir/sub/b.txt', 'b');
      await age(root, ['.gitignore', 'keep.txt', 'edit.txt', 'gone.txt', 'dir/a.txt']);
      await age(root, ['dir/sub/b.txt']);
      first = await scanFolder(root);
    });

    it('agrees with a full scan when files, directories and files-turned-directories change', async () => {
      // Only files named (the quick path), then a directory gone, a file that became a directory
      // and a directory that became a file, each named alone.
      const cases: [() => Promise<void>, string[]][] = [
        [
          async () => {
            await write(root, 'edit.txt', 'edited');
            await fs.rm(path.join(root, 'gone.txt'));
          },
          ['edit.txt', 'gone.txt'],
        ],
        [() => fs.rm(path.join(root, 'dir'), { recursive: true }), ['dir']],
        [
          async () => {
            await fs.rm(path.join(root, 'keep.txt'));
            await write(root, 'keep.txt/inside.txt', 'now a directory');
          },
          ['keep.txt'],
        ],
        [
          async () => {
            await fs.rm(path.join(root, 'keep.txt'), { recursive: true });
            await write(root, 'keep.txt', 'a file again');
          },
          ['keep.txt'],
        ],
      ];
      let snapshot: ScanSnapshot = first;
      for (const [change, paths] of cases) {
        await change();
        const delta = await scanPaths(root, paths, snapshot, { rules: first.rules });
        snapshot = applyDelta(snapshot, delta, Date.now());
        const full = await scanFolder(root);
        assert.deepEqual([...snapshot.entries.keys()].sort(), [...full.entries.keys()].sort());
        assert.deepEqual([...snapshot.dirs].sort(), [...full.dirs].sort());
      }
      assert.deepEqual([...snapshot.entries.keys()].sort(), ['.gitignore', 'edit.txt', 'keep.txt']);
    });

    it('reports new, changed and deleted files and directories', async () => {
      await write(root, 'edit.txt', 'after!');
      await fs.rm(path.join(root, 'gone.txt'));
      await write(root, 'new/deep/n.txt', 'new');
      await fs.rm(path.join(root, 'dir/sub'), { recursive: true });
      const delta = await scanPaths(
        root,
        ['edit.txt', 'gone.txt', 'new', 'dir/sub', 'dir/sub/b.txt', 'keep.txt'],
        first,
        { rules: first.rules },
      );
      assert.deepEqual(
        delta.upserted.map((e) => e.path),
        ['edit.txt', 'new/deep/n.txt'],
      );
      assert.deepEqual(delta.removed, ['dir/sub/b.txt', 'gone.txt']);
      assert.deepEqual(delta.excluded, []);
      assert.deepEqual(delta.dirsAdded, ['new', 'new/deep']);
      assert.deepEqual(delta.dirsRemoved, ['dir/sub']);
      assert.equal(delta.rulesChanged, false);
      assert.equal(delta.stats.reused, 1, 'keep.txt was not read again');

      const next = applyDelta(first, delta, Date.now());
      const full = await scanFolder(root);
      assert.deepEqual([...next.entries.keys()].sort(), [...full.entries.keys()].sort());
      assert.deepEqual([...next.dirs].sort(), [...full.dirs].sort());
    });

    it('a changed .gitignore reloads the rules; newly ignored files are excluded, not removed', async () => {
      await write(root, '.gitignore', '*.tmp\nkeep.txt\n');
      const delta = await scanPaths(root, ['.gitignore', 'keep.txt'], first, {
        rules: first.rules,
      });
      assert.equal(delta.rulesChanged, true);
      assert.deepEqual(delta.excluded, ['keep.txt']);
      assert.deepEqual(delta.removed, []);
      assert.deepEqual(
        delta.upserted.map((e) => e.path),
        ['.gitignore'],
      );
      assert.ok(first.rules.isIgnored('keep.txt'));
    });

    it('ignores changes inside ignored paths', async () => {
      await write(root, 'x.tmp', 'scratch');
      const delta = await scanPaths(root, ['x.tmp'], first, { rules: first.rules });
      assert.deepEqual(delta.upserted, []);
    });

    it('with ExpectedWrites, our own writes do not come back as changes', async () => {
      const { clock } = fakeClock(1000);
      const expected = new ExpectedWrites(clock);
      // The orchestrator writes edit.txt and deletes gone.txt; the user edits keep.txt.
      expected.expect('edit.txt', sha('from peer'));
      await write(root, 'edit.txt', 'from peer');
      expected.expect('gone.txt', null);
      await fs.rm(path.join(root, 'gone.txt'));
      await write(root, 'keep.txt', 'user edit');
      const delta = expected.filter(
        await scanPaths(root, ['edit.txt', 'gone.txt', 'keep.txt'], first, {
          rules: first.rules,
        }),
      );
      assert.deepEqual(
        delta.upserted.map((e) => e.path),
        ['keep.txt'],
      );
      assert.deepEqual(delta.removed, []);
      assert.equal(expected.size, 0);
    });
  });
});
