import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildPlan } from '../../../../../src/core/files/plan';
import type { FileAction } from '../../../../../src/core/files/plan';
import {
  FileOrchestrator,
  dryRunPlan,
} from '../../../../../src/sync/files/orchestrator/FileOrchestrator';
import type { ApplyReport } from '../../../../../src/sync/files/orchestrator/FileOrchestrator';
import { DryRunExecutor } from '../../../../../src/sync/files/orchestrator/DryRunExecutor';
import { FolderView } from '../../../../../src/sync/files/orchestrator/FolderView';
import { FsExecutor } from '../../../../../src/sync/files/orchestrator/FsExecutor';
import { contentHash } from '../../../../../src/sync/files/orchestrator/contentHash';
import { bytes, cleanupSandboxes, hashOf, listTree, planOf, rules, sandbox } from './fixtures';
import type { Sandbox } from './fixtures';

function statuses(report: ApplyReport): string[] {
  return report.results.map((r) => (r.status === 'halted' ? `halted:${r.code ?? ''}` : r.status));
}

async function seed(box: Sandbox, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(box.folder, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, content);
  }
}

async function withOrchestrator<T>(
  box: Sandbox,
  fn: (o: FileOrchestrator) => Promise<T>,
  options: Partial<Parameters<typeof FileOrchestrator.open>[0]> = {},
): Promise<T> {
  const o = await FileOrchestrator.open({ folder: box.folder, stateDir: box.stateDir, ...options });
  try {
    return await fn(o);
  } finally {
    await o.close();
  }
}

describe('orchestrator executors', () => {
  after(cleanupSandboxes);

  it('dry run reports what the wet run then does, and touches nothing', async () => {
    const box = await sandbox();
    await seed(box, {
      'keep.txt': 'keep',
      'old.txt': 'old',
      'gone.txt': 'bye',
      'mv.txt': 'move me',
      'img.bin': 'mine',
    });
    const index = new Map([
      ['keep.txt', { kind: 'file' as const, hash: hashOf('keep') }],
      ['old.txt', { kind: 'file' as const, hash: hashOf('old') }],
      ['gone.txt', { kind: 'file' as const, hash: hashOf('bye') }],
      ['mv.txt', { kind: 'file' as const, hash: hashOf('move me') }],
      ['img.bin', { kind: 'file' as const, hash: hashOf('mine') }],
    ]);
    const plan = buildPlan(
      [
        { type: 'put', path: 'keep.txt', content: bytes('keep'), hash: hashOf('keep') },
        { type: 'put', path: 'old.txt', content: bytes('new'), hash: hashOf('new') },
        { type: 'put', path: 'a/b/new.txt', content: bytes('fresh'), hash: hashOf('fresh') },
        { type: 'remove', path: 'gone.txt' },
        { type: 'rename', from: 'mv.txt', to: 'a/moved.txt' },
        {
          type: 'conflict',
          path: 'img.bin',
          content: bytes('theirs'),
          deviceShortId: 'peer',
          at: Date.UTC(2024, 0, 2, 3, 4, 5),
        },
      ],
      index,
    );
    const before = await listTree(box.folder);

    const dry = await dryRunPlan(box.folder, plan, rules());
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      statuses(dry),
      plan.actions.map(() => 'would_apply'),
    );
    assert.ok(
      dry.results.every((r) => (r.message ?? '').startsWith('would ')),
      JSON.stringify(dry.results),
    );
    assert.deepEqual(await listTree(box.folder), before, 'dry run changed the folder');
    await assert.rejects(
      fs.access(box.stateDir),
      'dry run without an orchestrator writes no state',
    );

    await withOrchestrator(box, async (o) => {
      const dry2 = await o.dryRun(plan, rules());
      assert.deepEqual(statuses(dry2), statuses(dry));
      assert.deepEqual(await listTree(box.folder), before);
      const wet = await o.apply(plan, rules());
      assert.equal(wet.dryRun, false);
      assert.deepEqual(
        statuses(wet),
        plan.actions.map(() => 'completed'),
      );
      assert.equal(wet.completed, plan.actions.length);
    });
    assert.deepEqual(await listTree(box.folder), [
      'a/',
      'a/b/',
      'a/b/new.txt=fresh',
      'a/moved.txt=move me',
      'img.bin=mine',
      'img.twinspace-conflict-peer-20240102-030405.bin=theirs',
      'keep.txt=keep',
      'old.txt=new',
    ]);
  });

  it('halts stale actions and loses nothing', async () => {
    const box = await sandbox();
    await seed(box, {
      'edited.txt': 'local edit',
      'del.txt': 'local edit',
      'exists.txt': 'created here',
      'mv.txt': 'changed',
    });
    const actions = planOf(
      {
        type: 'write',
        path: 'edited.txt',
        content: bytes('remote'),
        expectedHash: hashOf('original'),
      },
      { type: 'delete', path: 'del.txt', expectedHash: hashOf('original') },
      { type: 'write', path: 'exists.txt', content: bytes('remote'), expectedHash: null },
      { type: 'rename', from: 'mv.txt', to: 'moved.txt', expectedHash: hashOf('original') },
      {
        type: 'write',
        path: 'vanished.txt',
        content: bytes('remote'),
        expectedHash: hashOf('original'),
      },
    );
    const dry = await dryRunPlan(box.folder, actions, rules());
    assert.deepEqual(statuses(dry), [
      'halted:stale',
      'halted:stale',
      'halted:stale',
      'halted:stale',
      'halted:stale',
    ]);
    const halted: string[] = [];
    const wet = await withOrchestrator(box, (o) => o.apply(actions, rules()), {
      onHalted: (r) => halted.push(r.id),
    });
    assert.deepEqual(statuses(wet), statuses(dry));
    assert.deepEqual(halted, ['1', '2', '3', '4', '5']);
    assert.deepEqual(await listTree(box.folder), [
      'del.txt=local edit',
      'edited.txt=local edit',
      'exists.txt=created here',
      'mv.txt=changed',
    ]);
  });

  it('halts as stale when the file changes while the new version is being written', async () => {
    const box = await sandbox();
    await seed(box, { 'race.txt': 'v1' });
    const actions = planOf({
      type: 'write',
      path: 'race.txt',
      content: bytes('remote'),
      expectedHash: hashOf('v1'),
    });
    const report = await withOrchestrator(box, (o) => o.apply(actions, rules()), {
      executor: {
        beforeCommit: async () => {
          await fs.writeFile(path.join(box.folder, 'race.txt'), 'typed meanwhile, longer');
        },
      },
    });
    assert.deepEqual(statuses(report), ['halted:stale']);
    assert.deepEqual(await listTree(box.folder), ['race.txt=typed meanwhile, longer']);
  });

  it('sets the exec bit, and keeps the existing mode when none is given', async () => {
    const box = await sandbox();
    await seed(box, { 'tool.sh': 'v1' });
    await fs.chmod(path.join(box.folder, 'tool.sh'), 0o750);
    const modeOf = async (rel: string): Promise<number> =>
      (await fs.stat(path.join(box.folder, rel))).mode & 0o777;
    await withOrchestrator(box, async (o) => {
      const report = await o.apply(
        planOf(
          {
            type: 'write',
            path: 'run.sh',
            content: bytes('#!/bin/sh'),
            mode: 0o755,
            expectedHash: null,
          },
          { type: 'write', path: 'tool.sh', content: bytes('v2'), expectedHash: hashOf('v1') },
          { type: 'write', path: 'plain.txt', content: bytes('p'), mode: 0o644 },
        ),
        rules(),
      );
      assert.deepEqual(statuses(report), ['completed', 'completed', 'completed']);
    });
    assert.equal(await modeOf('run.sh'), 0o755);
    assert.equal(await modeOf('tool.sh'), 0o750);
    assert.equal(await modeOf('plain.txt'), 0o644);
  });

  describe('symbolic links', () => {
    it('a symlinked directory pointing outside is never written through', async () => {
      const box = await sandbox();
      await fs.writeFile(path.join(box.outside, 'secret.txt'), 'outside');
      await fs.symlink(box.outside, path.join(box.folder, 'escape'));
      await fs.mkdir(path.join(box.folder, 'real'));
      await seed(box, { 'inside.txt': 'in' });
      const actions = planOf(
        { type: 'write', path: 'escape/evil.txt', content: bytes('pwned') },
        { type: 'write', path: 'escape/secret.txt', content: bytes('pwned') },
        { type: 'mkdir', path: 'escape/sub' },
        { type: 'delete', path: 'escape/secret.txt' },
        { type: 'rename', from: 'inside.txt', to: 'escape/inside.txt' },
        { type: 'rename', from: 'escape/secret.txt', to: 'real/stolen.txt' },
        { type: 'conflictCopy', path: 'x', copyPath: 'escape/x.copy', content: bytes('pwned') },
        { type: 'write', path: 'real/fine.txt', content: bytes('ok') },
      );
      const expected = [
        'halted:outside_folder',
        'halted:outside_folder',
        'halted:outside_folder',
        'halted:outside_folder',
        'halted:outside_folder',
        'halted:outside_folder',
        'halted:outside_folder',
        'completed',
      ];
      const dry = await dryRunPlan(box.folder, actions, rules());
      assert.deepEqual(statuses(dry), [...expected.slice(0, -1), 'would_apply']);
      const wet = await withOrchestrator(box, (o) => o.apply(actions, rules()));
      assert.deepEqual(statuses(wet), expected);
      assert.deepEqual(await listTree(box.outside), ['secret.txt=outside']);
      assert.deepEqual(await listTree(box.folder), [
        'escape@',
        'inside.txt=in',
        'real/',
        'real/fine.txt=ok',
      ]);
      // A deeper link on the way is found too.
      await fs.mkdir(path.join(box.folder, 'real', 'deeper'));
      await fs.symlink(box.outside, path.join(box.folder, 'real', 'deeper', 'out'));
      const deep = await withOrchestrator(box, (o) =>
        o.apply(
          planOf({ type: 'write', path: 'real/deeper/out/a/b.txt', content: bytes('x') }),
          rules(),
        ),
      );
      assert.deepEqual(statuses(deep), ['halted:outside_folder']);
      assert.deepEqual(await listTree(box.outside), ['secret.txt=outside']);
    });

    it('links inside the folder are skipped with a reason, never replaced', async () => {
      const box = await sandbox();
      await fs.mkdir(path.join(box.folder, 'sub'));
      await fs.symlink('sub', path.join(box.folder, 'alias'));
      await fs.writeFile(path.join(box.outside, 'target.txt'), 'outside');
      await fs.symlink(path.join(box.outside, 'target.txt'), path.join(box.folder, 'link.txt'));
      const report = await withOrchestrator(box, (o) =>
        o.apply(
          planOf(
            { type: 'write', path: 'alias/x.txt', content: bytes('x') },
            { type: 'write', path: 'link.txt', content: bytes('overwrite?') },
            { type: 'delete', path: 'link.txt' },
            { type: 'rename', from: 'link.txt', to: 'l2.txt' },
          ),
          rules(),
        ),
      );
      assert.deepEqual(statuses(report), [
        'halted:symlink',
        'halted:symlink',
        'halted:symlink',
        'halted:symlink',
      ]);
      assert.ok(report.results.every((r) => (r.message ?? '').includes('symbolic link')));
      assert.deepEqual(await listTree(box.outside), ['target.txt=outside']);
      assert.deepEqual(await listTree(box.folder), ['alias@', 'link.txt@', 'sub/']);
    });
  });

  it('invalid actions halt, valid ones run, nothing lands outside', async () => {
    const box = await sandbox();
    const actions = planOf(
      { type: 'write', path: '../escape.txt', content: bytes('x') },
      { type: 'write', path: 'ok.txt', content: bytes('ok') },
      { type: 'mkdir', path: 'a/../../b' },
      { type: 'write', path: '/tmp/abs.txt', content: bytes('x') },
      { type: 'write', path: 'ignored.log', content: bytes('x') },
      { type: 'write', path: 'open.txt', content: bytes('x') },
    );
    const report = await withOrchestrator(box, (o) =>
      o.apply(
        actions,
        rules({ isIgnored: (p) => p.endsWith('.log'), dirtyPaths: new Set(['open.txt']) }),
      ),
    );
    assert.deepEqual(statuses(report), [
      'halted:path_traversal',
      'completed',
      'halted:path_traversal',
      'halted:path_absolute',
      'halted:ignored',
      'halted:dirty_editor',
    ]);
    assert.ok(report.results[0]!.violations!.length > 0);
    assert.deepEqual(await fs.readdir(box.root).then((n) => n.sort()), [
      'folder',
      'outside',
      'state',
    ]);
    assert.deepEqual(await listTree(box.folder), ['ok.txt=ok']);
  });

  it('directories: non-empty deletes are kept, dependants of a failed mkdir halt', async () => {
    const box = await sandbox();
    await seed(box, { 'full/f.txt': 'f', blocker: 'I am a file' });
    await fs.mkdir(path.join(box.folder, 'empty'));
    const actions: FileAction[] = [
      { type: 'mkdir', path: 'blocker' },
      { type: 'write', path: 'blocker/x.txt', content: bytes('x') },
      { type: 'mkdir', path: 'blocker/deeper' },
      { type: 'mkdir', path: 'newdir' },
      { type: 'delete', path: 'full' },
      { type: 'delete', path: 'empty' },
      { type: 'delete', path: 'not-there' },
    ];
    const report = await withOrchestrator(box, (o) => o.apply(planOf(...actions), rules()));
    assert.deepEqual(statuses(report), [
      'halted:not_directory',
      'halted:dependency_halted',
      'halted:dependency_halted',
      'completed',
      'halted:not_empty',
      'completed',
      'completed',
    ]);
    assert.deepEqual(await listTree(box.folder), [
      'blocker=I am a file',
      'full/',
      'full/f.txt=f',
      'newdir/',
    ]);
  });
});

describe('FsExecutor without validation in front (defence in depth)', () => {
  after(cleanupSandboxes);

  it('refuses paths that leave the folder or name the folder itself', async () => {
    const box = await sandbox();
    await fs.mkdir(path.join(box.folder, 'a'));
    const view = new FolderView(box.folder, contentHash);
    const hostile: FileAction[] = [
      { type: 'write', path: '../outside/x.txt', content: bytes('x') },
      { type: 'delete', path: 'a/..' },
      { type: 'delete', path: '' },
      { type: 'mkdir', path: 'a/../../outside/d' },
      { type: 'rename', from: 'a', to: '../moved' },
    ];
    for (const executor of [new FsExecutor(view), new DryRunExecutor(view)]) {
      for (const action of hostile) {
        const outcome = await executor.execute(action, executor.prepare(action));
        assert.deepEqual(
          { status: outcome.status, code: 'code' in outcome ? outcome.code : undefined },
          { status: 'halted', code: 'outside_folder' },
          JSON.stringify(action),
        );
      }
    }
    assert.deepEqual(await listTree(box.outside), []);
    assert.deepEqual(await listTree(box.folder), ['a/']);
    assert.deepEqual((await fs.readdir(box.root)).sort(), ['folder', 'outside']);
  });
});
