import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import { decodeText } from '../../../../../src/core/files/textCodec';
import { isTextBytes } from '../../../../../src/sync/files/scan/isTextBytes';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const same = (bytes: Uint8Array, max?: number): void => {
  const options = max === undefined ? {} : { maxTextBytes: max };
  assert.equal(isTextBytes(bytes, max), decodeText(bytes, options) !== undefined, String(bytes));
};

describe('isTextBytes', () => {
  it('agrees with decodeText on chosen cases', () => {
    const cases: Uint8Array[] = [
      new Uint8Array(),
      utf8('plain\r\nCRLF\n'),
      new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('bom ✓')]),
      new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]), // UTF-16LE "hi"
      new Uint8Array([0xfe, 0xff, 0x00, 0x68, 0x00, 0x69]), // UTF-16BE "hi"
      new Uint8Array([0xff, 0xfe, 0x00, 0xd8]), // UTF-16LE lone surrogate
      new Uint8Array([0x61, 0x00, 0x62]), // NUL
      new Uint8Array([0xc0, 0x80]), // overlong
      new Uint8Array([0xed, 0xa0, 0x80]), // UTF-8 surrogate
      new Uint8Array([0xe2, 0x82]), // truncated
      new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    ];
    for (const bytes of cases) same(bytes);
    same(utf8('four'), 3);
  });

  it('agrees with decodeText on arbitrary bytes and arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        same(bytes);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.nat(8), (text, cut) => {
        const bytes = utf8(text);
        same(bytes);
        same(bytes.subarray(0, Math.max(0, bytes.length - cut)));
      }),
      { numRuns: 1000 },
    );
  });
});
