import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as fc from 'fast-check';
import type { FileAction, PlannedAction } from '../../../../src/core/files/plan';
import { actionPaths } from '../../../../src/core/files/plan';
import { validatePlan } from '../../../../src/core/files/validators';
import type { FolderRules } from '../../../../src/core/files/validators';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function rules(over: Partial<FolderRules> = {}): FolderRules {
  return {
    pathStyle: 'posix',
    caseInsensitive: false,
    isIgnored: (p) => p === '.git' || p.startsWith('.git/') || p.startsWith('node_modules/'),
    dirtyPaths: new Set<string>(),
    maxFileBytes: 1024,
    ...over,
  };
}

function plan(...actions: FileAction[]): PlannedAction[] {
  return actions.map((action, i) => ({ id: String(i + 1), action }));
}

const write = (p: string, content = 'x', extra: Partial<FileAction> = {}): FileAction =>
  ({ type: 'write', path: p, content: bytes(content), ...extra }) as FileAction;

function codesOf(actions: PlannedAction[], r: FolderRules = rules()): string[][] {
  const result = validatePlan(actions, r);
  const byId = new Map(result.rejected.map((x) => [x.planned.id, x.violations.map((v) => v.code)]));
  return actions.map((a) => byId.get(a.id) ?? []);
}

describe('validatePlan', () => {
  it('accepts a clean plan as it is, in order', () => {
    const actions = plan(
      { type: 'mkdir', path: 'src' },
      write('src/a.ts'),
      { type: 'rename', from: 'old.txt', to: 'new.txt' },
      { type: 'delete', path: 'gone.txt' },
      {
        type: 'conflictCopy',
        path: 'b.bin',
        copyPath: 'b.twinspace-conflict-d-20240101-000000.bin',
        content: bytes('c'),
      },
    );
    const result = validatePlan(actions, rules());
    assert.deepEqual(result.accepted, actions);
    assert.deepEqual(result.rejected, []);
  });

  it('rejects hostile paths in every action kind and keeps the valid ones', () => {
    const actions = plan(
      write('../x'),
      write('ok.txt'),
      { type: 'delete', path: '/etc/passwd' },
      { type: 'mkdir', path: 'a/../../x' },
      { type: 'rename', from: 'fine', to: 'a\u0000b' },
      { type: 'rename', from: '../../home/u/.ssh/id_ed25519', to: 'stolen' },
      { type: 'conflictCopy', path: 'f', copyPath: 'x//y', content: bytes('') },
      write('n'.repeat(256)),
    );
    const result = validatePlan(actions, rules());
    assert.deepEqual(
      result.accepted.map((a) => a.id),
      ['2'],
    );
    assert.deepEqual(codesOf(actions), [
      ['path_traversal'],
      [],
      ['path_absolute'],
      ['path_traversal'],
      ['control_character'],
      ['path_traversal'],
      ['path_empty_segment'],
      ['name_too_long'],
    ]);
    for (const r of result.rejected) {
      for (const v of r.violations) {
        assert.ok(actionPaths(r.planned.action).includes(v.path));
        assert.ok(v.message.length > 0);
      }
    }
  });

  it('windows style: backslash traversal, reserved names, trailing dots', () => {
    const r = rules({ pathStyle: 'windows' });
    assert.deepEqual(
      codesOf(plan(write('a\\..\\..\\x'), write('CON'), write('x.'), write('ok\\f.txt')), r),
      [['path_traversal'], ['reserved_name'], ['trailing_dot_or_space'], []],
    );
  });

  it('ignored paths, size limit and modes', () => {
    const actions = plan(
      write('.git/config'),
      write('node_modules/x/index.js'),
      write('big.bin', 'x'.repeat(1025)),
      write('limit.bin', 'x'.repeat(1024)),
      write('suid', 'x', { mode: 0o4755 }),
      write('exec', 'x', { mode: 0o755 }),
      write('frac', 'x', { mode: 1.5 }),
      { type: 'rename', from: 'a', to: '.git/hooks/pre-commit' },
    );
    assert.deepEqual(codesOf(actions), [
      ['ignored'],
      ['ignored'],
      ['too_large'],
      [],
      ['invalid_mode'],
      [],
      ['invalid_mode'],
      ['ignored'],
    ]);
  });

  it('never clobbers a file with unsaved editor changes', () => {
    const r = rules({ dirtyPaths: new Set(['src/open.ts']) });
    assert.deepEqual(
      codesOf(
        plan(
          write('src/open.ts'),
          { type: 'delete', path: 'src/open.ts' },
          { type: 'delete', path: 'src' },
          { type: 'rename', from: 'src/open.ts', to: 'moved.ts' },
          { type: 'rename', from: 'other.ts', to: 'src/open.ts' },
          write('src/closed.ts'),
          {
            type: 'conflictCopy',
            path: 'src/open.ts',
            copyPath: 'src/open.c.ts',
            content: bytes(''),
          },
        ),
        r,
      ),
      [
        ['dirty_editor'],
        ['dirty_editor'],
        ['dirty_editor'],
        ['dirty_editor'],
        ['dirty_editor'],
        [],
        [],
      ],
    );
  });

  describe('case collisions', () => {
    const existing = ['README.md', 'docs/guide.md'];

    it('are flagged on a case-insensitive file system only', () => {
      const actions = plan(
        write('readme.md'),
        write('Docs/new.md'),
        write('docs/new2.md'),
        write('README.md'),
        write('NEW.txt'),
        write('new.TXT'),
        { type: 'rename', from: 'README.md', to: 'Readme.md' },
        { type: 'mkdir', path: 'DOCS' },
      );
      assert.deepEqual(
        codesOf(actions, rules({ caseInsensitive: true, existingPaths: existing })),
        [
          ['case_collision'],
          ['case_collision'],
          [],
          [],
          [],
          ['case_collision'],
          [],
          ['case_collision'],
        ],
      );
      assert.deepEqual(
        codesOf(actions, rules({ caseInsensitive: false, existingPaths: existing })),
        [[], [], [], [], [], [], [], []],
      );
    });

    it('unicode normalisation forms collide too (APFS)', () => {
      const nfc = 'caf\u00e9.txt';
      const nfd = 'cafe\u0301.txt';
      assert.deepEqual(
        codesOf(plan(write(nfd)), rules({ caseInsensitive: true, existingPaths: [nfc] })),
        [['case_collision']],
      );
    });
  });

  it('property: whatever the plan, every accepted path resolves inside the folder', () => {
    const root = '/srv/folder';
    const seg = fc.oneof(
      fc.constantFrom('..', '.', '', 'a', 'b', '\u0000', 'CON', '\\..'),
      fc.string({ maxLength: 5 }),
    );
    const pathArb = fc.array(seg, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
    const actionArb: fc.Arbitrary<FileAction> = fc.oneof(
      pathArb.map((p) => write(p)),
      pathArb.map((p) => ({ type: 'delete', path: p }) as const),
      pathArb.map((p) => ({ type: 'mkdir', path: p }) as const),
      fc.tuple(pathArb, pathArb).map(([from, to]) => ({ type: 'rename', from, to }) as const),
      fc
        .tuple(pathArb, pathArb)
        .map(
          ([p, c]) => ({ type: 'conflictCopy', path: p, copyPath: c, content: bytes('') }) as const,
        ),
    );
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.array(actionArb, { maxLength: 6 }),
        fc.constantFrom('posix', 'windows' as const),
        (actions, style) => {
          const result = validatePlan(plan(...actions), rules({ pathStyle: style }));
          assert.equal(result.accepted.length + result.rejected.length, actions.length);
          for (const a of result.accepted) {
            accepted++;
            for (const p of actionPaths(a.action)) {
              assert.ok(path.posix.resolve(root, p).startsWith(`${root}/`), p);
              if (style === 'windows') {
                assert.ok(path.win32.resolve('D:\\f', p).startsWith('D:\\f\\'), p);
              }
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
    assert.ok(accepted > 0, 'the generator produced accepted actions');
  });
});
