import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { spawnChild } from '../../../../../scripts/crash/crashHarness';
import { TwinspaceError } from '../../../../../src/core/errors';
import { FileOrchestrator } from '../../../../../src/sync/files/orchestrator/FileOrchestrator';
import { folderStateDir } from '../../../../../src/sync/files/orchestrator/folderStateDir';
import {
  JOURNAL_FILE,
  Journal,
  JournalCorruptError,
  readJournal,
} from '../../../../../src/sync/files/orchestrator/Journal';
import { teardown } from '../../../../../src/sync/files/orchestrator/teardown';
import { bytes, cleanupSandboxes, hashOf, listTree, planOf, rules, sandbox } from './fixtures';
import type { Sandbox } from './fixtures';

const isBusy = (e: unknown): boolean => e instanceof TwinspaceError && e.code === 'busy';

async function journalOf(box: Sandbox): Promise<Awaited<ReturnType<typeof readJournal>>> {
  return readJournal(path.join(folderStateDir(box.stateDir, box.folder), JOURNAL_FILE));
}

describe('FileOrchestrator', () => {
  after(cleanupSandboxes);

  it('journals every action in the state folder, never in the synced folder', async () => {
    const box = await sandbox();
    let t = 1000;
    const o = await FileOrchestrator.open({
      folder: box.folder,
      stateDir: box.stateDir,
      now: () => t++,
    });
    const report = await o.apply(
      planOf(
        { type: 'mkdir', path: 'src' },
        { type: 'write', path: 'src/a.ts', content: bytes('a'), expectedHash: null },
        { type: 'write', path: '../x', content: bytes('x') },
        { type: 'write', path: 'src/a.ts', content: bytes('b'), expectedHash: 'not-it' },
      ),
      rules(),
    );
    await o.close();
    assert.deepEqual(
      report.results.map((r) => r.status),
      ['completed', 'completed', 'halted', 'halted'],
    );
    assert.equal(report.results[1]!.hash, hashOf('a'));
    const { records, tornTail } = await journalOf(box);
    assert.equal(tornTail, undefined);
    const id = (n: number): string => `${report.runId}/${n}`;
    // Writes may run side by side, so records of different actions can interleave; each action's
    // own records are in order (Started before Completed/Halted) and seq/at increase throughout.
    const byAction = new Map<string, [string, string | undefined][]>();
    for (const r of records) {
      const list = byAction.get(r.actionId) ?? [];
      list.push([r.type, r.reason?.code]);
      byAction.set(r.actionId, list);
    }
    assert.deepEqual(
      [...byAction].sort(([a], [b]) => (a < b ? -1 : 1)),
      [
        [
          id(1),
          [
            ['ActionStarted', undefined],
            ['ActionCompleted', undefined],
          ],
        ],
        [
          id(2),
          [
            ['ActionStarted', undefined],
            ['ActionCompleted', undefined],
          ],
        ],
        [id(3), [['ActionHalted', 'path_traversal']]],
        [
          id(4),
          [
            ['ActionStarted', undefined],
            ['ActionHalted', 'stale'],
          ],
        ],
      ],
    );
    assert.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      records.map((r) => r.at),
      [1000, 1001, 1002, 1003, 1004, 1005, 1006],
    );
    // mkdir is a barrier: its records come first.
    assert.deepEqual(
      records.slice(0, 2).map((r) => r.actionId),
      [id(1), id(1)],
    );
    const start = records.find((r) => r.actionId === id(2) && r.type === 'ActionStarted')!;
    assert.deepEqual(start.action, {
      type: 'write',
      path: 'src/a.ts',
      size: 1,
      expectedHash: null,
    });
    assert.equal(start.intendedHash, hashOf('a'));
    assert.match(start.temp ?? '', /^src\/\.twinspace-[0-9a-f]{12}\.tmp$/);
    // The synced folder holds only the user's files.
    assert.deepEqual(await listTree(box.folder), ['src/', 'src/a.ts=a']);
  });

  it('creates a deep tree with folders and files side by side: every parent before its children', async () => {
    const box = await sandbox();
    const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
    const actions: Parameters<typeof planOf> = [];
    const dirs: string[] = [];
    for (let a = 0; a < 4; a++) {
      dirs.push(`d${a}`);
      for (let b = 0; b < 4; b++) dirs.push(`d${a}/e${b}`, `d${a}/e${b}/f`);
    }
    for (const dir of dirs) actions.push({ type: 'mkdir', path: dir });
    for (const dir of dirs) {
      actions.push({
        type: 'write',
        path: `${dir}/x.txt`,
        content: bytes(dir),
        expectedHash: null,
      });
    }
    const report = await o.apply(planOf(...actions), rules());
    // Lanes do not wait for their ActionCompleted fsync, but the run does: all are on disk now.
    const before = await journalOf(box);
    assert.equal(before.records.filter((r) => r.type === 'ActionCompleted').length, actions.length);
    await o.close();
    assert.deepEqual(
      report.results.filter((r) => r.status !== 'completed').map((r) => r.message),
      [],
    );
    const tree = await listTree(box.folder);
    for (const dir of dirs) assert.ok(tree.includes(`${dir}/x.txt=${dir}`), `${dir}/x.txt`);
    // In the journal, a folder's mkdir completed before anything inside it started.
    const { records } = await journalOf(box);
    const completedAt = new Map<string, number>();
    for (const r of records) {
      const p = r.action.path;
      if (p === undefined) continue;
      if (r.type === 'ActionCompleted' && r.action.type === 'mkdir') completedAt.set(p, r.seq);
      if (r.type !== 'ActionStarted') continue;
      const parent = p.slice(0, Math.max(0, p.lastIndexOf('/')));
      if (parent === '') continue;
      const parentDone = completedAt.get(parent);
      assert.ok(parentDone !== undefined && parentDone < r.seq, `${p} started before ${parent}`);
    }
  });

  it('refuses a state folder inside the synced folder', async () => {
    const box = await sandbox();
    await assert.rejects(
      FileOrchestrator.open({ folder: box.folder, stateDir: path.join(box.folder, '.twinspace') }),
      (e: unknown) => e instanceof TwinspaceError && e.code === 'validation',
    );
  });

  describe('recovery scan', () => {
    it('settles dangling starts after a simulated crash and removes our temp files', async () => {
      const box = await sandbox();
      await fs.mkdir(path.join(box.folder, 'sub'));
      await fs.writeFile(path.join(box.folder, 'old.txt'), 'old');
      await fs.writeFile(path.join(box.folder, 'done.txt'), 'new content');
      await fs.writeFile(path.join(box.folder, 'keep.txt'), 'keep');
      // Leftovers of the crash: a half-written temp for old.txt, and a stray temp elsewhere.
      const temp = '.twinspace-aaaaaaaaaaaa.tmp';
      await fs.writeFile(path.join(box.folder, temp), 'new con');
      await fs.writeFile(path.join(box.folder, 'sub', '.twinspace-bbbbbbbbbbbb.tmp'), 'x');
      // A user's file that merely looks similar is not ours.
      await fs.writeFile(path.join(box.folder, '.twinspace-notours.tmp'), 'user');
      const dir = folderStateDir(box.stateDir, box.folder);
      await fs.mkdir(dir, { recursive: true });
      const { journal } = await Journal.open(dir, () => 1);
      const write = (p: string, content: string) => ({
        type: 'write' as const,
        path: p,
        size: content.length,
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/1',
        action: write('old.txt', 'new content'),
        temp,
        intendedHash: hashOf('new content'),
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/2',
        action: write('done.txt', 'new content'),
        temp: '.twinspace-cccccccccccc.tmp',
        intendedHash: hashOf('new content'),
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/3',
        action: { type: 'delete', path: 'gone.txt' },
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/4',
        action: { type: 'delete', path: 'keep.txt' },
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/5',
        action: { type: 'mkdir', path: 'newdir' },
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/6',
        action: { type: 'rename', from: 'moved-src', to: 'sub' },
      });
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/9',
        action: { type: 'rename', from: 'keep.txt', to: 'nowhere.txt' },
      });
      await journal.append({ type: 'ActionStarted', actionId: 'r/7', action: write('x.txt', 'x') });
      await journal.append({
        type: 'ActionCompleted',
        actionId: 'r/7',
        action: write('x.txt', 'x'),
      });
      // A temp path in a tampered journal that points outside is never touched.
      await fs.writeFile(path.join(box.outside, '.twinspace-dddddddddddd.tmp'), 'outside');
      await journal.append({
        type: 'ActionStarted',
        actionId: 'r/8',
        action: write('../outside/y', 'y'),
        temp: '../outside/.twinspace-dddddddddddd.tmp',
        intendedHash: 'z',
      });
      await journal.close();

      const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      const recovery = o.recovery;
      await o.close();
      assert.deepEqual(
        recovery.actions.map((a) => [a.actionId, a.outcome]),
        [
          ['r/1', 'interrupted'],
          ['r/2', 'completed'],
          ['r/3', 'completed'],
          ['r/4', 'interrupted'],
          ['r/5', 'interrupted'],
          ['r/6', 'completed'],
          ['r/9', 'interrupted'],
          ['r/8', 'interrupted'],
        ],
      );
      assert.deepEqual(recovery.removedTempFiles, [temp, 'sub/.twinspace-bbbbbbbbbbbb.tmp']);
      assert.equal(recovery.tornTail, undefined);
      assert.deepEqual(await listTree(box.folder), [
        '.twinspace-notours.tmp=user',
        'done.txt=new content',
        'keep.txt=keep',
        'old.txt=old',
        'sub/',
      ]);
      assert.deepEqual(await listTree(box.outside), ['.twinspace-dddddddddddd.tmp=outside']);
      // The decisions are journaled; nothing is left dangling; a second open finds nothing.
      const { records } = await journalOf(box);
      const recovered = records.filter((r) => r.recovered === true);
      assert.deepEqual(
        recovered.map((r) => [r.actionId, r.type, r.reason?.code]),
        [
          ['r/1', 'ActionHalted', 'interrupted'],
          ['r/2', 'ActionCompleted', undefined],
          ['r/3', 'ActionCompleted', undefined],
          ['r/4', 'ActionHalted', 'interrupted'],
          ['r/5', 'ActionHalted', 'interrupted'],
          ['r/6', 'ActionCompleted', undefined],
          ['r/9', 'ActionHalted', 'interrupted'],
          ['r/8', 'ActionHalted', 'interrupted'],
        ],
      );
      const again = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      assert.deepEqual(again.recovery.actions, []);
      assert.deepEqual(again.recovery.removedTempFiles, []);
      await again.close();
    });

    it('drops a torn journal tail and reports it', async () => {
      const box = await sandbox();
      const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await o.apply(planOf({ type: 'mkdir', path: 'a' }), rules());
      await o.close();
      const file = path.join(folderStateDir(box.stateDir, box.folder), JOURNAL_FILE);
      await fs.appendFile(file, '{"v":1,"seq":3,"at":5,"type":"ActionSta');
      const o2 = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      assert.equal(o2.recovery.tornTail?.line, 3);
      await o2.apply(planOf({ type: 'mkdir', path: 'b' }), rules());
      await o2.close();
      const { records, tornTail } = await journalOf(box);
      assert.equal(tornTail, undefined);
      assert.deepEqual(
        records.map((r) => r.seq),
        [1, 2, 3, 4],
      );
    });

    it('a corrupt journal stops the open with the line, and leaves the lock free', async () => {
      const box = await sandbox();
      const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await o.apply(planOf({ type: 'mkdir', path: 'a' }, { type: 'mkdir', path: 'b' }), rules());
      await o.close();
      const file = path.join(folderStateDir(box.stateDir, box.folder), JOURNAL_FILE);
      const lines = (await fs.readFile(file, 'utf8')).split('\n');
      lines[1] = lines[1]!.replace('"seq":2', '"seq":"two"');
      await fs.writeFile(file, lines.join('\n'));
      await assert.rejects(
        FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir }),
        (e: unknown) => e instanceof JournalCorruptError && e.line === 2,
      );
      // Not busy afterwards: the failed open released the lock.
      await fs.writeFile(file, '');
      const again = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await again.close();
    });
  });

  it('rotates a journal past its size limit at open, once everything is settled', async () => {
    const box = await sandbox();
    const options = { folder: box.folder, stateDir: box.stateDir, journalRotateBytes: 600 };
    const o = await FileOrchestrator.open(options);
    await o.apply(
      planOf(
        { type: 'mkdir', path: 'a' },
        { type: 'mkdir', path: 'b' },
        { type: 'mkdir', path: 'c' },
      ),
      rules(),
    );
    await o.close();
    const dir = folderStateDir(box.stateDir, box.folder);
    const before = await readJournal(path.join(dir, JOURNAL_FILE));
    assert.equal(before.records.length, 6);
    const o2 = await FileOrchestrator.open(options);
    await o2.apply(planOf({ type: 'mkdir', path: 'd' }), rules());
    await o2.close();
    const old = await readJournal(path.join(dir, 'events.1.jsonl'));
    assert.deepEqual(old.records, before.records);
    const fresh = await journalOf(box);
    assert.deepEqual(
      fresh.records.map((r) => [r.seq, r.type]),
      [
        [1, 'ActionStarted'],
        [2, 'ActionCompleted'],
      ],
    );
  });

  describe('per-folder lock', function () {
    this.timeout(60_000);

    it('a second open of the same folder fails fast as busy; another folder is fine', async () => {
      const box = await sandbox();
      const other = await sandbox();
      const first = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await assert.rejects(
        FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir }),
        isBusy,
      );
      // The same folder through a symlinked path is the same folder.
      const alias = path.join(box.root, 'alias');
      await fs.symlink(box.folder, alias);
      await assert.rejects(
        FileOrchestrator.open({ folder: alias, stateDir: box.stateDir }),
        isBusy,
      );
      const second = await FileOrchestrator.open({ folder: other.folder, stateDir: box.stateDir });
      await second.close();
      await first.close();
      await assert.rejects(
        first.apply([], rules()),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'closed',
      );
      const third = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await third.close();
    });

    it('another live process holding the folder makes open busy; its lock is cleared once it died', async () => {
      const box = await sandbox();
      const { child, exited } = await spawnChild('hold', box.folder, box.stateDir);
      try {
        await assert.rejects(
          FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir }),
          isBusy,
        );
        await assert.rejects(teardown(box.folder, box.stateDir), isBusy);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const lockFile = path.join(folderStateDir(box.stateDir, box.folder), 'lock');
      assert.ok(existsSync(lockFile), 'the killed process left its lock behind');
      const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await o.close();
    });
  });

  describe('teardown', () => {
    it('removes Twinspace state for the folder and keeps every user file', async () => {
      const box = await sandbox();
      const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir });
      await o.apply(
        planOf(
          { type: 'mkdir', path: 'docs' },
          { type: 'write', path: 'docs/a.md', content: bytes('# a') },
        ),
        rules(),
      );
      // Teardown while open: busy, nothing removed.
      await assert.rejects(teardown(box.folder, box.stateDir), isBusy);
      await o.close();
      await fs.writeFile(path.join(box.folder, 'docs', '.twinspace-eeeeeeeeeeee.tmp'), 'stray');
      // Another folder's state in the same state dir is untouched.
      const other = await sandbox();
      const o2 = await FileOrchestrator.open({ folder: other.folder, stateDir: box.stateDir });
      await o2.close();

      const dir = folderStateDir(box.stateDir, box.folder);
      assert.ok(existsSync(path.join(dir, JOURNAL_FILE)));
      const report = await teardown(box.folder, box.stateDir);
      assert.equal(report.removedStateDir, dir);
      assert.deepEqual(report.removedTempFiles, ['docs/.twinspace-eeeeeeeeeeee.tmp']);
      assert.equal(existsSync(dir), false);
      assert.ok(existsSync(folderStateDir(box.stateDir, other.folder)));
      assert.deepEqual(await listTree(box.folder), ['docs/', 'docs/a.md=# a']);
      // Idempotent.
      assert.deepEqual(await teardown(box.folder, box.stateDir), { removedTempFiles: [] });
    });
  });
});
