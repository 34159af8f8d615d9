import { strict as assert } from 'node:assert';
import { encodeFrame } from '../../../../src/sync/transport/FrameDecoder';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

function reader(t: MemoryDuplex): { chunks: number[][]; closed: (Error | undefined)[] } {
  const out = { chunks: [] as number[][], closed: [] as (Error | undefined)[] };
  t.onData((c) => out.chunks.push([...c]));
  t.onClose((e) => out.closed.push(e));
  return out;
}

describe('MemoryDuplex', () => {
  it('delivers asynchronously, in order, a copy of what was written', async () => {
    const [a, b] = MemoryDuplex.pair();
    const got = reader(b);
    const data = Uint8Array.from([1, 2, 3]);
    assert.equal(a.write(data), true);
    data[0] = 99;
    a.write(Uint8Array.from([4]));
    assert.deepEqual(got.chunks, []);
    await settle();
    assert.deepEqual(got.chunks, [[1, 2, 3], [4]]);
  });

  it('cuts deliveries into chunks of chunkSize', async () => {
    const [a, b] = MemoryDuplex.pair({ chunkSize: 2 });
    const got = reader(b);
    a.write(Uint8Array.from([1, 2, 3, 4, 5]));
    await settle();
    assert.deepEqual(got.chunks, [[1, 2], [3, 4], [5]]);
  });

  it('flushes pending data before reporting a close on both sides', async () => {
    const [a, b] = MemoryDuplex.pair();
    const gotB = reader(b);
    const gotA = reader(a);
    a.write(Uint8Array.from([7]));
    a.close();
    assert.equal(a.closed, true);
    assert.equal(a.write(Uint8Array.from([8])), false);
    await settle();
    assert.deepEqual(gotB.chunks, [[7]]);
    assert.deepEqual(gotB.closed, [undefined]);
    assert.deepEqual(gotA.closed, [undefined]);
    assert.equal(b.closed, true);
  });

  it('destroy breaks both sides at once with an error, dropping what was in flight', async () => {
    const [a, b] = MemoryDuplex.pair();
    const gotB = reader(b);
    const gotA = reader(a);
    a.write(Uint8Array.from([1]));
    a.destroy(new Error('cut'));
    await settle();
    assert.deepEqual(gotB.chunks, []);
    assert.equal(gotB.closed[0]?.message, 'cut');
    assert.equal(gotA.closed[0]?.message, 'cut');
  });

  it('holds data while paused', async () => {
    const [a, b] = MemoryDuplex.pair();
    const got = reader(b);
    b.pause();
    a.write(Uint8Array.from([1]));
    await settle();
    assert.deepEqual(got.chunks, []);
    b.resume();
    await settle();
    assert.deepEqual(got.chunks, [[1]]);
  });

  it('signals backpressure above the high-water mark and drains', async () => {
    const [a, b] = MemoryDuplex.pair({ highWaterMark: 4 });
    reader(b);
    let drained = 0;
    a.onDrain(() => (drained += 1));
    assert.equal(a.write(new Uint8Array(4)), true);
    assert.equal(a.write(new Uint8Array(1)), false);
    await settle();
    assert.equal(drained, 1);
  });

  it('lets an interceptor drop, duplicate, tamper with and reorder frames', async () => {
    let held: Uint8Array | undefined;
    const [a, b] = MemoryDuplex.pair({
      intercept: (payload, index, direction) => {
        assert.equal(direction, 'a->b');
        if (index === 0) return []; // drop
        if (index === 1) return [payload, payload]; // replay
        if (index === 2) return [Uint8Array.from(payload, (x) => x ^ 0xff)]; // tamper
        if (index === 3) {
          held = payload;
          return [];
        }
        return held ? [payload, held] : [payload]; // reorder
      },
    });
    const got = reader(b);
    const wire = Buffer.concat([0, 1, 2, 3, 4].map((n) => encodeFrame(Uint8Array.from([n]))));
    a.write(wire.subarray(0, 7)); // frames may be split arbitrarily by the writer
    a.write(wire.subarray(7));
    await settle();
    const flat = got.chunks.flat();
    assert.deepEqual(
      flat,
      [
        [0, 0, 0, 1, 1],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 1, 0xfd],
        [0, 0, 0, 1, 4],
        [0, 0, 0, 1, 3],
      ].flat(),
    );
  });
});
