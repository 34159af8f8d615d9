import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import { buildPlan, conflictCopyPath, formatConflictTime } from '../../../../src/core/files/plan';
import type {
  CurrentIndex,
  FileAction,
  IndexEntry,
  RemoteChange,
} from '../../../../src/core/files/plan';
import { ancestorPaths, isSameOrInside, utf8Length } from '../../../../src/core/files/pathSafety';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const file = (hash: string, mode?: number): IndexEntry =>
  mode === undefined ? { kind: 'file', hash } : { kind: 'file', hash, mode };
const dir: IndexEntry = { kind: 'dir' };
const index = (entries: Record<string, IndexEntry>): CurrentIndex =>
  new Map(Object.entries(entries));
const put = (path: string, hash: string, mode?: number): RemoteChange => ({
  type: 'put',
  path,
  content: bytes(hash),
  hash,
  ...(mode !== undefined ? { mode } : {}),
});

function describeAction(a: FileAction): string {
  switch (a.type) {
    case 'rename':
      return `rename ${a.from}->${a.to}`;
    case 'conflictCopy':
      return `conflictCopy ${a.copyPath}`;
    default:
      return `${a.type} ${a.path}`;
  }
}

/** Checks the ordering invariants of a plan against the index it was built from. */
function assertSafeOrder(actions: readonly FileAction[], current: CurrentIndex): void {
  const exists = new Set<string>();
  for (const [p, e] of current) {
    for (const a of ancestorPaths(p)) exists.add(a);
    if (e.kind === 'dir') exists.add(p);
  }
  const created = new Set<string>();
  actions.forEach((a, i) => {
    const target =
      a.type === 'rename'
        ? a.to
        : a.type === 'conflictCopy'
          ? a.copyPath
          : a.type === 'delete'
            ? undefined
            : a.path;
    if (target !== undefined) {
      for (const parent of ancestorPaths(target)) {
        assert.ok(
          exists.has(parent) || created.has(parent),
          `action ${i} (${describeAction(a)}) before its directory ${parent}`,
        );
      }
      created.add(target);
    }
    if (a.type === 'rename') {
      // Whatever was under the source is now under the target.
      for (const p of [...exists, ...created]) {
        if (p !== a.from && isSameOrInside(a.from, p)) created.add(a.to + p.slice(a.from.length));
      }
    }
    if (a.type === 'delete') {
      // Nothing after a delete goes into what it deleted.
      for (const later of actions.slice(i + 1)) {
        const lt =
          later.type === 'rename'
            ? later.to
            : later.type === 'conflictCopy'
              ? later.copyPath
              : later.path;
        assert.ok(
          later.type === 'delete' || !isSameOrInside(a.path, lt) || lt === a.path,
          `${describeAction(later)} after delete ${a.path}`,
        );
        if (later.type === 'delete') {
          assert.ok(
            !isSameOrInside(a.path, later.path) || later.path === a.path,
            `delete ${later.path} after its directory ${a.path}`,
          );
        }
      }
    }
  });
}

describe('buildPlan', () => {
  it('creates missing directories first, shallowest first, then writes', () => {
    const plan = buildPlan([put('a/b/c/file.txt', 'h1'), put('a/x.txt', 'h2')], index({}));
    assert.deepEqual(
      plan.actions.map((p) => describeAction(p.action)),
      ['mkdir a', 'mkdir a/b', 'mkdir a/b/c', 'write a/x.txt', 'write a/b/c/file.txt'],
    );
    assert.deepEqual(
      plan.actions.map((p) => p.id),
      ['1', '2', '3', '4', '5'],
    );
    assert.deepEqual(plan.summary.create, ['a/b/c/file.txt', 'a/x.txt']);
    assert.deepEqual(plan.summary.mkdir, ['a', 'a/b', 'a/b/c']);
  });

  it('existing directories (explicit or implied by files) get no mkdir', () => {
    const plan = buildPlan(
      [put('src/new.ts', 'n'), put('empty/x', 'x')],
      index({ 'src/old.ts': file('o'), empty: dir }),
    );
    assert.deepEqual(
      plan.actions.map((p) => describeAction(p.action)),
      ['write empty/x', 'write src/new.ts'],
    );
  });

  it('deletes deepest first, a directory after its content', () => {
    const current = index({
      'd/e/f.txt': file('f'),
      'd/e': dir,
      'd/g.txt': file('g'),
      d: dir,
      'top.txt': file('t'),
    });
    const plan = buildPlan(
      [
        { type: 'remove', path: 'd' },
        { type: 'remove', path: 'top.txt' },
        { type: 'remove', path: 'd/g.txt' },
        { type: 'remove', path: 'd/e' },
        { type: 'remove', path: 'd/e/f.txt' },
      ],
      current,
    );
    assert.deepEqual(
      plan.actions.map((p) => describeAction(p.action)),
      ['delete d/e/f.txt', 'delete d/e', 'delete d/g.txt', 'delete d', 'delete top.txt'],
    );
    const del = plan.actions[0]!.action;
    assert.equal(del.type, 'delete');
    assert.equal(del.expectedHash, 'f');
    const dirDel = plan.actions[1]!.action;
    assert.equal(dirDel.type === 'delete' ? dirDel.expectedHash : 'x', undefined);
  });

  it('updates carry the hash they replace, creates carry null, unchanged files are skipped', () => {
    const plan = buildPlan(
      [put('same.txt', 's'), put('changed.txt', 'new'), put('fresh.txt', 'f')],
      index({ 'same.txt': file('s'), 'changed.txt': file('old') }),
    );
    const writes = plan.actions.map((p) => p.action).filter((a) => a.type === 'write');
    assert.deepEqual(
      writes.map((w) => [w.path, w.expectedHash]),
      [
        ['changed.txt', 'old'],
        ['fresh.txt', null],
      ],
    );
    assert.equal(plan.summary.unchanged, 1);
    assert.deepEqual(plan.summary.update, ['changed.txt']);
    assert.deepEqual(plan.summary.create, ['fresh.txt']);
  });

  it('an exec-bit change alone is a write; the mode is carried', () => {
    const plan = buildPlan([put('run.sh', 'h', 0o755)], index({ 'run.sh': file('h', 0o644) }));
    assert.equal(plan.actions.length, 1);
    const a = plan.actions[0]!.action;
    assert.equal(a.type === 'write' ? a.mode : undefined, 0o755);
  });

  it('a directory delete that would take kept files is skipped (nothing lost)', () => {
    const plan = buildPlan(
      [{ type: 'remove', path: 'd' }, { type: 'remove', path: 'd/a' }, put('e/new', 'n')],
      index({ 'd/a': file('a'), 'd/b': file('b'), e: dir }),
    );
    assert.deepEqual(
      plan.actions.map((p) => describeAction(p.action)),
      ['write e/new', 'delete d/a'],
    );
    assert.deepEqual(
      plan.skipped.map((s) => s.reason),
      ['not_empty'],
    );
    // A write into a directory being deleted also keeps it.
    const plan2 = buildPlan([{ type: 'remove', path: 'd' }, put('d/new', 'n')], index({ d: dir }));
    assert.deepEqual(
      plan2.actions.map((p) => describeAction(p.action)),
      ['write d/new'],
    );
  });

  it('renames: run after the rename that frees their target; cycles are skipped', () => {
    const plan = buildPlan(
      [
        { type: 'rename', from: 'a', to: 'b' },
        { type: 'rename', from: 'b', to: 'c' },
        { type: 'rename', from: 'x', to: 'y' },
        { type: 'rename', from: 'y', to: 'x' },
        { type: 'rename', from: 'm', to: 'deep/er/m' },
      ],
      index({ a: file('A'), b: file('B'), x: file('X'), y: file('Y'), m: file('M') }),
    );
    assert.deepEqual(
      plan.actions.map((p) => describeAction(p.action)),
      ['mkdir deep', 'mkdir deep/er', 'rename b->c', 'rename a->b', 'rename m->deep/er/m'],
    );
    const r = plan.actions.find((p) => p.action.type === 'rename')!.action;
    assert.equal(r.type === 'rename' ? r.expectedHash : '', 'B');
    assert.deepEqual(plan.skipped.map((s) => s.reason).sort(), ['rename_cycle', 'rename_cycle']);
  });

  it('renames onto an existing path or from a missing one are skipped', () => {
    const plan = buildPlan(
      [
        { type: 'rename', from: 'a', to: 'b' },
        { type: 'rename', from: 'nope', to: 'z' },
      ],
      index({ a: file('A'), b: file('B') }),
    );
    assert.equal(plan.actions.length, 0);
    assert.deepEqual(
      plan.skipped.map((s) => s.reason),
      ['target_exists', 'source_missing'],
    );
  });

  it('mkdir under a renamed directory comes after the rename', () => {
    const plan = buildPlan(
      [{ type: 'rename', from: 'old', to: 'new' }, put('new/sub/f', 'f')],
      index({ 'old/x': file('x') }),
    );
    assert.deepEqual(
      plan.actions.map((p) => describeAction(p.action)),
      ['rename old->new', 'mkdir new/sub', 'write new/sub/f'],
    );
  });

  it('type mismatches are skipped with a reason', () => {
    const plan = buildPlan(
      [
        put('d', 'h'),
        { type: 'mkdir', path: 'f' },
        { type: 'mkdir', path: 'e' },
        put('f/under', 'u'),
      ],
      index({ d: dir, e: dir, f: file('F') }),
    );
    assert.equal(plan.actions.length, 0);
    assert.deepEqual(
      plan.skipped.map((s) => s.reason),
      ['is_directory', 'is_file', 'is_file'],
    );
    assert.equal(plan.summary.unchanged, 1);
  });

  it('the last change to a path wins', () => {
    const plan = buildPlan([put('a', '1'), put('a', '2')], index({}));
    assert.equal(plan.actions.length, 1);
    const a = plan.actions[0]!.action;
    assert.equal(a.type === 'write' ? new TextDecoder().decode(a.content) : '', '2');
  });

  describe('conflict copies', () => {
    const at = Date.UTC(2024, 5, 9, 8, 7, 6); // 2024-06-09 08:07:06 UTC

    it('names: name.twinspace-conflict-<device>-<YYYYMMDD-HHMMSS>.ext', () => {
      assert.equal(formatConflictTime(at), '20240609-080706');
      assert.equal(
        conflictCopyPath('docs/report.pdf', 'ab12', at),
        'docs/report.twinspace-conflict-ab12-20240609-080706.pdf',
      );
      assert.equal(
        conflictCopyPath('Makefile', 'ab12', at),
        'Makefile.twinspace-conflict-ab12-20240609-080706',
      );
      assert.equal(
        conflictCopyPath('.env', 'ab12', at),
        '.env.twinspace-conflict-ab12-20240609-080706',
      );
      assert.equal(
        conflictCopyPath('a.tar.gz', 'ab12', at),
        'a.tar.twinspace-conflict-ab12-20240609-080706.gz',
      );
      // Device ids cannot smuggle separators or traversal into the name.
      assert.equal(
        conflictCopyPath('f.txt', '../x/y', at),
        'f.twinspace-conflict-___x_y-20240609-080706.txt',
      );
    });

    it('a taken name gets -2, -3 before the extension', () => {
      const taken = new Set([
        'f.twinspace-conflict-d-20240609-080706.txt',
        'f.twinspace-conflict-d-20240609-080706-2.txt',
      ]);
      assert.equal(
        conflictCopyPath('f.txt', 'd', at, (c) => taken.has(c)),
        'f.twinspace-conflict-d-20240609-080706-3.txt',
      );
    });

    it('a long name is shortened to fit 255 bytes', () => {
      const long = `${'é'.repeat(120)}.bin`;
      const copy = conflictCopyPath(`dir/${long}`, 'dev', at);
      assert.ok(copy.startsWith('dir/é'));
      assert.ok(copy.endsWith('-20240609-080706.bin'));
      assert.ok(utf8Length(copy.slice(4)) <= 255);
    });

    it('buildPlan keeps the winner and the loser; two copies get distinct names', () => {
      const plan = buildPlan(
        [
          put('img.png', 'winner'),
          { type: 'conflict', path: 'img.png', content: bytes('loser'), deviceShortId: 'd1', at },
          {
            type: 'conflict',
            path: 'img.png',
            content: bytes('loser2'),
            deviceShortId: 'd1',
            at: at + 1000,
          },
        ],
        index({
          'img.png': file('mine'),
          'img.twinspace-conflict-d1-20240609-080706.png': file('z'),
        }),
      );
      assert.deepEqual(plan.summary.update, ['img.png']);
      assert.deepEqual(
        plan.summary.conflicts.map((c) => c.copyPath),
        [
          'img.twinspace-conflict-d1-20240609-080706-2.png',
          'img.twinspace-conflict-d1-20240609-080707.png',
        ],
      );
      assert.equal(plan.actions.filter((a) => a.action.type === 'conflictCopy').length, 2);
    });
  });

  it('property: any plan is safely ordered', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd');
    const pathArb = fc.array(name, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    const changeArb: fc.Arbitrary<RemoteChange> = fc.oneof(
      pathArb.map((p) => put(p, `h-${p}`)),
      pathArb.map((p) => ({ type: 'remove', path: p }) as const),
      pathArb.map((p) => ({ type: 'mkdir', path: p }) as const),
      fc.tuple(pathArb, pathArb).map(([from, to]) => ({ type: 'rename', from, to }) as const),
    );
    // A consistent index: files only at leaves (no file with a path under it).
    const indexArb = fc.array(pathArb, { maxLength: 8 }).map((paths) => {
      const m = new Map<string, IndexEntry>();
      for (const p of paths.sort((x, y) => x.length - y.length)) {
        if ([...m.keys()].some((q) => isSameOrInside(q, p) || isSameOrInside(p, q))) continue;
        m.set(p, file(`old-${p}`));
      }
      return m;
    });
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 10 }), indexArb, (changes, current) => {
        const plan = buildPlan(changes, current);
        assertSafeOrder(
          plan.actions.map((p) => p.action),
          current,
        );
        // Ids are 1..n in order.
        plan.actions.forEach((p, i) => {
          assert.equal(p.id, String(i + 1));
        });
      }),
      { numRuns: 500 },
    );
  });
});
