import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import * as Y from 'yjs';
import type { Intent } from '../../../src/core/intents';
import {
  applyReplicatedIntent,
  edgeKey,
  fileIndex,
  graphEdges,
  graphNodes,
  summarize,
  trackSummary,
  workspaceDocToJSON,
} from '../../../src/core/workspaceDoc';

function docWithId(clientID: number): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  return doc;
}

/** Records every update event with its origin. */
function recordUpdates(doc: Y.Doc): { update: Uint8Array; origin: unknown }[] {
  const seen: { update: Uint8Array; origin: unknown }[] = [];
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    seen.push({ update, origin });
  });
  return seen;
}

function apply(doc: Y.Doc, intent: Intent, origin: unknown = 'local'): void {
  const rejected = applyReplicatedIntent(doc, intent, origin);
  assert.equal(rejected, undefined, `unexpected rejection: ${JSON.stringify(rejected)}`);
}

function json(doc: Y.Doc): string {
  return JSON.stringify(workspaceDocToJSON(doc));
}

function sync(a: Y.Doc, b: Y.Doc): void {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

describe('workspaceDoc', () => {
  it('VisitNode creates a node, counts visits and records an edge from the previous node', () => {
    const doc = docWithId(1);
    apply(doc, { type: 'VisitNode', nodeId: 'a.ts', kind: 'file', label: 'a' });
    apply(doc, { type: 'VisitNode', nodeId: 'b.ts', kind: 'file', label: 'b', from: 'a.ts' });
    apply(doc, {
      type: 'VisitNode',
      nodeId: 'b.ts',
      kind: 'file',
      label: 'B',
      from: 'a.ts',
      edge: 'definition',
    });
    apply(doc, { type: 'VisitNode', nodeId: 'b.ts', kind: 'file', label: 'B', from: 'b.ts' });
    assert.deepEqual(workspaceDocToJSON(doc), {
      graph: {
        nodes: {
          'a.ts': { kind: 'file', label: 'a', pinned: false, visits: 1 },
          'b.ts': { kind: 'file', label: 'B', pinned: false, visits: 3 },
        },
        edges: { [edgeKey('a.ts', 'b.ts')]: { count: 2, kind: 'definition' } },
      },
      files: {},
    });
    assert.deepEqual(summarize(doc), { graphNodes: 2, graphEdges: 1, indexedFiles: 0 });
  });

  it('applies each intent as one transaction with the given origin', () => {
    const doc = docWithId(1);
    const updates = recordUpdates(doc);
    const origin = Symbol('me');
    apply(doc, { type: 'VisitNode', nodeId: 'a', kind: 'folder', label: 'a' }, origin);
    apply(doc, { type: 'VisitNode', nodeId: 'b', kind: 'url', label: 'b', from: 'a' }, origin);
    apply(doc, { type: 'IndexFile', path: 'x', size: 3, hash: 'h' }, origin);
    assert.equal(updates.length, 3);
    assert.ok(updates.every((u) => u.origin === origin));
  });

  it('PinNode pins an existing node, refuses a missing one, and is a no-op when unchanged', () => {
    const doc = docWithId(1);
    apply(doc, { type: 'VisitNode', nodeId: 'a', kind: 'file', label: 'a' });
    const updates = recordUpdates(doc);
    assert.deepEqual(
      applyReplicatedIntent(doc, { type: 'PinNode', nodeId: 'zz', pinned: true }, 1),
      {
        code: 'not_found',
        message: 'node "zz" does not exist',
      },
    );
    apply(doc, { type: 'PinNode', nodeId: 'a', pinned: true });
    apply(doc, { type: 'PinNode', nodeId: 'a', pinned: true });
    assert.equal(updates.length, 1);
    assert.equal(graphNodes(doc).get('a')?.get('pinned'), true);
  });

  it('IndexFile records size and hash and does not rewrite an identical entry', () => {
    const doc = docWithId(1);
    const updates = recordUpdates(doc);
    apply(doc, { type: 'IndexFile', path: 'src/a.ts', size: 10, hash: 'abc' });
    apply(doc, { type: 'IndexFile', path: 'src/a.ts', size: 10, hash: 'abc' });
    apply(doc, { type: 'IndexFile', path: 'src/a.ts', size: 11, hash: 'abd' });
    assert.equal(updates.length, 2);
    assert.deepEqual(fileIndex(doc).get('src/a.ts'), { size: 11, hash: 'abd' });
  });

  it('returns a rejection for invalid input, never throws, and leaves the document unchanged', () => {
    const doc = docWithId(1);
    apply(doc, { type: 'VisitNode', nodeId: 'a', kind: 'file', label: 'a' });
    const before = json(doc);
    const updates = recordUpdates(doc);
    const bad: [Intent, string][] = [
      [{ type: 'VisitNode', nodeId: '', kind: 'file', label: 'x' }, 'validation'],
      [{ type: 'VisitNode', nodeId: 'a\u0000b', kind: 'file', label: 'x' }, 'validation'],
      [{ type: 'VisitNode', nodeId: 'x'.repeat(5000), kind: 'file', label: 'x' }, 'validation'],
      [{ type: 'VisitNode', nodeId: 'b', kind: 'socket' as 'file', label: 'x' }, 'validation'],
      [
        { type: 'VisitNode', nodeId: 'b', kind: 'file', label: 7 as unknown as string },
        'validation',
      ],
      [{ type: 'VisitNode', nodeId: 'b', kind: 'file', label: 'b', from: '' }, 'validation'],
      [
        {
          type: 'VisitNode',
          nodeId: 'b',
          kind: 'file',
          label: 'b',
          from: 'a',
          edge: 'x' as 'link',
        },
        'validation',
      ],
      [{ type: 'VisitNode', nodeId: 'b', kind: 'file', label: 'b', from: 'nope' }, 'not_found'],
      [{ type: 'PinNode', nodeId: 'a', pinned: 'yes' as unknown as boolean }, 'validation'],
      [{ type: 'IndexFile', path: '', size: 1, hash: 'h' }, 'validation'],
      [{ type: 'IndexFile', path: 'p', size: -1, hash: 'h' }, 'validation'],
      [{ type: 'IndexFile', path: 'p', size: 1.5, hash: 'h' }, 'validation'],
      [{ type: 'IndexFile', path: 'p', size: 1, hash: '' }, 'validation'],
      [
        { type: 'RemoteUpdateReceived', peerId: 'p', update: new Uint8Array([255, 255, 255]) },
        'validation',
      ],
      [{ type: 'RemoteUpdateReceived', peerId: 'p', update: new Uint8Array(0) }, 'validation'],
      [{ type: 'RemoteUpdateReceived', peerId: '', update: new Uint8Array([0, 0]) }, 'validation'],
      [{ type: 'PeerWentOffline', peerId: 'p', reason: 'x' }, 'internal'],
    ];
    for (const [intent, code] of bad) {
      const rejection = applyReplicatedIntent(doc, intent, 'local');
      assert.equal(rejection?.code, code, `${JSON.stringify(intent).slice(0, 80)} → ${code}`);
      assert.ok(rejection.message.length > 0);
    }
    assert.equal(updates.length, 0);
    assert.equal(json(doc), before);
  });

  it('RemoteUpdateReceived applies the bytes with the peer as origin', () => {
    const peer = docWithId(2);
    const peerUpdates = recordUpdates(peer);
    apply(peer, { type: 'IndexFile', path: 'p', size: 1, hash: 'h' });
    const doc = docWithId(1);
    const updates = recordUpdates(doc);
    apply(
      doc,
      { type: 'RemoteUpdateReceived', peerId: 'peer-2', update: peerUpdates[0]!.update },
      'peer-2',
    );
    assert.equal(updates[0]?.origin, 'peer-2');
    assert.equal(json(doc), json(peer));
  });

  it('workspaceDocToJSON is independent of insertion order (sorted keys)', () => {
    const a = docWithId(1);
    const b = docWithId(2);
    apply(a, { type: 'IndexFile', path: 'z', size: 1, hash: 'h1' });
    apply(a, { type: 'IndexFile', path: 'a', size: 2, hash: 'h2' });
    apply(b, { type: 'IndexFile', path: 'a', size: 2, hash: 'h2' });
    apply(b, { type: 'IndexFile', path: 'z', size: 1, hash: 'h1' });
    assert.equal(json(a), json(b));
    assert.deepEqual(Object.keys(workspaceDocToJSON(a).files as object), ['a', 'z']);
    apply(b, { type: 'IndexFile', path: 'z', size: 1, hash: 'h3' });
    assert.notEqual(json(a), json(b));
  });

  it('replicas converge under random intents and random delivery order (property)', () => {
    const nodeIds = ['a', 'b', 'c', 'd'];
    const intentArb: fc.Arbitrary<Intent> = fc.oneof(
      fc.record({
        type: fc.constant('VisitNode' as const),
        nodeId: fc.constantFrom(...nodeIds),
        kind: fc.constantFrom('file' as const, 'folder' as const, 'url' as const),
        label: fc.constantFrom('x', 'y'),
      }),
      fc.record({
        type: fc.constant('VisitNode' as const),
        nodeId: fc.constantFrom(...nodeIds),
        kind: fc.constant('file' as const),
        label: fc.constant('l'),
        from: fc.constantFrom(...nodeIds),
        edge: fc.constantFrom('navigation' as const, 'link' as const),
      }),
      fc.record({
        type: fc.constant('PinNode' as const),
        nodeId: fc.constantFrom(...nodeIds),
        pinned: fc.boolean(),
      }),
      fc.record({
        type: fc.constant('IndexFile' as const),
        path: fc.constantFrom('p1', 'p2', 'p3'),
        size: fc.nat(100),
        hash: fc.constantFrom('h1', 'h2'),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), intentArb), { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { maxLength: 20 }),
        (edits, deliveries) => {
          const docs = [docWithId(1), docWithId(2), docWithId(3)];
          const logs = docs.map(recordUpdates);
          const trackers = docs.map(trackSummary);
          edits.forEach(([who, intent], i) => {
            applyReplicatedIntent(docs[who]!, intent, 'local');
            // Random partial deliveries interleaved with the edits.
            const d = deliveries[i % Math.max(1, deliveries.length)];
            if (d !== undefined && d[0] !== d[1]) {
              for (const u of logs[d[0]]!) Y.applyUpdate(docs[d[1]]!, u.update, 'remote');
            }
          });
          // Full exchange, in reverse order of the updates.
          for (const [from, log] of logs.entries()) {
            for (const [to, doc] of docs.entries()) {
              if (from === to) continue;
              for (const u of [...log].reverse()) Y.applyUpdate(doc, u.update, 'remote');
            }
          }
          const first = json(docs[0]!);
          for (const doc of docs) assert.equal(json(doc), first);
          for (const doc of docs) assert.deepEqual(summarize(doc), summarize(docs[0]!));
          // The incremental counts agree with a full recount on every replica.
          for (const [i, doc] of docs.entries())
            assert.deepEqual(trackers[i]!.summary, summarize(doc));
          assert.equal(graphEdges(docs[2]!).size, graphEdges(docs[0]!).size);
        },
      ),
      { seed: 20240601, numRuns: 60 },
    );
  });

  it('two replicas that exchange state vectors end identical', () => {
    const a = docWithId(10);
    const b = docWithId(20);
    apply(a, { type: 'VisitNode', nodeId: 'n', kind: 'file', label: 'from a' });
    apply(b, { type: 'VisitNode', nodeId: 'n', kind: 'file', label: 'from b' });
    apply(b, { type: 'IndexFile', path: 'q', size: 5, hash: 'hq' });
    sync(a, b);
    assert.equal(json(a), json(b));
    assert.deepEqual(summarize(a), { graphNodes: 1, graphEdges: 0, indexedFiles: 1 });
  });
});
