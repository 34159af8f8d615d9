import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import * as Y from 'yjs';
import {
  applyEdits,
  applyTextChange,
  diffText,
  rebaseEdits,
  type TextEdit,
} from '../../../../src/core/files/textDiff';
import { isWellFormedUtf16 } from '../../../../src/core/files/textCodec';

function replica(clientID: number, text = ''): { doc: Y.Doc; text: Y.Text } {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const ytext = doc.getText('t');
  if (text.length > 0) ytext.insert(0, text);
  return { doc, text: ytext };
}

function exchange(a: Y.Doc, b: Y.Doc): void {
  const toB = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
  const toA = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
  Y.applyUpdate(b, toB, 'peer');
  Y.applyUpdate(a, toA, 'peer');
}

/** A second replica that starts from `a`'s current state. */
function fork(a: Y.Doc, clientID: number): { doc: Y.Doc; text: Y.Text } {
  const b = replica(clientID);
  Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a), 'peer');
  return b;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Checks the shape promised by diffText. */
function checkEdits(oldText: string, newText: string, edits: readonly TextEdit[]): void {
  assert.equal(applyEdits(oldText, edits), newText);
  let end = -1;
  for (const e of edits) {
    assert.ok(e.index > end, `edits must be ascending and never touch: ${JSON.stringify(edits)}`);
    assert.ok(e.deleteCount > 0 || e.insert.length > 0, 'no empty edit');
    for (const at of [e.index, e.index + e.deleteCount]) {
      const splits = isHigh(oldText.charCodeAt(at - 1)) && isLow(oldText.charCodeAt(at));
      assert.ok(!splits, `edit boundary ${at} splits a surrogate pair`);
    }
    assert.ok(isWellFormedUtf16(e.insert), 'inserted text is well formed');
    end = e.index + e.deleteCount;
  }
}

/** Small alphabets make diffs ambiguous; emoji share their high surrogate (D83D). */
const unit = fc.constantFrom('a', 'b', 'c', '\n', '\r\n', ' ', '😀', '😁', '😂', '𝄞', 'é');
const textArb = fc.array(unit, { maxLength: 60 }).map((parts) => parts.join(''));

/** Random edits of a text at code point boundaries. */
function mutate(text: string, ops: readonly [number, number, string][]): string {
  let points = Array.from(text);
  for (const [at, del, ins] of ops) {
    const i = points.length === 0 ? 0 : at % (points.length + 1);
    points = [...points.slice(0, i), ...Array.from(ins), ...points.slice(i + del)];
  }
  return points.join('');
}
const opsArb = fc.array(
  fc.tuple(
    fc.nat(200),
    fc.nat(4),
    fc.array(unit, { maxLength: 5 }).map((p) => p.join('')),
  ),
  { minLength: 1, maxLength: 5 },
);

describe('textDiff', () => {
  it('finds a single small edit in a large text', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} of the file\n`);
    const oldText = lines.join('');
    const newText = oldText.replace('line 2500 of', 'line 2500 (edited) of');
    const edits = diffText(oldText, newText);
    assert.equal(edits.length, 1);
    assert.equal(edits[0]?.deleteCount, 0);
    assert.equal(edits[0].insert, '(edited) ');
    checkEdits(oldText, newText, edits);
  });

  it('returns no edit for equal texts and one edit for an empty side', () => {
    assert.deepEqual(diffText('same', 'same'), []);
    assert.deepEqual(diffText('', 'new'), [{ index: 0, deleteCount: 0, insert: 'new' }]);
    assert.deepEqual(diffText('old', ''), [{ index: 0, deleteCount: 3, insert: '' }]);
  });

  it('replaces a whole emoji, never half of it', () => {
    // 😀 is D83D DE00 and 😁 is D83D DE01: they differ only in the low surrogate.
    const edits = diffText('a😀b', 'a😁b');
    assert.deepEqual(edits, [{ index: 1, deleteCount: 2, insert: '😁' }]);
    checkEdits('😀😀😀', '😀😁😀', diffText('😀😀😀', '😀😁😀'));
    checkEdits('x😀', 'x😀😀', diffText('x😀', 'x😀😀'));
  });

  it('emoji survive Yjs update encoding after a diff is applied', () => {
    const a = replica(1, 'start 😀 end');
    applyTextChange(a.text, 'start 😀 end', 'start 😁😂 end');
    const b = fork(a.doc, 2);
    assert.equal(b.text.toJSON(), 'start 😁😂 end');
  });

  it('stays bounded on a large rewrite by diffing by line, then replacing blocks', () => {
    const mk = (seed: number, n: number): string => {
      let s = seed;
      const out: string[] = [];
      for (let i = 0; i < n; i += 1) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        out.push(`    const v${i} = f(${s % 1000}, "${s.toString(36)}");\n`);
      }
      return out.join('');
    };
    const oldText = mk(1, 6000); // ~280 KB: a character diff of this takes about a minute
    const rewritten = mk(7, 6000);
    const edits = diffText(oldText, rewritten);
    checkEdits(oldText, rewritten, edits);
    // Every 20th line changed: the line diff finds them, each becomes a small edit.
    const indented = oldText
      .split('\n')
      .map((l, i) => (i % 20 === 0 ? l.replace('    ', '\t') : l))
      .join('\n');
    const small = diffText(oldText, indented);
    checkEdits(oldText, indented, small);
    assert.equal(small.length, 300);
    // Every third line: over the Myers bound, but unique unchanged lines anchor it.
    const many = oldText
      .split('\n')
      .map((l, i) => (i % 3 === 0 ? l.replace('    ', '\t') : l))
      .join('\n');
    const manyEdits = diffText(oldText, many);
    checkEdits(oldText, many, manyEdits);
    assert.equal(manyEdits.length, 2000);
    assert.ok(small.every((e) => e.deleteCount === 4 && e.insert === '\t'));
  });

  it('past the line bound, anchors on unique lines (patience) and diffs the gaps', () => {
    const oldText = Array.from({ length: 50 }, (_, i) => `a${i}\n`).join('');
    const newText = Array.from({ length: 50 }, (_, i) => (i % 2 ? `b${i}\n` : `a${i}\n`)).join('');
    // 50 line edits are over the bound of 20: the unchanged lines (unique) anchor the diff.
    const edits = diffText(oldText, newText, { charDiffLimit: 10, maxLineEdits: 20 });
    assert.equal(edits.length, 25);
    assert.ok(edits.every((e) => e.deleteCount === 1 && e.insert === 'b'));
    checkEdits(oldText, newText, edits);
    // Moved blocks: unique lines still anchor what did not move.
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i}\n`);
    const moved = [...lines.slice(30), ...lines.slice(0, 30)].join('');
    const movedEdits = diffText(lines.join(''), moved, { charDiffLimit: 10, maxLineEdits: 8 });
    checkEdits(lines.join(''), moved, movedEdits);
  });

  it('replaces the middle whole when there is neither a short script nor an anchor', () => {
    const oldText = 'same\n'.repeat(40) + 'x';
    const newText = 'other\n'.repeat(40) + 'y';
    const edits = diffText(oldText, newText, { charDiffLimit: 10, maxLineEdits: 20 });
    assert.equal(edits.length, 1);
    checkEdits(oldText, newText, edits);
  });

  it('property: edits turn old into new, sorted, never splitting a surrogate pair', () => {
    fc.assert(
      fc.property(textArb, opsArb, fc.boolean(), (oldText, ops, lineMode) => {
        const newText = mutate(oldText, ops);
        const options = lineMode ? { charDiffLimit: 4, maxLineEdits: 3 } : {};
        checkEdits(oldText, newText, diffText(oldText, newText, options));
      }),
      { seed: 0x7d1f01, numRuns: 400 },
    );
  });

  it('applies a change as one transaction with the given origin', () => {
    const a = replica(1, 'hello world');
    const origins: unknown[] = [];
    a.doc.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));
    const result = applyTextChange(a.text, 'hello world', 'hallo big world!', 'local');
    assert.equal(a.text.toJSON(), 'hallo big world!');
    assert.deepEqual(origins, ['local']);
    assert.equal(result.rebased, false);
    assert.ok(result.edits.length >= 2);
    assert.deepEqual(applyTextChange(a.text, 'hallo big world!', 'hallo big world!').edits, []);
    assert.equal(origins.length, 1);
  });

  it('property: concurrent edits of different regions merge on both replicas, no conflict', () => {
    const sep = '\n=== separator ===\n';
    fc.assert(
      fc.property(textArb, textArb, opsArb, opsArb, (partA, partB, opsA, opsB) => {
        const base = partA + sep + partB;
        const a = replica(10, base);
        const b = fork(a.doc, 20);
        const newA = mutate(partA, opsA) + sep + partB;
        const newB = partA + sep + mutate(partB, opsB);
        applyTextChange(a.text, base, newA, 'local');
        applyTextChange(b.text, base, newB, 'local');
        exchange(a.doc, b.doc);
        const expected = mutate(partA, opsA) + sep + mutate(partB, opsB);
        assert.equal(a.text.toJSON(), expected);
        assert.equal(b.text.toJSON(), expected);
      }),
      { seed: 0x7d1f02, numRuns: 200 },
    );
  });

  it('property: concurrent edits anywhere converge and keep every inserted marker', () => {
    fc.assert(
      fc.property(textArb, opsArb, opsArb, (base, opsA, opsB) => {
        const a = replica(10, base);
        const b = fork(a.doc, 20);
        // Each side also inserts a marker nobody else types, so we can check it survives.
        const newA = mutate(base, opsA) + '«A»';
        const newB = '«B»' + mutate(base, opsB);
        applyTextChange(a.text, base, newA);
        applyTextChange(b.text, base, newB);
        exchange(a.doc, b.doc);
        const merged = a.text.toJSON();
        assert.equal(b.text.toJSON(), merged);
        assert.ok(merged.includes('«A»') && merged.includes('«B»'));
        assert.ok(isWellFormedUtf16(merged));
      }),
      { seed: 0x7d1f03, numRuns: 200 },
    );
  });

  it('rebases a local change onto a Y.Text that moved on since oldText', () => {
    const a = replica(1, 'one\ntwo\nthree\n');
    // A remote change lands first (the disk still shows the old text).
    a.text.insert(8, 'TWO-AND-A-HALF\n');
    const result = applyTextChange(a.text, 'one\ntwo\nthree\n', 'ONE\ntwo\nthree\nfour\n');
    assert.equal(result.rebased, true);
    assert.equal(a.text.toJSON(), 'ONE\ntwo\nTWO-AND-A-HALF\nthree\nfour\n');
  });

  it('rebasing a local deletion keeps text the remote inserted inside it', () => {
    const base = 'keep [delete me] keep';
    const current = 'keep [delete REMOTE me] keep';
    const local = diffText(base, 'keep  keep');
    const rebased = rebaseEdits(base, current, local);
    // Everything of base in the brackets goes; "REMOTE " was not in base, so it stays.
    assert.equal(applyEdits(current, rebased), 'keep REMOTE  keep');
  });

  it('property: a rebased change keeps both sides when they touch different regions', () => {
    const sep = '\n--\n';
    fc.assert(
      fc.property(textArb, textArb, opsArb, opsArb, (partA, partB, opsA, opsB) => {
        const base = partA + sep + partB;
        const remote = partA + sep + mutate(partB, opsB);
        const local = mutate(partA, opsA) + sep + partB;
        const doc = replica(1, remote);
        applyTextChange(doc.text, base, local);
        assert.equal(doc.text.toJSON(), mutate(partA, opsA) + sep + mutate(partB, opsB));
      }),
      { seed: 0x7d1f04, numRuns: 200 },
    );
  });

  it('property: rebasing never loses a remote insertion and yields well-formed text', () => {
    fc.assert(
      fc.property(textArb, opsArb, opsArb, (base, opsLocal, opsRemote) => {
        const current = mutate(base, opsRemote) + '«R»';
        const newLocal = mutate(base, opsLocal);
        const doc = replica(1, current);
        applyTextChange(doc.text, base, newLocal);
        const out = doc.text.toJSON();
        assert.ok(out.includes('«R»'));
        assert.ok(isWellFormedUtf16(out));
      }),
      { seed: 0x7d1f05, numRuns: 300 },
    );
  });
});
