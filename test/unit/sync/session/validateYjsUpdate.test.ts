import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import * as Y from 'yjs';
import { validateYjsUpdate } from '../../../../src/sync/session/validateYjsUpdate';

/** The reference verdict: Y.decodeUpdate on an exact copy (so lib0 cannot read past the view). */
function reference(bytes: Uint8Array): { hasContent: boolean } | undefined {
  try {
    const d = Y.decodeUpdate(bytes.slice());
    return { hasContent: d.structs.length > 0 || d.ds.clients.size > 0 };
  } catch {
    return undefined;
  }
}

/** Updates that exercise every content kind: strings, any (all tags), types, format, deletes. */
function sampleUpdates(): Uint8Array[] {
  const updates: Uint8Array[] = [];
  const doc = new Y.Doc();
  doc.on('update', (u: Uint8Array) => updates.push(u));
  const text = doc.getText('t');
  const map = doc.getMap('m');
  const arr = doc.getArray('a');
  const frag = doc.getXmlFragment('x');
  for (let i = 0; i < 12; i++) {
    text.insert(0, `héllo ✓ ${i}`);
    map.set(`k${i}`, {
      n: [1, -7, 2.5, 1e300, 'x', null, true, false, undefined, new Uint8Array([1, 2])],
      b: BigInt(i),
    });
    arr.push([i, 'z', new Y.Map(), new Uint8Array([i])]);
    if (i % 3 === 0) text.delete(0, 2);
    text.format(0, 2, { bold: true });
    text.insertEmbed(1, { image: 'a.png' });
    frag.insert(0, [new Y.XmlElement('p'), new Y.XmlText('t')]);
  }
  map.delete('k1');
  updates.push(Y.encodeStateAsUpdate(doc));
  updates.push(Y.encodeStateAsUpdate(new Y.Doc()));
  return updates;
}

describe('validateYjsUpdate', () => {
  const samples = sampleUpdates();

  it('accepts real updates and agrees with Y.decodeUpdate on whether they change anything', () => {
    for (const u of samples) {
      const expected = reference(u);
      assert.ok(expected);
      assert.deepEqual(validateYjsUpdate(u), expected);
    }
    assert.deepEqual(validateYjsUpdate(Y.encodeStateAsUpdate(new Y.Doc())), { hasContent: false });
  });

  it('rejects truncations and garbage', () => {
    const full = samples[samples.length - 2] ?? new Uint8Array();
    assert.equal(validateYjsUpdate(full.subarray(0, full.length >> 1)), undefined);
    assert.equal(validateYjsUpdate(new Uint8Array([1, 1])), undefined);
    assert.equal(validateYjsUpdate(new Uint8Array(0)), undefined);
    // A string that is not UTF-8 (0xff) inside a root-level text insert.
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'abc');
    const u = Y.encodeStateAsUpdate(doc);
    const at = Buffer.from(u).indexOf(Buffer.from('abc'));
    const bad = Uint8Array.from(u);
    bad[at] = 0xff;
    assert.equal(reference(bad), undefined);
    assert.equal(validateYjsUpdate(bad), undefined);
  });

  it('never reads past its view (a truncated update inside a larger buffer is rejected)', () => {
    const u = samples[0] ?? new Uint8Array();
    const buffer = new Uint8Array(u.length + 64);
    buffer.set(u);
    assert.ok(validateYjsUpdate(buffer.subarray(0, u.length)));
    assert.equal(validateYjsUpdate(buffer.subarray(0, u.length - 1)), undefined);
  });

  it('a deep `any` nesting is walked without exhausting the stack', () => {
    // 1 client, 1 struct, client 1, clock 0, info 8 (ContentAny) parent key "m" sub "k"…
    const depth = 200_000;
    const head = [1, 1, 1, 0, 8 | 0x20, 1, 1, 0x6d, 1, 0x6b, 1];
    const nest = new Array<number>(depth * 2).fill(0);
    for (let i = 0; i < depth; i++) {
      nest[i * 2] = 117;
      nest[i * 2 + 1] = 1;
    }
    const bytes = Uint8Array.from([...head, ...nest, 126, 0]);
    assert.deepEqual(validateYjsUpdate(bytes), { hasContent: true });
  });

  it('property: on mutated updates it never accepts what Y.decodeUpdate rejects (and agrees)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        (which, flips, cut) => {
          const bytes = Uint8Array.from(samples[which] ?? []);
          for (const [at, v] of flips) if (bytes.length > 0) bytes[at % bytes.length] = v;
          const input = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
          const ours = validateYjsUpdate(input);
          const theirs = reference(input);
          if (ours !== undefined) assert.deepEqual(ours, theirs);
          else assert.equal(theirs, undefined);
        },
      ),
      { numRuns: 400 },
    );
  });
});
