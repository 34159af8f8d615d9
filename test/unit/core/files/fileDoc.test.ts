import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import * as Y from 'yjs';
import {
  applyLocalFileChange,
  concurrentSeeds,
  createFileDoc,
  fileDocGuid,
  fileText,
  isSeeded,
  readFileFormat,
  readTextFile,
  seedClientId,
  seedTextFileDoc,
  seedUpdate,
  textFileBytes,
  type TextFileContent,
} from '../../../../src/core/files/fileDoc';
import { decodeText } from '../../../../src/core/files/textCodec';

function device(fileId: string, clientID: number): Y.Doc {
  const doc = createFileDoc(fileId);
  doc.clientID = clientID;
  return doc;
}

function exchange(a: Y.Doc, b: Y.Doc): void {
  const toB = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
  const toA = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
  Y.applyUpdate(b, toB, 'peer');
  Y.applyUpdate(a, toA, 'peer');
}

const crlfFile: TextFileContent = { text: 'line 1\r\nline 2\r\n', encoding: 'utf8', bom: true };

describe('fileDoc', () => {
  it('names file documents by file id, not by path', () => {
    assert.equal(fileDocGuid('f-123'), 'twinspace.file:f-123');
    assert.equal(createFileDoc('f-123').guid, 'twinspace.file:f-123');
  });

  it('seeds content and format, and gives back the same bytes', () => {
    const doc = device('f1', 1);
    assert.equal(readTextFile(doc), undefined);
    assert.equal(textFileBytes(doc), undefined);
    assert.ok(!isSeeded(doc));
    assert.ok(seedTextFileDoc(doc, crlfFile, 'local'));
    assert.ok(isSeeded(doc));
    assert.deepEqual(readTextFile(doc), crlfFile);
    const bytes = textFileBytes(doc);
    assert.ok(bytes);
    assert.deepEqual(decodeText(bytes), { ...crlfFile, eol: 'crlf' });
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    // A second seed changes nothing.
    assert.ok(!seedTextFileDoc(doc, { text: 'other', encoding: 'utf8', bom: false }));
    assert.deepEqual(readTextFile(doc), crlfFile);
  });

  it('two devices seeding the same content hold one copy, not two', () => {
    const a = device('f1', 1);
    const b = device('f1', 2);
    seedTextFileDoc(a, crlfFile);
    seedTextFileDoc(b, crlfFile);
    exchange(a, b);
    assert.equal(fileText(a).toJSON(), crlfFile.text);
    assert.equal(fileText(b).toJSON(), crlfFile.text);
    assert.equal(concurrentSeeds(a).length, 1);
  });

  it('a seed saved as an update (never built) merges like a seeded document', () => {
    // Device a publishes from a first scan: its document is only the seed update.
    const saved = seedUpdate(fileDocGuid('f1'), crlfFile);
    const a = device('f1', 1);
    Y.applyUpdate(a, saved);
    assert.deepEqual(readTextFile(a), crlfFile);
    // Device b seeded the same content the usual way: one copy, one seed.
    const b = device('f1', 2);
    seedTextFileDoc(b, crlfFile);
    exchange(a, b);
    assert.equal(fileText(b).toJSON(), crlfFile.text);
    assert.equal(concurrentSeeds(b).length, 1);
    assert.deepEqual(Y.encodeStateVector(a), Y.encodeStateVector(b));
  });

  it('two devices seeding different contents are reported as concurrent seeds', () => {
    const a = device('f1', 1);
    const b = device('f1', 2);
    seedTextFileDoc(a, { text: 'mine\n', encoding: 'utf8', bom: false });
    seedTextFileDoc(b, { text: 'theirs\n', encoding: 'utf8', bom: false });
    exchange(a, b);
    assert.equal(concurrentSeeds(a).length, 2);
    assert.deepEqual(concurrentSeeds(a), concurrentSeeds(b));
    const merged = fileText(a).toJSON();
    assert.equal(fileText(b).toJSON(), merged);
    assert.ok(merged.includes('mine\n') && merged.includes('theirs\n'));
  });

  it('the seed client id depends on the guid, the format and the text', () => {
    const id = seedClientId('g', crlfFile);
    assert.equal(id, seedClientId('g', { ...crlfFile }));
    assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffffffff);
    assert.notEqual(id, seedClientId('h', crlfFile));
    assert.notEqual(id, seedClientId('g', { ...crlfFile, bom: false }));
    assert.notEqual(id, seedClientId('g', { ...crlfFile, encoding: 'utf16le' }));
    assert.notEqual(id, seedClientId('g', { ...crlfFile, text: crlfFile.text + ' ' }));
  });

  it('a local change is a minimal diff, and a format change is recorded', () => {
    const doc = device('f1', 1);
    seedTextFileDoc(doc, crlfFile);
    const origins: unknown[] = [];
    doc.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));
    const next = { text: 'line 1\r\nline two\r\n', encoding: 'utf16le', bom: true } as const;
    const result = applyLocalFileChange(doc, crlfFile.text, next, 'local');
    assert.deepEqual(origins, ['local']);
    assert.deepEqual(readTextFile(doc), next);
    assert.deepEqual(readFileFormat(doc), { encoding: 'utf16le', bom: true });
    assert.ok(result.edits.every((e) => e.deleteCount + e.insert.length <= 4));
  });

  it('property: concurrent CRLF/BOM file edits on two devices merge and keep the format', () => {
    const sep = '\r\n--- keep ---\r\n';
    const piece = fc
      .array(fc.constantFrom('x', 'y', '\r\n', '😀', ' '), { maxLength: 20 })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(piece, piece, piece, piece, (a0, b0, a1, b1) => {
        const base: TextFileContent = { text: a0 + sep + b0, encoding: 'utf8', bom: true };
        const a = device('f', 1);
        const b = device('f', 2);
        seedTextFileDoc(a, base);
        seedTextFileDoc(b, base);
        applyLocalFileChange(a, base.text, { ...base, text: a1 + sep + b0 });
        applyLocalFileChange(b, base.text, { ...base, text: a0 + sep + b1 });
        exchange(a, b);
        const expected = { ...base, text: a1 + sep + b1 };
        assert.deepEqual(readTextFile(a), expected);
        assert.deepEqual(readTextFile(b), expected);
        assert.deepEqual(textFileBytes(a), textFileBytes(b));
        assert.equal(concurrentSeeds(a).length, 1);
      }),
      { seed: 0xf11e01, numRuns: 150 },
    );
  });
});
