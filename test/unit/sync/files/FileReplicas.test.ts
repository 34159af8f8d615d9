import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as Y from 'yjs';
import { FileReplicas, fileIdOf } from '../../../../src/sync/files/FileReplicas';

const text = (doc: Y.Doc): string => doc.getText('t').toJSON();

describe('FileReplicas', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tw-replicas-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps at most `capacity` documents in memory and saves evicted changes', async () => {
    const replicas = await FileReplicas.open(dir, 2);
    const ids = ['a', 'b', 'c'].map(fileIdOf);
    for (const [i, id] of ids.entries()) (await replicas.get(id)).getText('t').insert(0, `v${i}`);
    assert.equal(replicas.size, 2);
    // The first one was evicted and saved: it comes back with its content.
    assert.equal(text(await replicas.get(ids[0] ?? '')), 'v0');
    await replicas.close();
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, ids.map((id) => `${id}.ydoc`).sort());
  });

  it('a document read back while its eviction save is under way has every change', async () => {
    const replicas = await FileReplicas.open(dir, 1);
    const a = fileIdOf('a');
    const b = fileIdOf('b');
    const docA = await replicas.get(a);
    for (let i = 0; i < 200; i++) docA.getText('t').insert(0, `line ${i}\n`);
    const expected = text(docA);
    // Loading b evicts a (its save starts); a is asked for again before that save is done.
    // (White box: wait for the moment a has left memory, which is when its save begins.)
    const loaded = (replicas as unknown as { loaded: Map<string, unknown> }).loaded;
    const loadingB = replicas.get(b);
    for (let i = 0; i < 10_000 && loaded.has(a); i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert.equal(loaded.has(a), false, 'a was evicted');
    const again = await replicas.get(a);
    await loadingB;
    assert.equal(text(again), expected);
    await replicas.close();
  });

  it('answers what a peer lacks from a saved document without loading it', async () => {
    const id = fileIdOf('saved');
    const first = await FileReplicas.open(dir, 1);
    const doc = await first.get(id);
    doc.getText('t').insert(0, 'hello world');
    const full = Y.encodeStateAsUpdate(doc);
    const halfway = Y.encodeStateVector(doc);
    doc.getText('t').insert(5, ',');
    await first.close();

    const replicas = await FileReplicas.open(dir, 1);
    const everything = await replicas.missingFor(id, new Uint8Array([0]));
    assert.equal(replicas.size, 0, 'nothing loaded');
    const peer = new Y.Doc();
    Y.applyUpdate(peer, everything);
    assert.equal(text(peer), 'hello, world');
    // A peer that has the first insert gets only the comma.
    const rest = await replicas.missingFor(id, halfway);
    const other = new Y.Doc();
    Y.applyUpdate(other, full);
    Y.applyUpdate(other, rest);
    assert.equal(text(other), 'hello, world');
    assert.ok(rest.byteLength < everything.byteLength);
    assert.deepEqual(await replicas.stateVectorOf(id), Y.encodeStateVector(peer));
    assert.equal(replicas.size, 0, 'still nothing loaded');
    // A document in memory answers from memory, changes not yet saved included.
    (await replicas.get(id)).getText('t').insert(0, '> ');
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, await replicas.missingFor(id, new Uint8Array([0])));
    assert.equal(text(fresh), '> hello, world');
    assert.deepEqual(await replicas.stateVectorOf(id), Y.encodeStateVector(fresh));
    await replicas.close();
  });

  it('missingFor drops a damaged save and answers empty; a bad state vector throws', async () => {
    const id = fileIdOf('x');
    await writeFile(path.join(dir, `${id}.ydoc`), Buffer.from([0xff, 0x00, 0x13, 0x37]));
    const replicas = await FileReplicas.open(dir);
    const answer = await replicas.missingFor(id, new Uint8Array([0]));
    const peer = new Y.Doc();
    Y.applyUpdate(peer, answer);
    assert.equal(text(peer), '');
    assert.deepEqual(await readdir(dir), []);
    await assert.rejects(replicas.missingFor(id, new Uint8Array([0xff, 0xff, 0xff])));
    await replicas.close();
  });

  it('create saves a new document without loading it; a second create is refused', async () => {
    const id = fileIdOf('new');
    const source = new Y.Doc();
    source.getText('t').insert(0, 'seeded');
    const replicas = await FileReplicas.open(dir, 4);
    const creating = replicas.create(id, Y.encodeStateAsUpdate(source));
    assert.ok(replicas.has(id), 'known while being saved');
    // A get meanwhile waits for the save and reads it.
    const doc = await replicas.get(id);
    await creating;
    assert.equal(text(doc), 'seeded');
    await assert.rejects(replicas.create(id, new Uint8Array([0, 0])), /already has a document/);
    await replicas.close();
    const reopened = await FileReplicas.open(dir, 4);
    assert.ok(reopened.has(id));
    assert.equal(text(await reopened.get(id)), 'seeded');
    await reopened.close();
  });

  it('a damaged saved document is dropped and the file starts empty', async () => {
    const id = fileIdOf('x');
    await writeFile(path.join(dir, `${id}.ydoc`), Buffer.from([0xff, 0x00, 0x13, 0x37]));
    const replicas = await FileReplicas.open(dir);
    assert.equal(text(await replicas.get(id)), '');
    assert.deepEqual(await readdir(dir), []);
    await replicas.close();
  });

  it('refuses file ids that are not 32 hex digits', async () => {
    const replicas = await FileReplicas.open(dir);
    await assert.rejects(replicas.get('../../etc/passwd'), /bad file id/);
    await replicas.close();
  });
});
