import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import {
  decodeText,
  detectEol,
  encodeText,
  isTextContent,
  isWellFormedUtf16,
  sniffContent,
  SNIFF_BYTES,
  type TextEncodingName,
} from '../../../../src/core/files/textCodec';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function utf16(text: string, littleEndian: boolean, bom = true): Uint8Array {
  const offset = bom ? 2 : 0;
  const out = new Uint8Array(offset + text.length * 2);
  const view = new DataView(out.buffer);
  if (bom) view.setUint16(0, 0xfeff, littleEndian);
  for (let i = 0; i < text.length; i += 1) {
    view.setUint16(offset + i * 2, text.charCodeAt(i), littleEndian);
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

describe('textCodec', () => {
  it('decodes plain UTF-8 with LF and encodes it back byte for byte', () => {
    const bytes = utf8('const a = 1;\nconst b = "é";\n');
    const decoded = decodeText(bytes);
    assert.deepEqual(decoded, {
      text: 'const a = 1;\nconst b = "é";\n',
      eol: 'lf',
      bom: false,
      encoding: 'utf8',
    });
    assert.deepEqual(encodeText(decoded), bytes);
  });

  it('keeps CRLF inside the text and reports it', () => {
    const bytes = utf8('a\r\nb\r\n');
    const decoded = decodeText(bytes);
    assert.equal(decoded?.text, 'a\r\nb\r\n');
    assert.equal(decoded.eol, 'crlf');
    assert.deepEqual(encodeText(decoded), bytes);
  });

  it('reports mixed line endings and lone CRs as mixed', () => {
    assert.equal(detectEol('a\r\nb\nc'), 'mixed');
    assert.equal(detectEol('a\rb'), 'mixed');
    assert.equal(detectEol('a\r'), 'mixed');
    assert.equal(detectEol('no break'), 'lf');
    assert.equal(detectEol(''), 'lf');
    assert.equal(detectEol('x\r\n'), 'crlf');
  });

  it('keeps a UTF-8 byte order mark out of the text and puts it back', () => {
    const bytes = concat(new Uint8Array([0xef, 0xbb, 0xbf]), utf8('hi\r\n'));
    const decoded = decodeText(bytes);
    assert.equal(decoded?.text, 'hi\r\n');
    assert.equal(decoded.bom, true);
    assert.deepEqual(encodeText(decoded), bytes);
    // A BOM-looking sequence later in the file is text, not a mark.
    const inner = concat(utf8('x'), new Uint8Array([0xef, 0xbb, 0xbf]));
    assert.equal(decodeText(inner)?.text, 'x\uFEFF');
    assert.deepEqual(encodeText(decodeText(inner)!), inner);
  });

  for (const [encoding, le] of [
    ['utf16le', true],
    ['utf16be', false],
  ] as const) {
    it(`decodes ${encoding} with its mark, including astral characters`, () => {
      const text = 'héllo 😀\r\nwörld';
      const bytes = utf16(text, le);
      const decoded = decodeText(bytes);
      assert.deepEqual(decoded, { text, eol: 'crlf', bom: true, encoding });
      assert.deepEqual(encodeText(decoded), bytes);
    });
  }

  it('treats NUL bytes in the first 8 KB as binary, later ones as text', () => {
    assert.equal(decodeText(new Uint8Array([0x61, 0x00, 0x62])), undefined);
    const late = new Uint8Array(SNIFF_BYTES + 10).fill(0x61);
    late[SNIFF_BYTES + 5] = 0;
    assert.ok(isTextContent(late));
    const early = new Uint8Array(SNIFF_BYTES + 10).fill(0x61);
    early[SNIFF_BYTES - 1] = 0;
    assert.ok(!isTextContent(early));
    assert.equal(sniffContent(early), 'binary');
    assert.equal(sniffContent(late.subarray(0, SNIFF_BYTES)), 'maybe-text');
    assert.equal(sniffContent(utf16('a', true)), 'maybe-text');
  });

  it('rejects invalid UTF-8, oversized content and malformed UTF-16', () => {
    assert.equal(decodeText(new Uint8Array([0x61, 0xff, 0x62])), undefined);
    assert.equal(decodeText(new Uint8Array([0xc3])), undefined); // truncated sequence
    assert.equal(decodeText(new Uint8Array([0xed, 0xa0, 0x80])), undefined); // encoded surrogate
    assert.equal(decodeText(utf8('abcdef'), { maxTextBytes: 5 }), undefined);
    assert.ok(decodeText(utf8('abcde'), { maxTextBytes: 5 }));
    assert.equal(decodeText(new Uint8Array([0xff, 0xfe, 0x61])), undefined); // odd length
    assert.equal(decodeText(utf16('a\uD800b', true)), undefined); // lone surrogate
    assert.equal(decodeText(utf16('a\u0000b', true)), undefined); // NUL code unit
    // UTF-32LE (FF FE 00 00): NUL code units after the UTF-16 mark, so binary.
    assert.equal(decodeText(new Uint8Array([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0])), undefined);
  });

  it('an empty file is UTF-8 text', () => {
    assert.deepEqual(decodeText(new Uint8Array(0)), {
      text: '',
      eol: 'lf',
      bom: false,
      encoding: 'utf8',
    });
  });

  it('refuses to encode a lone surrogate as UTF-16', () => {
    assert.throws(
      () => encodeText({ text: 'a\uDC00', bom: true, encoding: 'utf16le' }),
      RangeError,
    );
    assert.ok(!isWellFormedUtf16('\uD83D'));
    assert.ok(isWellFormedUtf16('😀'));
  });

  const line = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/[\r\n\0]/g, ''));
  const eol = fc.constantFrom('\n', '\r\n', '\r');
  const textArb = fc
    .array(fc.tuple(line, eol), { maxLength: 12 })
    .chain((pairs) =>
      fc.tuple(fc.constant(pairs.map(([l, e]) => l + e).join('')), line).map(([t, l]) => t + l),
    );
  const encodingArb = fc.constantFrom<TextEncodingName>('utf8', 'utf16le', 'utf16be');

  it('property: random texts with LF/CRLF/CR and a BOM survive encode → decode → encode', () => {
    fc.assert(
      fc.property(textArb, encodingArb, fc.boolean(), (text, encoding, bomWanted) => {
        const bom = encoding === 'utf8' ? bomWanted : true; // UTF-16 is recognised by its mark
        if (encoding === 'utf8' && !bom && text.startsWith('\uFEFF')) return;
        const bytes = encodeText({ text, bom, encoding });
        const decoded = decodeText(bytes);
        assert.ok(decoded, 'should decode as text');
        assert.equal(decoded.text, text);
        assert.equal(decoded.encoding, encoding);
        assert.equal(decoded.bom, bom);
        assert.equal(decoded.eol, detectEol(text));
        assert.deepEqual(encodeText(decoded), bytes);
      }),
      { seed: 0x5eed01, numRuns: 300 },
    );
  });

  it('property: any bytes that decode as text encode back to exactly the same bytes', () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ min: 0x09, max: 0x7f, maxLength: 64 }),
      fc
        .tuple(
          fc.constantFrom([0xff, 0xfe], [0xfe, 0xff], [0xef, 0xbb, 0xbf]),
          fc.uint8Array({ maxLength: 32 }),
        )
        .map(([mark, rest]) => concat(new Uint8Array(mark), rest)),
    );
    let texts = 0;
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const decoded = decodeText(bytes);
        if (decoded === undefined) return;
        texts += 1;
        assert.deepEqual(encodeText(decoded), bytes);
      }),
      { seed: 0x5eed02, numRuns: 500 },
    );
    assert.ok(texts > 50, `too few texts generated (${texts})`);
  });
});
