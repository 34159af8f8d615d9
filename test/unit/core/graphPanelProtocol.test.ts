import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import * as Y from 'yjs';
import {
  MAX_COORDINATE,
  MAX_MOVE_POSITIONS,
  MAX_STATE_VECTOR_BYTES,
  decodeBase64,
  encodeBase64,
  parseGraphPanelMessage,
  parseGraphPanelRequest,
} from '../../../src/core/protocol/graphPanelProtocol';
import { applyReplicatedIntent, graphNodes } from '../../../src/core/workspaceDoc';

describe('graphPanelProtocol', () => {
  describe('base64', () => {
    it('round-trips any bytes and agrees with Node Buffer', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          const text = encodeBase64(bytes);
          assert.equal(text, Buffer.from(bytes).toString('base64'));
          assert.deepEqual(decodeBase64(text), bytes);
        }),
        { numRuns: 300 },
      );
    });

    it('refuses text that is not padded standard base64', () => {
      for (const bad of ['abc', 'ab!d', 'a===', '====x', 'é===', 'ab=c']) {
        assert.equal(decodeBase64(bad), undefined, bad);
      }
    });
  });

  describe('parseGraphPanelRequest (webview → host, untrusted)', () => {
    it('accepts ready with an empty or real state vector', () => {
      const sv = encodeBase64(Y.encodeStateVector(new Y.Doc()));
      assert.deepEqual(
        parseGraphPanelRequest({ kind: 'request', id: 1, method: 'ready', stateVector: '' }),
        {
          ok: true,
          value: { kind: 'request', id: 1, method: 'ready', stateVector: '' },
        },
      );
      assert.equal(
        parseGraphPanelRequest({ kind: 'request', id: 2, method: 'ready', stateVector: sv }).ok,
        true,
      );
    });

    it('accepts moveNodes and openNode and copies only known fields', () => {
      const r = parseGraphPanelRequest({
        kind: 'request',
        id: 3,
        method: 'moveNodes',
        positions: [{ nodeId: 'src/a.ts', x: 1.5, y: -2, extra: 'x' }],
        junk: true,
      });
      assert.deepEqual(r, {
        ok: true,
        value: {
          kind: 'request',
          id: 3,
          method: 'moveNodes',
          positions: [{ nodeId: 'src/a.ts', x: 1.5, y: -2 }],
        },
      });
      assert.deepEqual(
        parseGraphPanelRequest({ kind: 'request', id: 4, method: 'openNode', nodeId: 'a' }),
        {
          ok: true,
          value: { kind: 'request', id: 4, method: 'openNode', nodeId: 'a' },
        },
      );
    });

    it('rejects hostile requests', () => {
      const huge = 'A'.repeat(Math.ceil(MAX_STATE_VECTOR_BYTES / 3) * 4 + 4);
      const many = Array.from({ length: MAX_MOVE_POSITIONS + 1 }, (_, i) => ({
        nodeId: `n${i}`,
        x: 0,
        y: 0,
      }));
      const cases: unknown[] = [
        null,
        'ready',
        [],
        { kind: 'response', id: 1, method: 'ready', stateVector: '' },
        { kind: 'request', id: -1, method: 'ready', stateVector: '' },
        { kind: 'request', id: 1.5, method: 'ready', stateVector: '' },
        { kind: 'request', id: 1, method: 'ready' },
        { kind: 'request', id: 1, method: 'ready', stateVector: 'not base64!' },
        { kind: 'request', id: 1, method: 'ready', stateVector: huge },
        { kind: 'request', id: 1, method: 'runCommand', command: 'workbench.action.terminal.new' },
        { kind: 'request', id: 1, method: '__proto__' },
        { kind: 'request', id: 1, method: 'openNode', nodeId: '' },
        { kind: 'request', id: 1, method: 'openNode', nodeId: 'a\u0000b' },
        { kind: 'request', id: 1, method: 'openNode', nodeId: 'x'.repeat(5000) },
        { kind: 'request', id: 1, method: 'openNode', nodeId: 7 },
        { kind: 'request', id: 1, method: 'moveNodes', positions: [] },
        { kind: 'request', id: 1, method: 'moveNodes', positions: many },
        { kind: 'request', id: 1, method: 'moveNodes', positions: [{ nodeId: 'a', x: NaN, y: 0 }] },
        {
          kind: 'request',
          id: 1,
          method: 'moveNodes',
          positions: [{ nodeId: 'a', x: Infinity, y: 0 }],
        },
        {
          kind: 'request',
          id: 1,
          method: 'moveNodes',
          positions: [{ nodeId: 'a', x: MAX_COORDINATE * 2, y: 0 }],
        },
        { kind: 'request', id: 1, method: 'moveNodes', positions: [{ nodeId: 'a', x: '1', y: 0 }] },
        {
          kind: 'request',
          id: 1,
          method: 'moveNodes',
          positions: [
            { nodeId: 'a', x: 1, y: 0 },
            { nodeId: 'a', x: 2, y: 0 },
          ],
        },
        {
          kind: 'request',
          id: 1,
          method: 'moveNodes',
          positions: { length: 1, 0: { nodeId: 'a', x: 1, y: 1 } },
        },
      ];
      for (const c of cases) {
        const r = parseGraphPanelRequest(c);
        assert.ok(!r.ok, `accepted ${JSON.stringify(c).slice(0, 120)}`);
        assert.ok(r.error.length > 0);
      }
    });

    it('never throws on arbitrary JSON', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => {
          parseGraphPanelRequest(v);
          parseGraphPanelMessage(v);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('parseGraphPanelMessage (host → webview)', () => {
    it('accepts update, status and response', () => {
      const update = encodeBase64(Y.encodeStateAsUpdate(new Y.Doc()));
      assert.equal(
        parseGraphPanelMessage({ kind: 'notification', method: 'update', update }).ok,
        true,
      );
      assert.deepEqual(
        JSON.parse(
          JSON.stringify(
            parseGraphPanelMessage({
              kind: 'notification',
              method: 'status',
              status: { deviceId: 'D', lifecycle: { 'a.ts': 'active', 'b.ts': 'warm' } },
            }),
          ),
        ),
        {
          ok: true,
          value: {
            kind: 'notification',
            method: 'status',
            status: { deviceId: 'D', lifecycle: { 'a.ts': 'active', 'b.ts': 'warm' } },
          },
        },
      );
      assert.deepEqual(
        parseGraphPanelMessage({ kind: 'response', id: 3, ok: false, error: 'no' }),
        {
          ok: true,
          value: { kind: 'response', id: 3, ok: false, error: 'no' },
        },
      );
    });

    it('rejects malformed host messages', () => {
      for (const c of [
        { kind: 'notification', method: 'update', update: '' },
        { kind: 'notification', method: 'update', update: 'abc' },
        { kind: 'notification', method: 'update', update: 12 },
        {
          kind: 'notification',
          method: 'status',
          status: { deviceId: 'D', lifecycle: { a: 'hot' } },
        },
        { kind: 'notification', method: 'status', status: { deviceId: 1, lifecycle: {} } },
        { kind: 'notification', method: 'eval', code: '1' },
        { kind: 'response', id: 'x', ok: true },
        { kind: 'response', id: 1, ok: 'yes' },
      ]) {
        assert.equal(parseGraphPanelMessage(c).ok, false, JSON.stringify(c));
      }
    });
  });
});

describe('MoveNodes (replicated intent)', () => {
  const docWith = (...ids: string[]): Y.Doc => {
    const doc = new Y.Doc();
    for (const id of ids) {
      assert.equal(
        applyReplicatedIntent(
          doc,
          { type: 'VisitNode', nodeId: id, kind: 'file', label: id },
          'local',
        ),
        undefined,
      );
    }
    return doc;
  };

  it('stores x/y on existing nodes in one transaction and skips unknown nodes', () => {
    const doc = docWith('a', 'b');
    let transactions = 0;
    doc.on('afterTransaction', () => (transactions += 1));
    const r = applyReplicatedIntent(
      doc,
      {
        type: 'MoveNodes',
        positions: [
          { nodeId: 'a', x: 10, y: -5 },
          { nodeId: 'ghost', x: 1, y: 1 },
          { nodeId: 'b', x: 0.5, y: 3 },
        ],
      },
      'local',
    );
    assert.equal(r, undefined);
    assert.equal(transactions, 1);
    assert.deepEqual(
      [graphNodes(doc).get('a')?.get('x'), graphNodes(doc).get('a')?.get('y')],
      [10, -5],
    );
    assert.deepEqual(
      [graphNodes(doc).get('b')?.get('x'), graphNodes(doc).get('b')?.get('y')],
      [0.5, 3],
    );
    assert.equal(graphNodes(doc).has('ghost'), false);
  });

  it('writes nothing when the positions are unchanged', () => {
    const doc = docWith('a');
    applyReplicatedIntent(
      doc,
      { type: 'MoveNodes', positions: [{ nodeId: 'a', x: 1, y: 2 }] },
      'local',
    );
    let updates = 0;
    doc.on('update', () => (updates += 1));
    applyReplicatedIntent(
      doc,
      { type: 'MoveNodes', positions: [{ nodeId: 'a', x: 1, y: 2 }] },
      'local',
    );
    assert.equal(updates, 0);
  });

  it('converges: a peer applying the update sees the same positions', () => {
    const a = docWith('n');
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    applyReplicatedIntent(
      a,
      { type: 'MoveNodes', positions: [{ nodeId: 'n', x: 42, y: 7 }] },
      'local',
    );
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
    assert.equal(graphNodes(b).get('n')?.get('x'), 42);
    assert.equal(graphNodes(b).get('n')?.get('y'), 7);
  });

  it('rejects malformed positions and leaves the document unchanged', () => {
    const doc = docWith('a');
    const before = Y.encodeStateVector(doc);
    const bad: unknown[] = [
      [{ nodeId: 'a', x: NaN, y: 0 }],
      [{ nodeId: 'a', x: 0, y: Infinity }],
      [{ nodeId: 'a', x: 2e6, y: 0 }],
      [{ nodeId: '', x: 0, y: 0 }],
      [{ nodeId: 'a\u0000b', x: 0, y: 0 }],
      [null],
      'not an array',
      Array.from({ length: 501 }, () => ({ nodeId: 'a', x: 0, y: 0 })),
    ];
    for (const positions of bad) {
      const r = applyReplicatedIntent(doc, { type: 'MoveNodes', positions } as never, 'local');
      assert.equal(r?.code, 'validation', JSON.stringify(positions).slice(0, 80));
    }
    assert.deepEqual(Y.encodeStateVector(doc), before);
  });
});
