import { strict as assert } from 'node:assert';
import {
  ChangeCoalescer,
  type ChangeBatch,
} from '../../../../../src/sync/files/scan/ChangeCoalescer';
import { fakeClock } from '../../../support/fakeClock';

function setup(options: { debounceMs?: number; maxDelayMs?: number; maxPaths?: number } = {}): {
  coalescer: ChangeCoalescer;
  batches: ChangeBatch[];
  fake: ReturnType<typeof fakeClock>['fake'];
} {
  const { fake, clock } = fakeClock();
  const batches: ChangeBatch[] = [];
  const coalescer = new ChangeCoalescer({
    clock,
    debounceMs: 50,
    maxDelayMs: 200,
    ...options,
    onBatch: (b) => batches.push(b),
  });
  return { coalescer, batches, fake };
}

describe('ChangeCoalescer', () => {
  it('emits one sorted, de-duplicated batch after a quiet period', () => {
    const { coalescer, batches, fake } = setup();
    coalescer.add('b.txt');
    fake.tick(30);
    coalescer.add('a.txt');
    coalescer.add('b.txt');
    fake.tick(49);
    assert.equal(batches.length, 0);
    assert.equal(coalescer.pending, 2);
    fake.tick(1);
    assert.deepEqual(batches, [{ paths: ['a.txt', 'b.txt'], overflow: false }]);
    fake.tick(1000);
    assert.equal(batches.length, 1, 'nothing more without new paths');
  });

  it('does not wait longer than maxDelayMs under a continuous stream', () => {
    const { coalescer, batches, fake } = setup();
    for (let t = 0; t < 300; t += 20) {
      coalescer.add(`f${t}`);
      fake.tick(20);
    }
    assert.ok(batches.length >= 1);
    assert.equal(batches[0]?.paths.length, 10, 'the first batch closes at 200 ms');
  });

  it('flags overflow past maxPaths and keeps no paths then', () => {
    const { coalescer, batches, fake } = setup({ maxPaths: 3 });
    for (const p of ['a', 'b', 'c', 'a', 'd', 'e']) coalescer.add(p);
    fake.tick(50);
    assert.deepEqual(batches, [{ paths: [], overflow: true }]);
    coalescer.add('f');
    fake.tick(50);
    assert.deepEqual(batches[1], { paths: ['f'], overflow: false });
  });

  it('markOverflow asks for a full rescan; flush emits now; close drops', () => {
    const { coalescer, batches, fake } = setup();
    coalescer.add('x');
    coalescer.markOverflow();
    coalescer.flush();
    assert.deepEqual(batches, [{ paths: [], overflow: true }]);
    coalescer.flush();
    assert.equal(batches.length, 1, 'an empty flush emits nothing');
    coalescer.add('y');
    coalescer.close();
    coalescer.add('z');
    fake.tick(1000);
    assert.equal(batches.length, 1);
  });
});
