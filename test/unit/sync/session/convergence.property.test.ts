import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { converged, docOf, MemoryNetwork, visit, waitFor, type Node } from './syncHarness';

type Command =
  | { readonly kind: 'edit'; readonly node: number; readonly id: number }
  | { readonly kind: 'cut'; readonly a: number; readonly b: number }
  | { readonly kind: 'heal'; readonly a: number; readonly b: number }
  | { readonly kind: 'restart'; readonly node: number }
  | { readonly kind: 'pause'; readonly ms: number };

const node = fc.integer({ min: 0, max: 2 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      node,
      id: fc.integer({ min: 0, max: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), a: node, b: node }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heal' as const), a: node, b: node }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), node }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('pause' as const),
      ms: fc.integer({ min: 0, max: 5 }),
    }),
  },
);

describe('SyncWorker convergence (property)', function () {
  this.timeout(120_000);

  it('3 peers, random edits, delivery interleavings, link cuts and restarts converge to identical docs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 5, maxLength: 25 }),
        fc.integer({ min: 1, max: 64 }),
        async (commands, chunkSize) => {
          // Small random chunks change how frames of different links interleave.
          const net = new MemoryNetwork({ chunkSize });
          try {
            const nodes: Node[] = [];
            for (let i = 0; i < 3; i++) nodes.push(await net.addNode());
            const [n0, n1, n2] = nodes as [Node, Node, Node];
            await net.trustEachOther(n0, n1);
            await net.trustEachOther(n0, n2);
            await net.trustEachOther(n1, n2);
            const dialAll = (n: Node): void => {
              for (const m of nodes) if (m.index > n.index) n.worker.addPeerAddress(m.address);
            };
            for (const n of nodes) dialAll(n);
            let step = 0;
            for (const c of commands) {
              step += 1;
              switch (c.kind) {
                case 'edit': {
                  const target = nodes[c.node];
                  if (target) await visit(target, `n${c.id}`, `label-${step}`);
                  break;
                }
                case 'cut':
                  if (c.a !== c.b) net.cutLink(c.a, c.b);
                  break;
                case 'heal':
                  net.healLink(c.a, c.b);
                  break;
                case 'restart': {
                  const target = nodes[c.node];
                  if (target === undefined) break;
                  await net.stop(target);
                  await net.start(target);
                  dialAll(target);
                  for (const m of nodes)
                    if (m.index < target.index) m.worker.addPeerAddress(target.address);
                  break;
                }
                case 'pause':
                  await new Promise((r) => setTimeout(r, c.ms));
                  break;
              }
            }
            for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) net.healLink(i, j);
            await waitFor(
              () => converged(nodes) && nodes.every((n) => n.worker.isSynced(2)),
              'convergence after healing',
              20_000,
            );
            const doc = docOf(n0);
            for (const n of nodes) assert.equal(docOf(n), doc);
          } finally {
            await net.dispose();
          }
        },
      ),
      { seed: 20_251_121, numRuns: 8 },
    );
  });
});
