import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { MemoryPressure, NodeKind } from '../../../src/core/intents';
import { planPrefetch, rankNeighbours, type PrefetchEdge } from '../../../src/core/prefetchPolicy';

const kinds: Record<string, NodeKind> = {
  sel: 'file',
  a: 'file',
  b: 'file',
  c: 'file',
  d: 'file',
  dir: 'folder',
  web: 'url',
  far: 'file',
};
const kindOf = (id: string): NodeKind | undefined => kinds[id];
const edges: PrefetchEdge[] = [
  { from: 'sel', to: 'a', count: 5 },
  { from: 'b', to: 'sel', count: 7 },
  { from: 'sel', to: 'c', count: 2 },
  { from: 'c', to: 'sel', count: 1 }, // c: 3 in all
  { from: 'sel', to: 'd', count: 3 }, // d: 3 too, both outgoing: the tie goes by id
  { from: 'sel', to: 'dir', count: 99 },
  { from: 'web', to: 'sel', count: 99 },
  { from: 'a', to: 'far', count: 50 }, // not a neighbour of sel
  { from: 'sel', to: 'sel', count: 40 }, // self loop
  { from: 'sel', to: 'ghost', count: 40 }, // not in the graph
];

function plan(overrides: Partial<Parameters<typeof planPrefetch>[0]> = {}): string[] {
  return planPrefetch({
    selected: 'sel',
    edges,
    kindOf,
    isWarm: () => false,
    budget: 8,
    pressure: 'normal',
    ...overrides,
  });
}

describe('prefetch policy', () => {
  it('ranks file neighbours in both directions by count, ties by id', () => {
    assert.deepEqual(
      rankNeighbours('sel', edges, kindOf).map((n) => n.nodeId),
      ['b', 'a', 'c', 'd'],
    );
  });

  it('outgoing edges win a tie over incoming ones', () => {
    const tie: PrefetchEdge[] = [
      { from: 'a', to: 'sel', count: 2 },
      { from: 'sel', to: 'b', count: 2 },
    ];
    assert.deepEqual(
      rankNeighbours('sel', tie, kindOf).map((n) => n.nodeId),
      ['b', 'a'],
    );
  });

  it('plans the top `budget` neighbours that are not warm yet', () => {
    assert.deepEqual(plan({ budget: 2 }), ['b', 'a']);
    // a already warm: it still takes one of the two slots, so only b is planned.
    assert.deepEqual(plan({ budget: 2, isWarm: (id) => id === 'a' }), ['b']);
    assert.deepEqual(plan({ budget: 3, exclude: new Set(['b']) }), ['a', 'c', 'd']);
  });

  it('plans nothing under pressure, without selection or with budget 0', () => {
    assert.deepEqual(plan({ pressure: 'elevated' }), []);
    assert.deepEqual(plan({ pressure: 'critical' }), []);
    assert.deepEqual(plan({ selected: undefined }), []);
    assert.deepEqual(plan({ budget: 0 }), []);
  });

  it('property: only warmable file neighbours, within budget, nothing warm, none under pressure', () => {
    const ids = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            from: fc.constantFrom(...ids),
            to: fc.constantFrom(...ids),
            count: fc.integer({ min: 1, max: 9 }),
          }),
          { maxLength: 30 },
        ),
        fc.dictionary(fc.constantFrom(...ids), fc.constantFrom<NodeKind>('file', 'folder', 'url')),
        fc.subarray(ids),
        fc.integer({ min: 0, max: 8 }),
        fc.constantFrom<MemoryPressure>('normal', 'elevated', 'critical'),
        (es, kindMap, warm, budget, pressure) => {
          const warmSet = new Set(warm);
          const out = planPrefetch({
            selected: 'n0',
            edges: es,
            kindOf: (id) => kindMap[id],
            isWarm: (id) => warmSet.has(id),
            budget,
            pressure,
          });
          if (pressure !== 'normal') assert.deepEqual(out, []);
          assert.ok(out.length <= budget);
          assert.equal(new Set(out).size, out.length);
          for (const id of out) {
            assert.notEqual(id, 'n0');
            assert.equal(kindMap[id], 'file');
            assert.ok(!warmSet.has(id));
            assert.ok(
              es.some((e) => (e.from === 'n0' && e.to === id) || (e.to === 'n0' && e.from === id)),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
