import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { parseSyncPanelRequest } from '../../../src/core/protocol/syncPanelProtocol';

describe('Sync Panel protocol validation', () => {
  it('accepts the requests of the protocol', () => {
    assert.deepEqual(parseSyncPanelRequest({ kind: 'request', id: 1, method: 'ready' }), {
      ok: true,
      value: { kind: 'request', id: 1, method: 'ready' },
    });
    const run = parseSyncPanelRequest({
      kind: 'request',
      id: 2,
      method: 'runCommand',
      command: 'twinspace.showLog',
    });
    assert.equal(run.ok, true);
  });

  it('rejects hostile messages with a reason', () => {
    const cases: unknown[] = [
      null,
      'ready',
      [],
      { kind: 'response', id: 1, method: 'ready' },
      { kind: 'request', id: -1, method: 'ready' },
      { kind: 'request', id: 1.5, method: 'ready' },
      { kind: 'request', id: 1, method: 'eval' },
      { kind: 'request', id: 1, method: 'runCommand', command: 'workbench.action.terminal.new' },
      { kind: 'request', id: 1, method: 'runCommand', command: { toString: 'twinspace.showLog' } },
    ];
    for (const c of cases) {
      const r = parseSyncPanelRequest(c);
      assert.ok(!r.ok && r.error.length > 0, JSON.stringify(c));
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        const r = parseSyncPanelRequest(x);
        return typeof r.ok === 'boolean';
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
