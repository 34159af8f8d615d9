/**
 * FolderSync between devices in one process (test/unit/sync/files/folderSyncHarness.ts): real
 * folders, real state dirs, the real codec for file messages, an index Y.Doc per device standing
 * in for the Engine. Covers the initial sync, concurrent edits (text merges, binary conflict
 * copies, create/create seeds, delete vs edit), encodings byte for byte, hostile peers (index
 * entries with unsafe paths, bad blob chunks, bad updates), restarts and echo suppression, and
 * unsaved editor buffers.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import * as Y from 'yjs';
import { createFileDoc, seedTextFileDoc } from '../../../../src/core/files/fileDoc';
import { BLOB_CHUNK_BYTES, type FolderSyncHandler } from '../../../../src/sync/files/FolderSync';
import { fileIdOf } from '../../../../src/sync/files/FileReplicas';
import type { FileMessage } from '../../../../src/sync/session/syncMessages';
import {
  FileSyncMesh,
  readTree,
  waitUntil,
  type HarnessDevice,
  type RawPeer,
} from './folderSyncHarness';

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic binary content (NUL bytes early, so it is never taken for text). */
function blob(size: number, salt = 0): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7919 + salt * 31) % 251;
  return out;
}

function hexOf(map: Map<string, Buffer | 'dir'>): Map<string, string> {
  return new Map([...map].map(([k, v]) => [k, v === 'dir' ? 'dir' : sha256(v)]));
}

/** What two devices hold, for failure messages. */
function dump(...devices: HarnessDevice[]): string {
  return devices
    .map((d) => {
      const files = [...readTreeSync(d.folder)].join(', ');
      const index = JSON.stringify(d.doc.getMap('files').toJSON());
      const diags = d.diagnostics
        .recent()
        .filter((e) => e.channel !== 'files.sync.started')
        .map((e) => `${e.channel}: ${e.message}`)
        .join(' | ');
      let status: string;
      try {
        status = JSON.stringify(d.sync?.status());
      } catch (error) {
        status = `status() threw: ${String(error)}`;
      }
      const health = `running ${d.isRunning}, run error: ${String(d.runError)}`;
      return `\n[${d.id}] files: ${files}\n  index: ${index}\n  diagnostics: ${diags}\n  status: ${status}\n  ${health}`;
    })
    .join('');
}

function readTreeSync(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(nodePath.join(root, dir), { withFileTypes: true })) {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(`${rel}/`, ...readTreeSync(root, rel));
    else out.push(`${rel}=${sha256(readFileSync(nodePath.join(root, rel))).slice(0, 8)}`);
  }
  return out;
}

const lines = (n: number): string =>
  Array.from({ length: n }, (_, i) => `line ${i}`).join('\n') + '\n';

describe('FolderSync between devices (in-process harness)', function () {
  this.timeout(15_000);
  let mesh: FileSyncMesh;

  beforeEach(async () => {
    mesh = await FileSyncMesh.create();
  });

  afterEach(async () => {
    await mesh.dispose();
  });

  /** Two running devices that hold the same files. */
  /**
   * Two running devices that hold the same files. `indexWinner` fixes the Yjs client ids of the
   * index docs so that device's entry wins a concurrent write to one path (Y.Map: the larger
   * client id wins), making both outcomes of a concurrent change testable.
   */
  async function pair(
    files: Record<string, string | Uint8Array> = {},
    indexWinner?: 'device-a' | 'device-b',
  ): Promise<[HarnessDevice, HarnessDevice]> {
    const a = mesh.addDevice('device-a');
    const b = mesh.addDevice('device-b');
    if (indexWinner !== undefined) {
      a.doc.clientID = indexWinner === 'device-a' ? 2002 : 1001;
      b.doc.clientID = indexWinner === 'device-b' ? 2002 : 1001;
    }
    for (const [rel, content] of Object.entries(files)) {
      const file = nodePath.join(a.folder, rel);
      await fs.mkdir(nodePath.dirname(file), { recursive: true });
      await fs.writeFile(file, content);
    }
    await a.start();
    await b.start();
    for (const [rel, content] of Object.entries(files)) {
      await waitUntil(
        async () => (await b.read(rel))?.equals(Buffer.from(content)) === true,
        `${rel} on b`,
      );
    }
    await mesh.allIdle();
    return [a, b];
  }

  function assertHealthy(...devices: HarnessDevice[]): void {
    for (const d of devices) {
      assert.equal(d.runError, undefined, `${d.id} run rejected: ${String(d.runError)}`);
      assert.deepEqual(d.handlerErrors, [], `${d.id} handler threw`);
      assert.deepEqual(
        d.diag('files.sync.failed').map((e) => e.message),
        [],
        `${d.id} files.sync.failed`,
      );
      assert.ok(d.isRunning, `${d.id} is running`);
    }
    assert.deepEqual(mesh.encodeErrors, [], 'every file message encodes');
    assert.deepEqual(mesh.deliveryErrors, [], 'every delivery succeeds');
  }

  /**
   * What HostFolderSync's VS Code watcher does for a conflict copy FolderSync just wrote: reports
   * it with notifyChanged. Waits until one of `devices` reports a conflict, then notifies it.
   * (FolderSync queues the copy as a local change but schedules no batch for it: see the test
   * 'a conflict copy is published without a watcher event' below.)
   */
  async function watcherSeesConflictCopy(...devices: HarnessDevice[]): Promise<void> {
    await waitUntil(
      () => devices.some((d) => (d.sync?.status().conflicts.length ?? 0) > 0),
      'a conflict reported',
      10_000,
      () => dump(...devices),
    );
    for (const d of devices) {
      const copies = d.sync?.status().conflicts.map((c) => c.copyPath) ?? [];
      if (copies.length > 0) d.sync?.notifyChanged(copies);
    }
  }

  it('initial sync: text, a binary in several chunks, the exec bit and an empty folder; ignored files stay home', async () => {
    const a = mesh.addDevice('device-a');
    const b = mesh.addDevice('device-b');
    await fs.mkdir(nodePath.join(a.folder, 'src', 'deep'), { recursive: true });
    await fs.mkdir(nodePath.join(a.folder, 'empty'));
    await fs.mkdir(nodePath.join(a.folder, 'node_modules', 'x'), { recursive: true });
    await fs.writeFile(nodePath.join(a.folder, '.gitignore'), 'node_modules/\n*.log\n');
    await fs.writeFile(nodePath.join(a.folder, 'src', 'main.ts'), 'export const a = 1;\n');
    await fs.writeFile(nodePath.join(a.folder, 'src', 'deep', 'note.md'), '# deep\n');
    await fs.writeFile(nodePath.join(a.folder, 'run.sh'), '#!/bin/sh\necho hi\n', {
      mode: 0o755,
    });
    await fs.chmod(nodePath.join(a.folder, 'run.sh'), 0o755);
    const big = blob(1_500_000);
    await fs.writeFile(nodePath.join(a.folder, 'image.bin'), big);
    await fs.writeFile(nodePath.join(a.folder, 'node_modules', 'x', 'index.js'), 'ignored');
    await fs.writeFile(nodePath.join(a.folder, 'debug.log'), 'ignored');

    await a.start();
    await b.start();
    await waitUntil(
      async () => (await b.read('image.bin'))?.equals(big) === true,
      'image.bin on b',
    );
    await mesh.allIdle();

    const expected = hexOf(await a.tree());
    for (const ignored of [
      'node_modules/',
      'node_modules/x/',
      'node_modules/x/index.js',
      'debug.log',
    ]) {
      assert.ok(expected.delete(ignored), `${ignored} was in a's tree`);
    }
    assert.deepEqual(hexOf(await b.tree()), expected);
    assert.equal((await fs.stat(b.abs('run.sh'))).mode & 0o777, 0o755, 'exec bit kept');
    assert.equal((await fs.stat(b.abs('src/main.ts'))).mode & 0o111, 0, 'no exec bit');
    assert.ok((await fs.stat(b.abs('empty'))).isDirectory(), 'empty folder synced');

    // Ignored paths never entered the index and were never asked for.
    const published = a.intents.flatMap((i) => (i.type === 'IndexFile' ? [i.path] : []));
    assert.ok(published.includes('image.bin') && published.includes('empty'));
    assert.deepEqual(
      published.filter((p) => p.startsWith('node_modules') || p.endsWith('.log')),
      [],
    );
    assert.equal(b.fileEntry('debug.log'), undefined);
    assert.equal(a.fileEntry('image.bin')?.kind, 'binary');
    assert.equal(a.fileEntry('src/main.ts')?.kind, 'text');
    assert.equal(a.fileEntry('run.sh')?.executable, true);

    // The binary came in chunks of at most BLOB_CHUNK_BYTES, verified, from a.
    const requests = mesh.delivered.filter(
      (m) => m.message.type === 'BlobRequest' && m.message.hash === sha256(big),
    );
    assert.equal(requests.length, Math.ceil(big.length / BLOB_CHUNK_BYTES));
    assert.ok(requests.length >= 2);
    for (const r of requests) {
      assert.equal(r.from, 'device-b');
      assert.ok(r.message.type === 'BlobRequest' && r.message.length <= BLOB_CHUNK_BYTES);
    }
    assert.equal(b.sync?.isInSync(), true);
    assert.equal(b.sync.status().pending, 0);
    // b wrote what it received: it published nothing of its own.
    assert.deepEqual(b.intents, []);
    assertHealthy(a, b);
  });

  for (const mode of ['cut', 'pause'] as const) {
    it(`concurrent text edits on two devices merge, no conflict copy (${mode})`, async () => {
      const base = lines(20);
      const [a, b] = await pair({ 'shared.txt': base });
      if (mode === 'cut') mesh.cut(a.id, b.id);
      else mesh.pause(a.id, b.id);
      await a.write('shared.txt', base.replace('line 2\n', 'line 2 from a\n'));
      await b.write('shared.txt', base.replace('line 15\n', 'line 15 from b\n'));
      await mesh.allIdle();
      // Both published their own version while apart.
      assert.equal(a.fileEntry('shared.txt')?.by, a.id);
      assert.equal(b.fileEntry('shared.txt')?.by, b.id);
      if (mode === 'cut') mesh.heal(a.id, b.id);
      else mesh.resume(a.id, b.id);
      const merged = base
        .replace('line 2\n', 'line 2 from a\n')
        .replace('line 15\n', 'line 15 from b\n');
      await waitUntil(
        async () =>
          (await a.readText('shared.txt')) === merged &&
          (await b.readText('shared.txt')) === merged,
        'merged text on both',
        10_000,
      );
      await mesh.allIdle();
      assert.equal(await a.readText('shared.txt'), merged);
      assert.equal(await b.readText('shared.txt'), merged);
      assert.deepEqual(await a.conflictCopies(), []);
      assert.deepEqual(await b.conflictCopies(), []);
      assert.deepEqual(a.sync?.status().conflicts, []);
      assert.deepEqual(b.sync?.status().conflicts, []);
      // The index converged on the merged content.
      assert.equal(a.fileEntry('shared.txt')?.hash, sha256(merged));
      assert.equal(b.fileEntry('shared.txt')?.hash, sha256(merged));
      assertHealthy(a, b);
    });
  }

  for (const winner of ['device-a', 'device-b'] as const) {
    it(`concurrent binary edits: one conflict copy over both devices, both contents kept, keepCopy puts it back (index: ${winner} wins)`, async () => {
      const [a, b] = await pair({ 'data.bin': Buffer.from([0, 0, 0, 0]) }, winner);
      mesh.cut(a.id, b.id);
      const fromA = Buffer.from([1, 2, 3, 0, 0xaa]);
      const fromB = Buffer.from([9, 8, 7, 0, 0xbb, 0xbb]);
      await a.write('data.bin', fromA);
      await b.write('data.bin', fromB);
      await mesh.allIdle();
      mesh.heal(a.id, b.id);
      await watcherSeesConflictCopy(a, b);

      const settled = async (): Promise<boolean> => {
        const ca = await a.conflictCopies();
        const cb = await b.conflictCopies();
        const da = await a.read('data.bin');
        const db = await b.read('data.bin');
        return (
          ca.length === 1 &&
          cb.length === 1 &&
          da !== undefined &&
          db !== undefined &&
          da.equals(db)
        );
      };
      await waitUntil(settled, 'one conflict copy on both devices', 10_000, () => dump(a, b));
      await mesh.allIdle();
      assert.ok(await settled());

      const [copyPath] = await a.conflictCopies();
      assert.ok(copyPath !== undefined);
      assert.deepEqual(await b.conflictCopies(), [copyPath]);
      assert.match(copyPath, /^data\.twinspace-conflict-[^/]+\.bin$/);
      const current = (await a.read('data.bin'))!;
      const copy = (await a.read(copyPath))!;
      assert.deepEqual((await b.read(copyPath)) ?? Buffer.alloc(0), copy);
      // Both versions survive: one at the path, the other in the copy.
      assert.deepEqual(
        [current, copy].map((x) => x.toString('hex')).sort(),
        [fromA, fromB].map((x) => x.toString('hex')).sort(),
      );
      const conflicts = [
        ...(a.sync?.status().conflicts ?? []),
        ...(b.sync?.status().conflicts ?? []),
      ];
      assert.equal(conflicts.length, 1, JSON.stringify(conflicts));
      const [conflict] = conflicts;
      assert.ok(conflict);
      assert.equal(conflict.path, 'data.bin');
      assert.equal(conflict.copyPath, copyPath);
      assert.equal(conflict.kind, 'binary');
      // The device that kept its version as the copy is the one reporting it.
      const owner = conflict.device === a.id ? a : b;
      assert.equal(owner.sync?.status().conflicts.length, 1);
      assert.deepEqual(copy, conflict.device === a.id ? fromA : fromB);
      assert.ok(owner.diag('files.sync.conflict').length >= 1);

      // keepCopy: the copy's content goes back to the path, the copy is removed, on both devices.
      await owner.sync.resolveConflict(conflict.id, 'keepCopy');
      await waitUntil(
        async () =>
          (await a.read('data.bin'))?.equals(copy) === true &&
          (await b.read('data.bin'))?.equals(copy) === true &&
          !existsSync(a.abs(copyPath)) &&
          !existsSync(b.abs(copyPath)),
        'keepCopy applied on both devices',
      );
      await mesh.allIdle();
      assert.deepEqual(await a.conflictCopies(), []);
      assert.deepEqual(await b.conflictCopies(), []);
      assert.deepEqual(a.sync?.status().conflicts, []);
      assert.deepEqual(b.sync?.status().conflicts, []);
      assert.equal(a.fileEntry('data.bin')?.hash, sha256(copy));
      assert.equal(a.fileEntry(copyPath)?.deleted, true);
      assertHealthy(a, b);
    });
  }

  for (const winner of ['device-a', 'device-b'] as const) {
    // With the seeds of these two contents, one of the two runs has the index entry written by the
    // device whose seed loses: see BUG 2 (fixed) in the comment at the end of this file.
    it(`create/create of one text path apart: both end with the same file and one copy of the other content (index: ${winner} wins)`, async () => {
      const [a, b] = await pair({ 'keep.txt': 'x\n' }, winner);
      mesh.cut(a.id, b.id);
      await a.write('same.txt', 'created on a\n');
      await b.write('same.txt', 'created on b\nwith two lines\n');
      await mesh.allIdle();
      mesh.heal(a.id, b.id);
      await watcherSeesConflictCopy(a, b);
      const settled = async (): Promise<boolean> => {
        const ta = await a.readText('same.txt');
        const tb = await b.readText('same.txt');
        return (
          ta !== undefined &&
          ta === tb &&
          (await a.conflictCopies()).length === 1 &&
          (await b.conflictCopies()).length === 1
        );
      };
      await waitUntil(settled, 'same file and one copy on both', 10_000, () => dump(a, b));
      await mesh.allIdle();
      assert.ok(await settled());
      const [copyPath] = await a.conflictCopies();
      assert.ok(copyPath !== undefined);
      assert.deepEqual(await b.conflictCopies(), [copyPath]);
      const text = await a.readText('same.txt');
      const copy = await a.readText(copyPath);
      assert.equal(await b.readText(copyPath), copy);
      assert.deepEqual(
        [text, copy].sort(),
        ['created on a\n', 'created on b\nwith two lines\n'].sort(),
        'one version at the path, the other in the copy (never both mixed)',
      );
      const conflicts = [
        ...(a.sync?.status().conflicts ?? []),
        ...(b.sync?.status().conflicts ?? []),
      ];
      assert.equal(conflicts.length, 1);
      assert.equal(conflicts[0]?.kind, 'text');
      // The index names what both devices hold (else neither is ever in sync).
      await waitUntil(
        () =>
          a.fileEntry('same.txt')?.hash === sha256(text ?? '') &&
          a.sync?.isInSync() === true &&
          b.sync?.isInSync() === true,
        'the index entry naming the resolved content, both devices in sync',
        5_000,
        () => dump(a, b),
      );
      assertHealthy(a, b);
    });
  }

  it('a first sync of 600 files (index entries in groups, text pulled in windows) arrives whole', async () => {
    const a = mesh.addDevice('device-a');
    const b = mesh.addDevice('device-b');
    for (let d = 0; d < 12; d++) {
      await fs.mkdir(nodePath.join(a.folder, `dir${d}`, 'sub'), { recursive: true });
      for (let f = 0; f < 50; f++) {
        const inner = f % 2 === 0 ? `dir${d}` : `dir${d}/sub`;
        await fs.writeFile(nodePath.join(a.folder, inner, `f${f}.txt`), `file ${d}/${f}\n`);
      }
    }
    await a.start();
    await b.start();
    await waitUntil(
      async () => (await b.tree()).size === (await a.tree()).size,
      'b has every file',
    );
    await mesh.allIdle();
    assert.deepEqual(hexOf(await b.tree()), hexOf(await a.tree()));
    const published = a.intents.filter((i) => i.type === 'IndexFile').length;
    assert.equal(published, 600 + 24, 'one entry per file and folder, each once');
    const status = b.sync?.status();
    assert.equal(status?.files, 600);
    assert.equal(status.pending, 0);
    assert.equal(status.state, 'in-sync');
  });

  it('create/create of one text path with the same content: no copy', async () => {
    const [a, b] = await pair({ 'keep.txt': 'x\n' });
    mesh.cut(a.id, b.id);
    await a.write('same.txt', 'identical\ncontent\n');
    await b.write('same.txt', 'identical\ncontent\n');
    await mesh.allIdle();
    mesh.heal(a.id, b.id);
    await mesh.allIdle();
    assert.equal(await a.readText('same.txt'), 'identical\ncontent\n');
    assert.equal(await b.readText('same.txt'), 'identical\ncontent\n');
    assert.deepEqual(await a.conflictCopies(), []);
    assert.deepEqual(await b.conflictCopies(), []);
    assert.deepEqual(a.sync?.status().conflicts, []);
    assert.deepEqual(b.sync?.status().conflicts, []);
    assertHealthy(a, b);
  });

  for (const kind of ['text', 'binary'] as const) {
    it(`delete vs edit (${kind}): the edit survives on both devices`, async () => {
      const before = kind === 'text' ? 'old text\n' : Buffer.from([0, 1, 2, 3]);
      const edited = kind === 'text' ? 'old text\nedited on b\n' : Buffer.from([0, 9, 9, 9, 9]);
      const [a, b] = await pair({ 'f.dat': before });
      mesh.cut(a.id, b.id);
      await a.remove('f.dat');
      await b.write('f.dat', edited);
      await mesh.allIdle();
      assert.equal(existsSync(a.abs('f.dat')), false);
      mesh.heal(a.id, b.id);
      await waitUntil(
        async () =>
          (await a.read('f.dat'))?.equals(Buffer.from(edited)) === true &&
          (await b.read('f.dat'))?.equals(Buffer.from(edited)) === true,
        'the edit on both devices',
      );
      await mesh.allIdle();
      assert.deepEqual(await a.read('f.dat'), Buffer.from(edited));
      assert.deepEqual(await b.read('f.dat'), Buffer.from(edited));
      assert.equal(a.fileEntry('f.dat')?.deleted, undefined);
      assert.equal(a.fileEntry('f.dat')?.hash, sha256(edited));
      assert.deepEqual(await a.conflictCopies(), []);
      assert.deepEqual(await b.conflictCopies(), []);
      assertHealthy(a, b);
    });
  }

  // BUG 1 (see the comment at the end of this file): fails until FolderSync schedules a batch for
  // the conflict copy it queues as a local change.
  it('a conflict copy is published without a watcher event (watch: false)', async () => {
    const [a, b] = await pair({ 'data.bin': Buffer.from([0, 0, 0, 0]) }, 'device-b');
    mesh.cut(a.id, b.id);
    await a.write('data.bin', Buffer.from([1, 0, 1]));
    await b.write('data.bin', Buffer.from([2, 0, 2]));
    await mesh.allIdle();
    mesh.heal(a.id, b.id);
    // device-b's entry wins the index: device-a keeps its version as the copy.
    await waitUntil(
      () => (a.sync?.status().conflicts.length ?? 0) === 1,
      'the conflict on device-a',
      10_000,
      () => dump(a, b),
    );
    const copyPath = a.sync?.status().conflicts[0]?.copyPath ?? '';
    await waitUntil(
      async () => (await b.read(copyPath))?.equals(Buffer.from([1, 0, 1])) === true,
      `${copyPath} published to device-b (no watcher event, no other change)`,
      5_000,
      () => dump(a, b),
    );
    await mesh.allIdle(5_000);
    assert.equal(a.sync?.isInSync(), true);
    assertHealthy(a, b);
  });

  it('CRLF, BOM and UTF-16LE files round-trip byte for byte, edits included', async () => {
    const utf16 = (text: string): Buffer =>
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const files: Record<string, Buffer> = {
      'crlf.txt': Buffer.from('one\r\ntwo\r\nthree\r\n'),
      'mixed.txt': Buffer.from('lf\ncrlf\r\nlone cr\rend'),
      'bom.txt': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('héllo wörld\n')]),
      'utf16.txt': utf16('hé\r\nwörld ✓\r\n'),
      'no-newline.txt': Buffer.from('no newline at the end'),
    };
    const [a, b] = await pair(files);
    for (const [rel, bytes] of Object.entries(files)) {
      assert.deepEqual(await b.read(rel), bytes, rel);
      assert.equal(a.fileEntry(rel)?.kind, 'text', `${rel} syncs as text`);
    }
    // Edits keep the format on the way back.
    const edited: Record<string, Buffer> = {
      'crlf.txt': Buffer.from('one\r\ntwo edited on b\r\nthree\r\n'),
      'bom.txt': Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('héllo wörld\nmore\n'),
      ]),
      'utf16.txt': utf16('hé\r\nwörld ✓ edited\r\n'),
    };
    for (const [rel, bytes] of Object.entries(edited)) await b.write(rel, bytes);
    for (const [rel, bytes] of Object.entries(edited)) {
      await waitUntil(async () => (await a.read(rel))?.equals(bytes) === true, `${rel} on a`);
    }
    await mesh.allIdle();
    for (const [rel, bytes] of Object.entries({ ...files, ...edited })) {
      assert.deepEqual(await a.read(rel), bytes, `${rel} on a`);
      assert.deepEqual(await b.read(rel), bytes, `${rel} on b`);
    }
    assertHealthy(a, b);
  });

  // ---- hostile peers ----

  /** A raw peer that serves blobs and text documents it holds, and logs what it is asked. */
  function servingPeer(id: string): {
    peer: RawPeer;
    blobs: Map<string, Uint8Array>;
    docs: Map<string, Y.Doc>;
    asked: FileMessage[];
    chunk: (hash: string, offset: number, length: number) => FileMessage | undefined;
  } {
    const peer = mesh.addRawPeer(id);
    const blobs = new Map<string, Uint8Array>();
    const docs = new Map<string, Y.Doc>();
    const asked: FileMessage[] = [];
    const served = {
      peer,
      blobs,
      docs,
      asked,
      chunk: (hash: string, offset: number, length: number): FileMessage | undefined => {
        const bytes = blobs.get(hash);
        if (!bytes) return undefined;
        return {
          type: 'BlobChunk',
          hash,
          offset,
          total: bytes.length,
          bytes: bytes.subarray(offset, offset + length),
        };
      },
    };
    const handler: FolderSyncHandler = {
      onFilePeerUp: () => undefined,
      onFilePeerDown: () => undefined,
      onFileMessage: (from, message) => {
        asked.push(message);
        if (message.type === 'BlobRequest') {
          const reply = served.chunk(message.hash, message.offset, message.length) ?? {
            type: 'BlobMissing',
            hash: message.hash,
          };
          peer.sendFile(from, reply);
        } else if (message.type === 'FileStep1') {
          const doc = docs.get(message.fileId);
          if (doc) {
            peer.sendFile(from, {
              type: 'FileUpdate',
              fileId: message.fileId,
              update: Y.encodeStateAsUpdate(doc, message.stateVector),
            });
          }
        }
      },
    };
    peer.setHandler(handler);
    return served;
  }

  // Without a status listener: with one, the first status change throws (BUG 4, next test).
  it('hostile index entries with unsafe paths write nothing anywhere; the device stays healthy', async () => {
    const mallory = servingPeer('0-mallory');
    const a = mesh.addDevice('device-a', { statusListener: false });
    const b = mesh.addDevice('device-b', { statusListener: false });
    await a.write('keep.txt', 'keep\n');
    await a.start();
    await b.start();
    await waitUntil(async () => (await b.readText('keep.txt')) === 'keep\n', 'keep.txt on b');
    const etcExisted = existsSync('/etc/x');

    const unsafe = [
      '../escape.txt',
      '/etc/x',
      'a/../../x',
      'a\u0000b',
      './dot.txt',
      'a//b',
      '.git/config',
    ];
    const hostileHashes = new Set<string>();
    const hostileIds = new Set<string>();
    unsafe.forEach((p, i) => {
      // Binary: content mallory serves, so a fetch would succeed if one were made.
      const content = Buffer.from(`evil ${i} \u0000 ${p}`);
      mallory.blobs.set(sha256(content), content);
      hostileHashes.add(sha256(content));
      mallory.peer.writeIndexRaw(p, {
        kind: 'binary',
        size: content.length,
        hash: sha256(content),
        base: '',
        by: mallory.peer.id,
        at: 1,
      });
      // Text: a seeded document mallory serves and also pushes unasked.
      const textPath = `${p}.txt`;
      const fileId = fileIdOf(textPath);
      const doc = createFileDoc(fileId);
      const text = `evil text ${i}\n`;
      seedTextFileDoc(doc, { text, encoding: 'utf8', bom: false });
      mallory.docs.set(fileId, doc);
      hostileIds.add(fileId);
      mallory.peer.writeIndexRaw(textPath, {
        kind: 'text',
        size: text.length,
        hash: sha256(text),
        base: '',
        by: mallory.peer.id,
        at: 1,
      });
      for (const to of [a.id, b.id]) {
        mallory.peer.sendFile(to, {
          type: 'FileUpdate',
          fileId,
          update: Y.encodeStateAsUpdate(doc),
        });
      }
    });
    // Malformed values: ignored.
    mallory.peer.writeIndexRaw('bad-size.bin', { kind: 'binary', size: -1, hash: 'x' });
    mallory.peer.writeIndexRaw('bad-kind.bin', { kind: 'symlink', size: 1, hash: 'x' });
    mallory.peer.writeIndexRaw('not-an-object.bin', 42);
    // A sentinel after them: a legitimate file mallory serves. Once it is on both devices, the
    // entries before it were looked at.
    const ok = Buffer.from([0, 1, 2, 3, 4, 5]);
    mallory.blobs.set(sha256(ok), ok);
    mallory.peer.writeIndexRaw('ok.bin', {
      kind: 'binary',
      size: ok.length,
      hash: sha256(ok),
      base: '',
      by: mallory.peer.id,
      at: 1,
    });
    await waitUntil(
      async () =>
        (await a.read('ok.bin'))?.equals(ok) === true &&
        (await b.read('ok.bin'))?.equals(ok) === true,
      'ok.bin on both devices',
      10_000,
      () => dump(a, b),
    );
    await mesh.allIdle();

    for (const d of [a, b]) {
      assert.deepEqual(
        [...(await d.tree()).keys()].sort(),
        ['keep.txt', 'ok.bin'],
        `${d.id} folder`,
      );
      assert.equal(existsSync(nodePath.join(d.folder, '..', 'escape.txt')), false);
      assert.equal(existsSync(nodePath.join(d.folder, '..', 'x')), false);
      assert.equal(existsSync(nodePath.join(d.folder, '..', 'escape.txt.txt')), false);
    }
    if (!etcExisted) assert.equal(existsSync('/etc/x'), false, '/etc/x');
    // Nothing else appeared anywhere in the harness root but the devices' folders and state.
    const all = [...(await readTree(mesh.root)).keys()];
    assert.deepEqual(
      all.filter(
        (p) => !/^device-[ab]\/(folder|state)(\/|$)/.test(p) && !/^device-[ab]\/$/.test(p),
      ),
      [],
    );
    // The unsafe entries were never even fetched.
    const askedHashes = mallory.asked.flatMap((m) => (m.type === 'BlobRequest' ? [m.hash] : []));
    assert.deepEqual(
      askedHashes.filter((h) => hostileHashes.has(h)),
      [],
    );
    assert.ok(askedHashes.includes(sha256(ok)), 'ok.bin was fetched from mallory');
    const askedIds = mallory.asked.flatMap((m) => (m.type === 'FileStep1' ? [m.fileId] : []));
    assert.deepEqual(
      askedIds.filter((id) => hostileIds.has(id)),
      [],
    );
    // Nothing from mallory was echoed into the index by the devices.
    for (const d of [a, b]) {
      const published = d.intents.flatMap((i) => (i.type === 'IndexFile' ? [i.path] : []));
      assert.deepEqual(
        published.filter((p) => p !== 'keep.txt'),
        [],
        `${d.id} published`,
      );
    }
    assertHealthy(a, b);
    // Still syncing normally afterwards.
    await a.write('after.txt', 'after\n');
    await waitUntil(async () => (await b.readText('after.txt')) === 'after\n', 'after.txt on b');
    assertHealthy(a, b);
  });

  // BUG 4 (see the comment at the end of this file): fails until status() and isInSync() skip
  // index paths that are not safe relative paths instead of throwing.
  it('an index entry with an unsafe path neither breaks status() nor stops the worker (status listener on)', async () => {
    const mallory = servingPeer('0-mallory');
    const [a, b] = await pair({ 'keep.txt': 'keep\n' });
    const content = Buffer.from([0, 6, 6, 6]);
    mallory.blobs.set(sha256(content), content);
    mallory.peer.writeIndexRaw('../escape.bin', {
      kind: 'binary',
      size: content.length,
      hash: sha256(content),
      base: '',
      by: mallory.peer.id,
      at: 1,
    });
    mallory.peer.writeIndexRaw('ok.bin', {
      kind: 'binary',
      size: content.length,
      hash: sha256(content),
      base: '',
      by: mallory.peer.id,
      at: 1,
    });
    await waitUntil(
      async () => (await b.read('ok.bin'))?.equals(content) === true || !b.isRunning,
      'ok.bin on b (or b stopped)',
      10_000,
    );
    await mesh.allIdle(5_000).catch(() => undefined);
    for (const d of [a, b]) {
      assert.doesNotThrow(() => d.sync?.status(), `${d.id} status()`);
      assert.doesNotThrow(() => d.sync?.isInSync(), `${d.id} isInSync()`);
      assert.equal(d.sync?.status().files, 2, `${d.id}: keep.txt and ok.bin`);
    }
    assert.deepEqual(await b.read('ok.bin'), content);
    assert.equal(existsSync(nodePath.join(b.folder, '..', 'escape.bin')), false);
    assertHealthy(a, b);
  });

  for (const attack of [
    'wrong total',
    'bytes that fail the hash',
    'a chunk past the end',
  ] as const) {
    it(`a blob chunk with ${attack} is rejected; the fetch then succeeds from another device`, async () => {
      const mallory = servingPeer('0-mallory');
      const a = mesh.addDevice('device-a');
      const b = mesh.addDevice('device-b');
      const big = blob(1_200_000, 3);
      const hash = sha256(big);
      // Mallory answers requests for this blob with something wrong.
      mallory.chunk = (h, offset, length): FileMessage | undefined => {
        if (h !== hash) return undefined;
        const size = Math.min(length, big.length - offset);
        switch (attack) {
          case 'wrong total':
            return {
              type: 'BlobChunk',
              hash,
              offset,
              total: big.length + 10,
              bytes: big.subarray(offset, offset + size),
            };
          case 'bytes that fail the hash':
            return {
              type: 'BlobChunk',
              hash,
              offset,
              total: big.length,
              bytes: Buffer.alloc(size, 0x41),
            };
          case 'a chunk past the end':
            return {
              type: 'BlobChunk',
              hash,
              offset: big.length - 1,
              total: big.length + 1,
              bytes: Buffer.from([1, 2]),
            };
        }
      };
      await a.write('big.bin', big);
      await a.start();
      await b.start();
      await waitUntil(
        async () => (await b.read('big.bin'))?.equals(big) === true,
        'big.bin on b, fetched from device-a after mallory failed',
        10_000,
        () => dump(b),
      );
      await mesh.allIdle();
      // Mallory was asked first (first peer in order), and its answer was rejected.
      assert.ok(
        mallory.asked.some((m) => m.type === 'BlobRequest' && m.hash === hash),
        'mallory was asked',
      );
      const rejected = b.diag('files.sync.rejected');
      assert.ok(rejected.length >= 1, 'a files.sync.rejected diagnostic');
      assert.match(
        rejected.map((e) => e.message).join('\n'),
        attack === 'bytes that fail the hash' ? /failed verification/ : /does not fit/,
      );
      // The right bytes came from device-a.
      assert.ok(
        mesh.delivered.some(
          (m) => m.from === 'device-a' && m.to === 'device-b' && m.message.type === 'BlobChunk',
        ),
      );
      assert.deepEqual([...(await b.tree()).keys()], ['big.bin']);
      assertHealthy(a, b);
    });
  }

  it('unasked blob chunks are ignored: nothing written, nothing fetched, no crash', async () => {
    const mallory = servingPeer('0-mallory');
    const [a, b] = await pair({ 'keep.txt': 'keep\n' });
    const stray = Buffer.from('never asked for');
    for (const to of [a.id, b.id]) {
      mallory.peer.sendFile(to, {
        type: 'BlobChunk',
        hash: sha256(stray),
        offset: 0,
        total: stray.length,
        bytes: stray,
      });
      mallory.peer.sendFile(to, {
        type: 'BlobChunk',
        hash: sha256(stray),
        offset: 5,
        total: 1_000_000,
        bytes: stray,
      });
      mallory.peer.sendFile(to, { type: 'BlobMissing', hash: sha256(stray) });
    }
    await mesh.allIdle();
    for (const d of [a, b]) {
      assert.deepEqual([...(await d.tree()).keys()], ['keep.txt']);
      assert.equal(d.sync?.isInSync(), true);
    }
    assertHealthy(a, b);
    await a.write('after.bin', Buffer.from([0, 7, 7]));
    await waitUntil(
      async () => (await b.read('after.bin'))?.equals(Buffer.from([0, 7, 7])) === true,
      'after.bin on b',
    );
    assertHealthy(a, b);
  });

  it('a FileUpdate with garbage bytes, or a FileStep1 with a garbage state vector, is rejected without a crash', async () => {
    const mallory = servingPeer('0-mallory');
    const [a, b] = await pair({ 'doc.txt': 'text\n' });
    const fileId = fileIdOf('doc.txt');
    mallory.peer.sendFile(b.id, {
      type: 'FileUpdate',
      fileId,
      update: Uint8Array.from([0xff, 0x01, 0x02, 0x03]),
    });
    mallory.peer.sendFile(b.id, {
      type: 'FileUpdate',
      fileId: fileIdOf('unknown.txt'),
      update: Uint8Array.from([9, 9, 9, 9, 9, 9]),
    });
    mallory.peer.sendFile(b.id, {
      type: 'FileStep1',
      fileId,
      stateVector: Uint8Array.from([0xff, 0xff, 0xff]),
    });
    await waitUntil(
      () => b.diag('files.sync.rejected').length >= 3,
      'three rejections on b',
      5_000,
      () => dump(b),
    );
    await mesh.allIdle();
    const messages = b
      .diag('files.sync.rejected')
      .map((e) => e.message)
      .join('\n');
    assert.match(messages, /malformed update for file/);
    assert.match(messages, /bad state vector/);
    assert.ok(b.diag('files.sync.rejected').every((e) => e.data?.['peerId'] === '0-mallory'));
    assert.equal(await b.readText('doc.txt'), 'text\n');
    assertHealthy(a, b);
    // The document still works.
    await a.write('doc.txt', 'text\nmore\n');
    await waitUntil(async () => (await b.readText('doc.txt')) === 'text\nmore\n', 'edit on b');
    assertHealthy(a, b);
  });

  // BUG 3 (see the comment at the end of this file): fails until FolderSync rejects file ids that
  // FileReplicas cannot store instead of letting the error stop the worker.
  it('file messages with a file id the wire allows but FileReplicas refuses are rejected without a crash', async () => {
    const mallory = servingPeer('0-mallory');
    const [a, b] = await pair({ 'doc.txt': 'text\n' });
    // The codec allows 1-64 characters of [A-Za-z0-9_-]; a document id is 32 lowercase hex.
    mallory.peer.sendFile(b.id, {
      type: 'FileUpdate',
      fileId: 'not-a-file-id',
      update: Y.encodeStateAsUpdate(new Y.Doc()),
    });
    mallory.peer.sendFile(b.id, {
      type: 'FileStep1',
      fileId: 'x',
      stateVector: Y.encodeStateVector(new Y.Doc()),
    });
    await mesh.allIdle(5_000);
    assertHealthy(a, b);
    await a.write('doc.txt', 'text\nmore\n');
    await waitUntil(async () => (await b.readText('doc.txt')) === 'text\nmore\n', 'edit on b');
  });

  // ---- restarts and echoes ----

  it('restart: what changed while stopped is published; files the sync wrote are never echoed', async () => {
    const [a, b] = await pair({
      'note.txt': 'note\n',
      'gone.txt': 'gone\n',
      'pic.bin': Buffer.from([0, 1]),
    });
    // Everything b holds came from a: b published nothing.
    assert.equal(b.intents.length, 0);
    await b.stop();
    assert.equal(b.sync?.status().state, 'off');
    await fs.writeFile(b.abs('note.txt'), 'note\nedited while stopped\n');
    await fs.writeFile(b.abs('new.bin'), Buffer.from([0, 9]));
    await fs.rm(b.abs('gone.txt'));
    await b.start();
    await waitUntil(
      async () =>
        (await a.readText('note.txt')) === 'note\nedited while stopped\n' &&
        (await a.read('new.bin'))?.equals(Buffer.from([0, 9])) === true &&
        !existsSync(a.abs('gone.txt')),
      'the offline changes on a',
      10_000,
      () => dump(a, b),
    );
    await mesh.allIdle();
    assert.deepEqual(
      b.intents
        .map((i) =>
          i.type === 'IndexFile' ? `${i.path}${i.deleted === true ? ' (deleted)' : ''}` : i.type,
        )
        .sort(),
      ['gone.txt (deleted)', 'new.bin', 'note.txt'],
    );
    assert.equal(b.indexIntents('pic.bin').length, 0, 'an unchanged file is not republished');

    // A file written by the sync, even when a watcher reports it, is not a local change.
    await a.write('from-a.txt', 'from a\n');
    await a.write('from-a.bin', Buffer.from([0, 3, 3]));
    await waitUntil(
      async () =>
        (await b.readText('from-a.txt')) === 'from a\n' &&
        (await b.read('from-a.bin')) !== undefined,
      'from-a on b',
    );
    b.sync.notifyChanged(['from-a.txt', 'from-a.bin']);
    await mesh.allIdle();
    assert.equal(b.indexIntents('from-a.txt').length, 0);
    assert.equal(b.indexIntents('from-a.bin').length, 0);
    // And not after a restart either.
    await b.stop();
    await b.start();
    await mesh.allIdle();
    assert.equal(b.indexIntents('from-a.txt').length, 0);
    assert.equal(b.indexIntents('from-a.bin').length, 0);
    assert.equal(b.indexIntents('note.txt').length, 1);
    assert.equal(b.sync.isInSync(), true);
    assertHealthy(a, b);
  });

  it('with the real folder watcher, files the sync wrote are not echoed back', async () => {
    const a = mesh.addDevice('device-a', { watch: true });
    const b = mesh.addDevice('device-b', { watch: true });
    await a.start();
    await b.start();
    await fs.writeFile(a.abs('w.txt'), 'watched\n');
    await fs.writeFile(a.abs('w.bin'), Buffer.from([0, 4, 4]));
    await waitUntil(
      async () =>
        (await b.readText('w.txt')) === 'watched\n' && (await b.read('w.bin')) !== undefined,
      'the watched files on b (a’s watcher saw them)',
    );
    // Give b's watcher time to report its own writes, then check nothing was published.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await mesh.allIdle();
    assert.equal(b.indexIntents('w.txt').length, 0);
    assert.equal(b.indexIntents('w.bin').length, 0);
    // An edit on b goes the other way.
    await fs.writeFile(b.abs('w.txt'), 'watched\nedited on b\n');
    await waitUntil(
      async () => (await a.readText('w.txt')) === 'watched\nedited on b\n',
      'edit on a',
    );
    assertHealthy(a, b);
  });

  it('bufferChanged on one device reaches the other device’s file (the dirty buffer’s own file is not written)', async () => {
    const pushed: { path: string; content: string }[] = [];
    const a = mesh.addDevice('device-a', {
      dirtyPaths: () => new Set(['buf.txt']),
      applyToBuffer: (path, content) => {
        pushed.push({ path, content: Buffer.from(content).toString('utf8') });
        return Promise.resolve(true);
      },
    });
    const b = mesh.addDevice('device-b');
    await a.write('buf.txt', 'line one\nline two\n');
    await a.start();
    await b.start();
    await waitUntil(
      async () => (await b.readText('buf.txt')) === 'line one\nline two\n',
      'buf.txt on b',
    );
    await mesh.allIdle();

    a.sync?.bufferChanged('buf.txt', 'line one\nline two typed\n');
    await waitUntil(
      async () => (await b.readText('buf.txt')) === 'line one\nline two typed\n',
      'the unsaved text in b’s file',
      10_000,
      () => dump(a, b),
    );
    a.sync?.bufferChanged('buf.txt', 'line zero\nline one\nline two typed\n');
    await waitUntil(
      async () => (await b.readText('buf.txt')) === 'line zero\nline one\nline two typed\n',
      'the second buffer change in b’s file',
    );
    await mesh.allIdle();
    // a's disk still has what was saved: its editor is dirty.
    assert.equal(await a.readText('buf.txt'), 'line one\nline two\n');
    // Reverting the buffer (back to the saved text) un-types the edits on b too.
    a.sync?.bufferChanged('buf.txt', 'line one\nline two\n');
    await waitUntil(
      async () => (await b.readText('buf.txt')) === 'line one\nline two\n',
      'the reverted text in b’s file',
      10_000,
      () => dump(a, b),
    );
    await mesh.allIdle();
    // Whatever came back to a went to the buffer, and it is text the buffer itself held (the
    // buffer's own edits are in it: nothing typed is undone).
    const typed = ['line one\nline two typed\n', 'line zero\nline one\nline two typed\n'];
    for (const p of pushed) {
      assert.equal(p.path, 'buf.txt');
      assert.ok(typed.includes(p.content), `applyToBuffer got ${JSON.stringify(p.content)}`);
    }
    assert.ok(
      a.diag('files.sync.rejected').some((e) => /buf\.txt halted: dirty_editor/.test(e.message)) ||
        pushed.length === 0,
      'a write over the dirty editor was halted',
    );
    assertHealthy(a, b);
  });
});

/*
 * Bugs these tests found in src/sync/files/FolderSync.ts (reported to the lead; the tests named
 * here fail until they are fixed):
 *
 * BUG 1 — 'a conflict copy is published without a watcher event (watch: false)'.
 *   applyChanges() handles a completed conflictCopy with `this.localPaths.add(action.copyPath)`
 *   (and a halted write with `this.localPaths.add(action.path)`) but schedules nothing: it runs
 *   inside runBatch() after processLocal(), so the path waits until some unrelated event calls
 *   schedule(). Meanwhile the copy is not in the index (the other device never gets it),
 *   hasWork() stays true, whenIdle() never resolves and the state stays 'syncing'. The CLI and the
 *   host only get away with it because their watchers report the copy as a new file.
 *   Fix: call `this.schedule()` after adding to localPaths in applyChanges (or run
 *   processLocal() again at the end of runBatch() when localPaths is not empty).
 *
 * BUG 2 — 'create/create of one text path apart ... (index: device-b wins)' (FIXED by the lead in
 *   3e8ff6e while these tests were written; the test stays as the regression test). Two devices
 *   create one text path with different content while partitioned; when the index entry that
 *   wins is the one of the device whose seed loses, (a) that device's document matched the index,
 *   so it never asked for the other document and never learnt the other seed (both devices kept
 *   their own content forever, no conflict reported), and (b) once it did resolve, the merged
 *   content was written but not republished, so the index kept naming the losing content and
 *   neither device was ever in sync (pending 1). Fixed by answering FileStep1 with a FileStep1
 *   back when the asker holds clocks this device lacks, and by publishing after resolveSeeds().
 *
 * BUG 3 — 'file messages with a file id the wire allows but FileReplicas refuses ...'.
 *   The codec accepts a file id of 1-64 characters of [A-Za-z0-9_-] (syncMessages.ts isFileId);
 *   FileReplicas.fileFor() throws 'bad file id' for anything but 32 lowercase hex characters. A
 *   peer's FileUpdate (valid Yjs update) or FileStep1 with such an id makes replicas.get()/has()
 *   throw inside the serial chain: enqueueDetached() emits files.sync.failed and calls fatal(),
 *   so run() rejects and the worker restarts; repeated, it is marked failed (a remote peer can
 *   stop the file sync). Fix: in onFileMessage, reject (this.reject(...)) FileStep1/FileUpdate
 *   whose fileId is not /^[0-9a-f]{32}$/ before enqueueing.
 *
 * BUG 4 — 'an index entry with an unsafe path neither breaks status() nor stops the worker ...'.
 *   status() and isInSync() call this.isIgnored(p) for every index path without checking
 *   isSafeRelativePath(p) first (reconcile() does check it); IgnoreRules.check() throws
 *   TwinspaceError 'not a folder-relative path: ../escape.bin'. With an onStatus listener (the
 *   host and the CLI both set one), the next setState() inside runBatch() calls status(), the
 *   task rejects, enqueueDetached() emits files.sync.failed and fatal() makes run() reject. The
 *   entry stays in the index, so every restart fails the same way: one index entry written by
 *   any peer (or a bug) stops file sync on every device. The host's status polls throw too.
 *   Fix: in status() and isInSync(), skip paths with `!isSafeRelativePath(p)` before
 *   `this.isIgnored(p)` (or make FolderSync.isIgnored() return true for unsafe paths).
 *
 * Notes (not failures): an unasked or late BlobChunk is ignored silently (no
 * files.sync.rejected), by design per receiveChunk's comment; concurrentSeeds() sorts seed ids as
 * strings, so the "larger seed id" of docs/protocol.md is the lexicographically larger one.
 */
