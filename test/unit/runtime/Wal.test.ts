import { strict as assert } from 'node:assert';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Diagnostics } from '../../../src/runtime/Diagnostics';
import {
  RECORD_HEADER_BYTES,
  SNAPSHOT_FILE,
  SNAPSHOT_TMP_FILE,
  Wal,
  WalCorruptError,
  crc32,
  encodeRecord,
  parseSegment,
  segmentFileName,
  type WalEntry,
  type WalRecord,
} from '../../../src/runtime/Wal';
import { fakeClock as createFakeClock } from '../support/fakeClock';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tw-wal-'));
  dirs.push(dir);
  return dir;
}

function update(n: number): WalEntry {
  return { type: 'yjs-update', version: n, update: new Uint8Array([n & 0xff, 1, 2, 3, 4]) };
}

/** Byte offsets where each record of a segment starts, plus the end. */
function boundaries(buf: Buffer): number[] {
  const out = [0];
  let pos = 0;
  while (pos < buf.length) {
    pos += RECORD_HEADER_BYTES + buf.readUInt32LE(pos);
    out.push(pos);
  }
  return out;
}

async function writeLog(
  dir: string,
  entries: WalEntry[],
  diagnostics?: Diagnostics,
): Promise<void> {
  const wal = await Wal.open({
    dir,
    diagnostics: diagnostics ?? new Diagnostics({ clock: createFakeClock(1_000).clock }),
  });
  wal.takeReplay();
  wal.append(entries);
  await wal.commit();
  await wal.close();
}

async function reopen(dir: string, diagnostics?: Diagnostics): Promise<readonly WalRecord[]> {
  const wal = await Wal.open({
    dir,
    diagnostics: diagnostics ?? new Diagnostics({ clock: createFakeClock(1_000).clock }),
  });
  const replay = wal.takeReplay();
  await wal.close();
  return replay.records;
}

describe('Wal', () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('crc32 matches the IEEE check value', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });

  it('round-trips every record type, with peer origins and Uint8Array fields in intents', async () => {
    const dir = tempDir();
    const entries: WalEntry[] = [
      { type: 'yjs-update', version: 1, update: new Uint8Array([1, 2, 3]) },
      { type: 'yjs-update', version: 2, update: new Uint8Array([4, 5]), peerId: 'peer-ü' },
      {
        type: 'local-intent',
        version: 3,
        now: 1234,
        queued: {
          intent: { type: 'RemoteUpdateReceived', peerId: 'p', update: new Uint8Array([9, 8, 7]) },
          source: 'PeerSync',
          queuedAt: 1200,
          seq: 7,
        },
      },
      {
        // The binary form (empty update).
        type: 'local-intent',
        version: 3,
        now: 1234,
        queued: {
          intent: { type: 'RemoteUpdateReceived', peerId: 'péer-2', update: new Uint8Array(0) },
          source: 'PeerSync',
          queuedAt: 1201.5,
          seq: 2 ** 40,
        },
      },
      {
        type: 'local-intent',
        version: 4,
        now: 1300,
        queued: {
          intent: { type: 'PeerWentOffline', peerId: 'p', reason: 'timeout' },
          source: 'PeerSync',
          queuedAt: 1250,
          seq: 8,
        },
      },
    ];
    await writeLog(dir, entries);
    assert.deepEqual(await reopen(dir), entries);
  });

  it('coalesces commits made during an in-flight fsync into one group', async () => {
    const dir = tempDir();
    const wal = await Wal.open({
      dir,
      diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }),
    });
    wal.takeReplay();
    wal.append([update(0)]);
    const commits = [wal.commit()];
    for (let i = 1; i <= 10; i++) {
      wal.append([update(i)]);
      commits.push(wal.commit());
    }
    await Promise.all(commits);
    assert.equal(wal.stats.groupCommits, 2);
    assert.equal(wal.stats.fsyncs, 2);
    assert.equal(wal.stats.recordsCommitted, 11);
    await wal.commit(); // nothing pending: resolves without another fsync
    assert.equal(wal.stats.fsyncs, 2);
    await wal.close();
    assert.equal((await reopen(dir)).length, 11);
  });

  it('drops a torn final record at every cut offset, truncates the file and warns', async () => {
    const base = tempDir();
    await writeLog(base, [update(1), update(2), update(3)]);
    const file = segmentFileName(1);
    const full = readFileSync(path.join(base, file));
    const [, , lastStart, end] = boundaries(full);
    assert.ok(lastStart !== undefined && end === full.length);
    for (let cut = lastStart; cut < end; cut++) {
      const dir = tempDir();
      cpSync(base, dir, { recursive: true });
      writeFileSync(path.join(dir, file), full.subarray(0, cut));
      const diagnostics = new Diagnostics({ clock: createFakeClock(1_000).clock });
      const records = await reopen(dir, diagnostics);
      assert.deepEqual(records, [update(1), update(2)], `cut at ${cut}`);
      assert.equal(readFileSync(path.join(dir, file)).length, lastStart);
      const torn = diagnostics.recent().filter((e) => e.channel === 'engine.wal.torn_tail');
      assert.equal(torn.length, cut === lastStart ? 0 : 1, `cut at ${cut}`);
    }
  });

  it('treats a bad checksum in the last record, or a zero-filled tail, as torn', async () => {
    const dir = tempDir();
    await writeLog(dir, [update(1), update(2)]);
    const file = path.join(dir, segmentFileName(1));
    const buf = readFileSync(file);
    const [, secondStart] = boundaries(buf);
    buf[buf.length - 1] = (buf[buf.length - 1] ?? 0) ^ 0x40;
    writeFileSync(file, Buffer.concat([buf, Buffer.alloc(64)]));
    const diagnostics = new Diagnostics({ clock: createFakeClock(1_000).clock });
    assert.deepEqual(await reopen(dir, diagnostics), [update(1)]);
    assert.equal(readFileSync(file).length, secondStart);
    assert.match(
      diagnostics.recent().find((e) => e.channel === 'engine.wal.torn_tail')?.message ?? '',
      /bad checksum/,
    );
  });

  it('a flipped byte in an earlier record is a hard error naming the position', async () => {
    const base = tempDir();
    await writeLog(base, [update(1), update(2), update(3), update(4)]);
    const file = segmentFileName(1);
    const full = readFileSync(path.join(base, file));
    const [, second, third] = boundaries(full);
    assert.ok(second !== undefined && third !== undefined);
    // Every byte of record #1 (header included): never silently dropped.
    for (let at = second; at < third; at++) {
      const dir = tempDir();
      cpSync(base, dir, { recursive: true });
      const bad = Buffer.from(full);
      bad[at] = (bad[at] ?? 0) ^ 0x81;
      writeFileSync(path.join(dir, file), bad);
      const diagnostics = new Diagnostics({ clock: createFakeClock(1_000).clock });
      await assert.rejects(
        Wal.open({ dir, diagnostics }),
        (e: unknown) =>
          e instanceof WalCorruptError &&
          e.code === 'internal' &&
          e.position === second &&
          e.recordIndex === 1 &&
          e.message.includes(`at byte ${second} (record #1)`),
        `flip at ${at}`,
      );
      assert.equal(
        diagnostics.recent().filter((e) => e.channel === 'engine.wal.corrupt').length,
        1,
      );
      // The file is left alone for inspection.
      assert.deepEqual(readFileSync(path.join(dir, file)), bad);
    }
  });

  it('a garbage length cannot allocate past the frame cap', () => {
    const good = encodeRecord(update(1));
    const huge = Buffer.from(good);
    huge.writeUInt32LE(0xfffffff0, 0);
    // As the last record: torn. Followed by a valid record: corrupt.
    assert.equal(
      parseSegment(Buffer.concat([good, huge]), 'f', true, 1024).torn?.reason.includes('cap'),
      true,
    );
    assert.throws(
      () => parseSegment(Buffer.concat([huge, good]), 'f', true, 1024),
      (e: unknown) => e instanceof WalCorruptError && e.position === 0 && /cap/.test(e.message),
    );
  });

  it('refuses to append a record over the cap', async () => {
    const dir = tempDir();
    const wal = await Wal.open({
      dir,
      diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }),
      maxRecordBytes: 64,
    });
    wal.takeReplay();
    assert.throws(
      () => {
        wal.append([{ type: 'yjs-update', version: 1, update: new Uint8Array(100) }]);
      },
      (e: unknown) => e instanceof Error && /cap/.test(e.message),
    );
    await wal.close();
  });

  it('a bad record in a segment that is not the last is corruption', async () => {
    const dir = tempDir();
    const diagnostics = new Diagnostics({ clock: createFakeClock(1_000).clock });
    const wal = await Wal.open({ dir, diagnostics });
    wal.takeReplay();
    wal.append([update(1), update(2)]);
    await wal.compact({ version: 2, localState: {}, ydoc: new Uint8Array([0, 0]) });
    wal.append([update(3)]);
    await wal.close();
    // Put back a torn segment 1 below the snapshot: stale, deleted, never read.
    writeFileSync(path.join(dir, segmentFileName(1)), Buffer.from([1, 2, 3]));
    assert.deepEqual(
      (await reopen(dir)).filter((r) => r.type !== 'snapshot-marker'),
      [update(3)],
    );
    assert.equal(existsSync(path.join(dir, segmentFileName(1))), false);
    // A torn segment 2 followed by segment 3 is corruption.
    writeFileSync(path.join(dir, segmentFileName(3)), encodeRecord(update(9)));
    const seg2 = path.join(dir, segmentFileName(2));
    writeFileSync(seg2, readFileSync(seg2).subarray(0, -2));
    await assert.rejects(
      Wal.open({ dir, diagnostics }),
      (e: unknown) => e instanceof WalCorruptError && /not the last segment/.test(e.message),
    );
  });

  it('compaction writes a snapshot, starts a new segment and deletes the old one', async () => {
    const dir = tempDir();
    const diagnostics = new Diagnostics({ clock: createFakeClock(1_000).clock });
    const wal = await Wal.open({ dir, diagnostics, compactThresholdBytes: 100 });
    wal.takeReplay();
    wal.append([update(1), update(2), update(3), update(4), update(5)]);
    assert.equal(wal.shouldCompact(), true);
    const compaction = wal.compact({
      version: 5,
      localState: { hello: 'world' },
      ydoc: new Uint8Array([7, 7]),
    });
    assert.equal(wal.shouldCompact(), false);
    wal.append([update(6)]); // goes to the new segment
    await Promise.all([compaction, wal.commit()]);
    await wal.close();
    assert.deepEqual(readdirSync(dir).sort(), [SNAPSHOT_FILE, segmentFileName(2)]);
    assert.equal(
      diagnostics.recent().filter((e) => e.channel === 'engine.wal.compacted').length,
      1,
    );
    const again = await Wal.open({ dir, diagnostics });
    const replay = again.takeReplay();
    await again.close();
    assert.deepEqual(replay.snapshot, {
      version: 5,
      localState: { hello: 'world' },
      ydoc: new Uint8Array([7, 7]),
    });
    assert.deepEqual(replay.records, [
      { type: 'snapshot-marker', segment: 2, version: 5 },
      update(6),
    ]);
  });

  it('recovers from a crash at each step of compaction', async () => {
    const before = tempDir();
    await writeLog(before, [update(1), update(2)]);
    const after = tempDir();
    cpSync(before, after, { recursive: true });
    const wal = await Wal.open({
      dir: after,
      diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }),
    });
    wal.takeReplay();
    await wal.compact({ version: 2, localState: null, ydoc: new Uint8Array([1]) });
    await wal.close();

    // Crash after step 2 (new segment with its marker exists, snapshot not renamed yet), with a
    // half-written snapshot.tmp lying around.
    const step2 = tempDir();
    cpSync(before, step2, { recursive: true });
    writeFileSync(
      path.join(step2, segmentFileName(2)),
      encodeRecord({ type: 'snapshot-marker', segment: 2, version: 2 }),
    );
    writeFileSync(path.join(step2, SNAPSHOT_TMP_FILE), Buffer.from('partial'));
    const r2 = await reopen(step2);
    assert.deepEqual(
      r2.filter((r) => r.type !== 'snapshot-marker'),
      [update(1), update(2)],
    );
    assert.equal(existsSync(path.join(step2, SNAPSHOT_TMP_FILE)), false);

    // Crash after step 3 (snapshot renamed, old segment not deleted yet).
    const step3 = tempDir();
    cpSync(after, step3, { recursive: true });
    cpSync(path.join(before, segmentFileName(1)), path.join(step3, segmentFileName(1)));
    const w3 = await Wal.open({
      dir: step3,
      diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }),
    });
    const r3 = w3.takeReplay();
    await w3.close();
    assert.deepEqual(r3.snapshot?.ydoc, new Uint8Array([1]));
    assert.deepEqual(r3.records, [{ type: 'snapshot-marker', segment: 2, version: 2 }]);
    assert.equal(existsSync(path.join(step3, segmentFileName(1))), false);
  });

  it('a damaged snapshot or a missing segment is a hard error', async () => {
    const dir = tempDir();
    const wal = await Wal.open({
      dir,
      diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }),
    });
    wal.takeReplay();
    wal.append([update(1)]);
    await wal.compact({ version: 1, localState: { a: 1 }, ydoc: new Uint8Array([5, 5, 5]) });
    await wal.close();
    const snap = path.join(dir, SNAPSHOT_FILE);
    const good = readFileSync(snap);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    writeFileSync(snap, bad);
    await assert.rejects(
      Wal.open({ dir, diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }) }),
      (e: unknown) => e instanceof WalCorruptError && /snapshot bad checksum/.test(e.message),
    );
    writeFileSync(snap, good);
    writeFileSync(path.join(dir, segmentFileName(4)), encodeRecord(update(4)));
    await assert.rejects(
      Wal.open({ dir, diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }) }),
      (e: unknown) => e instanceof WalCorruptError && /segment missing/.test(e.message),
    );
  });

  it('an I/O failure is fatal: compaction and later commits reject', async () => {
    const dir = tempDir();
    const wal = await Wal.open({
      dir,
      diagnostics: new Diagnostics({ clock: createFakeClock(1_000).clock }),
    });
    wal.takeReplay();
    // Segment 2 already exists, so creating it during compaction fails.
    writeFileSync(path.join(dir, segmentFileName(2)), Buffer.alloc(0));
    wal.append([update(1)]);
    await assert.rejects(
      wal.compact({ version: 1, localState: null, ydoc: new Uint8Array(1) }),
      /EEXIST/,
    );
    wal.append([update(2)]);
    await assert.rejects(wal.commit(), /EEXIST/);
    await wal.close();
    // What was committed before the failure is intact.
    rmSync(path.join(dir, segmentFileName(2)));
    assert.deepEqual(await reopen(dir), [update(1)]);
  });
});
