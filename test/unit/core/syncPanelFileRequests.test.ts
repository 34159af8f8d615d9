import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  MAX_CONFLICT_ID_LENGTH,
  parseSyncPanelRequest,
  requestIdOf,
} from '../../../src/core/protocol/syncPanelProtocol';

describe('Sync Panel protocol: file sync requests', () => {
  it('accepts the three link choices and the two conflict choices', () => {
    for (const choice of ['merge', 'takePeer', 'keepMine'] as const) {
      assert.deepEqual(
        parseSyncPanelRequest({ kind: 'request', id: 1, method: 'confirmLink', choice }),
        {
          ok: true,
          value: { kind: 'request', id: 1, method: 'confirmLink', choice },
        },
      );
    }
    for (const choice of ['keepCurrent', 'keepCopy'] as const) {
      const r = parseSyncPanelRequest({
        kind: 'request',
        id: 2,
        method: 'resolveConflict',
        conflictId: 'src/a b.ts.conflict',
        choice,
      });
      assert.deepEqual(r, {
        ok: true,
        value: {
          kind: 'request',
          id: 2,
          method: 'resolveConflict',
          conflictId: 'src/a b.ts.conflict',
          choice,
        },
      });
    }
    assert.equal(
      parseSyncPanelRequest({ kind: 'request', id: 3, method: 'openDiff', conflictId: 'x' }).ok,
      true,
    );
    assert.equal(
      parseSyncPanelRequest({ kind: 'request', id: 4, method: 'renameDevice' }).ok,
      true,
    );
  });

  it('copies only the known fields (no smuggled extras reach the host)', () => {
    const r = parseSyncPanelRequest({
      kind: 'request',
      id: 1,
      method: 'openDiff',
      conflictId: 'a',
      path: '/etc/passwd',
    });
    assert.ok(r.ok);
    assert.deepEqual(Object.keys(r.value).sort(), ['conflictId', 'id', 'kind', 'method']);
  });

  it('rejects bad choices and conflict ids with a reason', () => {
    const bad: unknown[] = [
      { method: 'confirmLink' },
      { method: 'confirmLink', choice: 'MERGE' },
      { method: 'confirmLink', choice: ['merge'] },
      { method: 'resolveConflict', conflictId: 'a' },
      { method: 'resolveConflict', conflictId: 'a', choice: 'keepBoth' },
      { method: 'resolveConflict', conflictId: '', choice: 'keepCopy' },
      { method: 'openDiff', conflictId: 'a\nb' },
      { method: 'openDiff', conflictId: 'x'.repeat(MAX_CONFLICT_ID_LENGTH + 1) },
      { method: 'openDiff', conflictId: { toString: () => 'a' } },
      { method: 'openDiff', conflictId: 7 },
    ];
    for (const b of bad) {
      const r = parseSyncPanelRequest({ kind: 'request', id: 1, ...(b as object) });
      assert.ok(!r.ok && /choice|conflict id/.test(r.error), JSON.stringify(b));
    }
  });

  it('requestIdOf finds a usable id only', () => {
    assert.equal(requestIdOf({ id: 3 }), 3);
    for (const x of [null, [], { id: -1 }, { id: 1.5 }, { id: '1' }, { id: 2 ** 60 }]) {
      assert.equal(requestIdOf(x), undefined, JSON.stringify(x));
    }
  });

  it('never throws on arbitrary records with the file methods', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('confirmLink', 'resolveConflict', 'openDiff', 'renameDevice'),
        fc.anything(),
        fc.anything(),
        (method, conflictId, choice) => {
          const r = parseSyncPanelRequest({ kind: 'request', id: 1, method, conflictId, choice });
          return typeof r.ok === 'boolean';
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});
