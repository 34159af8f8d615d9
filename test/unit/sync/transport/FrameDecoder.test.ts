import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  FrameDecoder,
  FrameTooLargeError,
  encodeFrame,
} from '../../../../src/sync/transport/FrameDecoder';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Cuts `data` at the given (sorted, deduplicated) offsets. */
function cut(data: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (data.length + 1)))].sort((x, y) => x - y);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    pieces.push(data.subarray(last, p));
    last = p;
  }
  pieces.push(data.subarray(last));
  return pieces;
}

describe('FrameDecoder', () => {
  it('decodes several frames from one chunk as zero-copy views of it', () => {
    const wire = concat([encodeFrame(bytes(1, 2, 3)), encodeFrame(bytes()), encodeFrame(bytes(9))]);
    const frames = new FrameDecoder().push(wire);
    assert.deepEqual(
      frames.map((f) => [...f]),
      [[1, 2, 3], [], [9]],
    );
    assert.equal(frames[0]!.buffer, wire.buffer);
    assert.equal(frames[2]!.buffer, wire.buffer);
  });

  it('assembles a frame split across chunks, header included, with one copy', () => {
    const decoder = new FrameDecoder();
    const wire = encodeFrame(bytes(10, 20, 30, 40, 50));
    assert.deepEqual(decoder.push(wire.subarray(0, 2)), []);
    assert.deepEqual(decoder.push(wire.subarray(2, 6)), []);
    assert.equal(decoder.bufferedBytes, 2);
    const frames = decoder.push(wire.subarray(6));
    assert.deepEqual(
      frames.map((f) => [...f]),
      [[10, 20, 30, 40, 50]],
    );
    assert.notEqual(frames[0]!.buffer, wire.buffer);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('copes with a frame trickled in one-byte chunks (bounded chunk list)', () => {
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
    const wire = encodeFrame(payload);
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) frames.push(...decoder.push(wire.subarray(i, i + 1)));
    assert.equal(frames.length, 1);
    assert.deepEqual(frames[0], payload);
  });

  it('refuses an oversize length as soon as the header arrives, and stays failed', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.deepEqual(decoder.push(encodeFrame(new Uint8Array(1024))).length, 1);
    assert.throws(
      () => decoder.push(bytes(0, 0, 4, 1)),
      (err) =>
        err instanceof FrameTooLargeError && err.length === 1025 && err.maxFrameBytes === 1024,
    );
    assert.equal(decoder.bufferedBytes, 0);
    assert.throws(() => decoder.push(encodeFrame(bytes(1))), FrameTooLargeError);
  });

  it('refuses a 4 GiB length without allocating it', () => {
    const decoder = new FrameDecoder();
    assert.throws(() => decoder.push(bytes(0xff, 0xff, 0xff, 0xff)), FrameTooLargeError);
  });

  it('property: any chunking of valid frames yields the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, offsets) => {
          const wire = concat(payloads.map(encodeFrame));
          const decoder = new FrameDecoder({ maxFrameBytes: 300 });
          const frames = cut(wire, offsets).flatMap((piece) => decoder.push(piece));
          assert.deepEqual(
            frames.map((f) => Buffer.from(f).toString('hex')),
            payloads.map((p) => Buffer.from(p).toString('hex')),
          );
          assert.equal(decoder.bufferedBytes, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fuzz: random bytes in random chunks never crash: frames within the cap, or FrameTooLargeError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 0, max: 4096 }),
        (data, offsets, cap) => {
          const decoder = new FrameDecoder({ maxFrameBytes: cap });
          let total = 0;
          try {
            for (const piece of cut(data, offsets)) {
              for (const frame of decoder.push(piece)) {
                assert.ok(frame.length <= cap);
                total += 4 + frame.length;
              }
            }
          } catch (err) {
            assert.ok(err instanceof FrameTooLargeError, String(err));
            return;
          }
          // Every byte is in a returned frame, held, or a parsed header of the pending frame.
          const unaccounted = data.length - total - decoder.bufferedBytes;
          assert.ok(unaccounted === 0 || unaccounted === 4, `unaccounted ${unaccounted}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});
