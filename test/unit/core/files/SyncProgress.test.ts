import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { SyncProgress } from '../../../../src/core/files/SyncProgress';
import type { FileEntry } from '../../../../src/core/workspaceDoc';

const file = (hash: string, extra: Partial<FileEntry> = {}): FileEntry => ({
  size: 1,
  hash,
  kind: 'text',
  ...extra,
});

describe('SyncProgress', () => {
  it('counts files of the index and the ones this device still lacks', () => {
    const progress = new SyncProgress();
    assert.equal(progress.percent, 100);
    progress.update('a', file('h1'), undefined, false);
    progress.update('b', file('h2'), 'h2', false);
    progress.update('dir', file('dir', { kind: 'dir' }), undefined, false);
    progress.update('gone', file('h3', { deleted: true }), undefined, false);
    progress.update('node_modules/x', file('h4'), undefined, true);
    assert.equal(progress.files, 2);
    assert.equal(progress.pending, 1);
    assert.equal(progress.percent, 50);
    assert.deepEqual(progress.missingPaths(), ['a']);
    progress.update('a', file('h1'), 'h1', false);
    assert.equal(progress.pending, 0);
    progress.update('b', file('h2', { deleted: true }), 'h2', false);
    assert.equal(progress.files, 1);
    progress.update('a', undefined, 'h1', false);
    assert.equal(progress.files, 0);
    assert.equal(progress.percent, 100);
  });

  it('matches a full recount after any sequence of updates', () => {
    const paths = ['a', 'b', 'c', 'd'];
    const step = fc.record({
      path: fc.constantFrom(...paths),
      entry: fc.option(
        fc.record({
          size: fc.constant(1),
          hash: fc.constantFrom('h1', 'h2'),
          kind: fc.constantFrom('text' as const, 'binary' as const, 'dir' as const),
          deleted: fc.boolean(),
        }),
        { nil: undefined },
      ),
      local: fc.option(fc.constantFrom('h1', 'h2'), { nil: undefined }),
      ignored: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const progress = new SyncProgress();
        const last = new Map<string, (typeof steps)[number]>();
        for (const s of steps) {
          progress.update(s.path, s.entry, s.local, s.ignored);
          last.set(s.path, s);
        }
        let files = 0;
        let missing = 0;
        for (const s of last.values()) {
          if (!s.entry || s.entry.deleted || s.entry.kind === 'dir' || s.ignored) continue;
          files++;
          if (s.local !== s.entry.hash) missing++;
        }
        assert.equal(progress.files, files);
        assert.equal(progress.pending, missing);
      }),
    );
  });
});
