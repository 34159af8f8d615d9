/**
 * The file messages of protocol version 3 (FileStep1, FileUpdate, BlobRequest, BlobChunk,
 * BlobMissing): the codec (round trips, every cap at and one past its limit, truncation, hash
 * encoding) and their routing between two SyncWorkers (both ways, peer up/down, version 2 peers
 * excluded, read-only grants, throwing handlers, malformed messages, back-pressure).
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import * as Y from 'yjs';
import { handshake } from '../../../../src/sync/channel/handshake';
import type { SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import {
  DEFAULT_MAX_STEP2_BYTES,
  FILES_MIN_PROTOCOL_VERSION,
  MAX_BLOB_CHUNK_BYTES,
  MAX_BLOB_OFFSET,
  MAX_STATE_VECTOR_BYTES,
  SyncMessageError,
  SyncMessageType,
  decodeSyncMessage,
  encodeFileMessage,
  encodeSyncStep1,
  isBlobHash,
  isFileId,
  isFileMessage,
  type FileMessage,
  type SyncMessageErrorReason,
} from '../../../../src/sync/session/syncMessages';
import type { FileMessageHandler } from '../../../../src/sync/SyncWorker';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import { channelEvents, MemoryNetwork, waitFor, type Node } from './syncHarness';

const HASH = 'ab'.repeat(32);
const HASH_BYTES = new Uint8Array(32).fill(0xab);

function yjsUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('content').insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

function rejects(bytes: Uint8Array, reason: SyncMessageErrorReason, limits = {}): void {
  assert.throws(
    () => decodeSyncMessage(bytes, limits),
    (error: unknown) => error instanceof SyncMessageError && error.reason === reason,
  );
}

function u64(v: bigint): number[] {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return [...out];
}

function u32(v: number): number[] {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v);
  return [...out];
}

/** A comparable copy: a plain object whose byte fields are plain Uint8Arrays (not Buffers). */
function plain(message: FileMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    out[key] = value instanceof Uint8Array ? Uint8Array.from(value) : value;
  }
  return out;
}

/** Hand-built message bytes: version 1, `type`, then `body`. */
function raw(type: number, ...body: (number[] | Uint8Array)[]): Uint8Array {
  return Uint8Array.from([1, type, ...body.flatMap((b) => [...b])]);
}

class Recorder2 implements FileMessageHandler {
  count = 0;
  onFileMessage(): void {
    this.count += 1;
  }
  onFilePeerUp(): void {
    // counted through messages only
  }
  onFilePeerDown(): void {
    // counted through messages only
  }
}

const samples: readonly FileMessage[] = [
  { type: 'FileStep1', fileId: 'file_1-A', stateVector: Y.encodeStateVector(new Y.Doc()) },
  { type: 'FileStep1', fileId: 'f', stateVector: new Uint8Array([1, 200, 1, 5]) },
  { type: 'FileUpdate', fileId: 'z'.repeat(64), update: yjsUpdate('hello') },
  { type: 'BlobRequest', hash: HASH, offset: 0, length: 1 },
  { type: 'BlobRequest', hash: '0123456789abcdef'.repeat(4), offset: 2 ** 33 + 7, length: 4096 },
  { type: 'BlobChunk', hash: HASH, offset: 0, total: 0, bytes: new Uint8Array(0) },
  {
    type: 'BlobChunk',
    hash: 'f0'.repeat(32),
    offset: MAX_BLOB_OFFSET - 3,
    total: MAX_BLOB_OFFSET,
    bytes: new Uint8Array([1, 2, 3]),
  },
  { type: 'BlobMissing', hash: HASH },
];

describe('file messages (protocol version 3)', () => {
  describe('codec', () => {
    it('round-trips every type, with types 9 to 13 and sync message version 1', () => {
      const expectedType = {
        FileStep1: 9,
        FileUpdate: 10,
        BlobRequest: 11,
        BlobChunk: 12,
        BlobMissing: 13,
      } as const;
      for (const message of samples) {
        const bytes = encodeFileMessage(message);
        assert.equal(bytes[0], 1);
        assert.equal(bytes[1], expectedType[message.type]);
        assert.equal(SyncMessageType[message.type], expectedType[message.type]);
        const decoded = decodeSyncMessage(bytes);
        assert.deepEqual(decoded, message);
        assert.ok(isFileMessage(decoded));
        assert.deepEqual(encodeFileMessage(decoded), bytes);
      }
      assert.equal(FILES_MIN_PROTOCOL_VERSION, 3);
      assert.equal(MAX_BLOB_CHUNK_BYTES, 1024 * 1024);
      assert.equal(isFileMessage({ type: 'Ping', nonce: 1 }), false);
    });

    it('lays the fields out as documented (hash as 32 raw bytes, u64 offsets)', () => {
      assert.deepEqual(
        encodeFileMessage({ type: 'FileStep1', fileId: 'ab', stateVector: new Uint8Array([7]) }),
        raw(9, [2, 0x61, 0x62], u32(1), [7]),
      );
      assert.deepEqual(
        encodeFileMessage({ type: 'FileUpdate', fileId: 'x', update: new Uint8Array([0, 0]) }),
        raw(10, [1, 0x78], u32(2), [0, 0]),
      );
      assert.deepEqual(
        encodeFileMessage({ type: 'BlobRequest', hash: HASH, offset: 2 ** 32 + 5, length: 9 }),
        raw(11, HASH_BYTES, u64(2n ** 32n + 5n), u32(9)),
      );
      assert.deepEqual(
        encodeFileMessage({
          type: 'BlobChunk',
          hash: HASH,
          offset: 1,
          total: 3,
          bytes: new Uint8Array([4, 5]),
        }),
        raw(12, HASH_BYTES, u64(1n), u64(3n), u32(2), [4, 5]),
      );
      const missing = encodeFileMessage({ type: 'BlobMissing', hash: '00ff'.repeat(16) });
      assert.equal(missing.length, 2 + 32);
      assert.deepEqual([...missing.subarray(2, 6)], [0x00, 0xff, 0x00, 0xff]);
      const decoded = decodeSyncMessage(missing);
      assert.equal(decoded.type === 'BlobMissing' && decoded.hash, '00ff'.repeat(16));
    });

    it('file ids: 1 to 64 of [A-Za-z0-9_-]; anything else fails to encode and to decode', () => {
      const at = 'a'.repeat(64);
      assert.ok(isFileId(at) && isFileId('A-z_9'));
      const okBytes = encodeFileMessage({ type: 'BlobMissing', hash: HASH }); // control
      assert.ok(okBytes.length > 0);
      assert.doesNotThrow(() =>
        decodeSyncMessage(
          encodeFileMessage({ type: 'FileStep1', fileId: at, stateVector: new Uint8Array(0) }),
        ),
      );
      for (const bad of ['', 'a'.repeat(65), 'a/b', 'a.b', 'é', 'a b', '..']) {
        assert.equal(isFileId(bad), false, bad);
        assert.throws(
          () =>
            encodeFileMessage({ type: 'FileStep1', fileId: bad, stateVector: new Uint8Array(0) }),
          RangeError,
        );
      }
      rejects(raw(9, [65], new Uint8Array(65).fill(0x61), u32(0)), 'oversize');
      rejects(raw(9, [0], u32(0)), 'malformed');
      rejects(raw(9, [3, 0x61, 0x2f, 0x62], u32(0)), 'malformed'); // "a/b"
      rejects(raw(10, [2, 0xc3, 0xa9], u32(1), [0]), 'malformed'); // "é"
      assert.doesNotThrow(() => decodeSyncMessage(raw(9, [3, 0x61, 0x2d, 0x62], u32(0))));
    });

    it('hashes: exactly 64 lowercase hex characters', () => {
      assert.ok(isBlobHash(HASH));
      for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33), 'g'.repeat(64), '']) {
        assert.equal(isBlobHash(bad), false, bad);
        assert.throws(() => encodeFileMessage({ type: 'BlobMissing', hash: bad }), RangeError);
      }
      rejects(raw(13, new Uint8Array(31)), 'malformed');
      rejects(raw(13, new Uint8Array(33)), 'malformed');
    });

    it('state vector: at MAX_STATE_VECTOR_BYTES passes, one more is oversize', () => {
      const at = new Uint8Array(MAX_STATE_VECTOR_BYTES);
      const bytes = encodeFileMessage({ type: 'FileStep1', fileId: 'f', stateVector: at });
      const decoded = decodeSyncMessage(bytes);
      assert.equal(decoded.type === 'FileStep1' && decoded.stateVector.length, at.length);
      const over = new Uint8Array(MAX_STATE_VECTOR_BYTES + 1);
      assert.throws(
        () => encodeFileMessage({ type: 'FileStep1', fileId: 'f', stateVector: over }),
        RangeError,
      );
      rejects(raw(9, [1, 0x66], u32(MAX_STATE_VECTOR_BYTES + 1), over), 'oversize');
    });

    it('update: 1 byte to the SyncStep2 cap (default DEFAULT_MAX_STEP2_BYTES)', () => {
      assert.throws(
        () => encodeFileMessage({ type: 'FileUpdate', fileId: 'f', update: new Uint8Array(0) }),
        RangeError,
      );
      rejects(raw(10, [1, 0x66], u32(0)), 'malformed');
      assert.doesNotThrow(() => decodeSyncMessage(raw(10, [1, 0x66], u32(1), [0])));
      // The default cap is checked before any byte of the update is read.
      rejects(raw(10, [1, 0x66], u32(DEFAULT_MAX_STEP2_BYTES + 1)), 'oversize');
      rejects(raw(10, [1, 0x66], u32(DEFAULT_MAX_STEP2_BYTES)), 'malformed'); // truncated, not over
      // A configured cap: at the cap passes, one more is oversize.
      const limits = { maxStep2Bytes: 100 };
      assert.doesNotThrow(() =>
        decodeSyncMessage(raw(10, [1, 0x66], u32(100), new Uint8Array(100)), limits),
      );
      rejects(raw(10, [1, 0x66], u32(101), new Uint8Array(101)), 'oversize', limits);
    });

    it('BlobRequest length: 1 to MAX_BLOB_CHUNK_BYTES', () => {
      for (const length of [1, MAX_BLOB_CHUNK_BYTES]) {
        const m: FileMessage = { type: 'BlobRequest', hash: HASH, offset: 0, length };
        assert.deepEqual(decodeSyncMessage(encodeFileMessage(m)), m);
      }
      for (const length of [0, MAX_BLOB_CHUNK_BYTES + 1, 1.5, -1]) {
        assert.throws(
          () => encodeFileMessage({ type: 'BlobRequest', hash: HASH, offset: 0, length }),
          RangeError,
        );
      }
      rejects(raw(11, HASH_BYTES, u64(0n), u32(0)), 'malformed');
      rejects(raw(11, HASH_BYTES, u64(0n), u32(MAX_BLOB_CHUNK_BYTES + 1)), 'oversize');
    });

    it('offsets and totals: safe integers up to 2^40', () => {
      const at: FileMessage = {
        type: 'BlobRequest',
        hash: HASH,
        offset: MAX_BLOB_OFFSET,
        length: 1,
      };
      assert.deepEqual(decodeSyncMessage(encodeFileMessage(at)), at);
      for (const offset of [MAX_BLOB_OFFSET + 1, -1, 0.5, Number.MAX_SAFE_INTEGER + 2]) {
        assert.throws(() => encodeFileMessage({ ...at, offset }), RangeError);
      }
      rejects(raw(11, HASH_BYTES, u64(2n ** 40n + 1n), u32(1)), 'oversize');
      rejects(raw(11, HASH_BYTES, u64(2n ** 64n - 1n), u32(1)), 'oversize');
      rejects(raw(12, HASH_BYTES, u64(0n), u64(2n ** 40n + 1n), u32(0)), 'oversize');
      assert.doesNotThrow(() =>
        decodeSyncMessage(raw(12, HASH_BYTES, u64(0n), u64(2n ** 40n), u32(0))),
      );
    });

    it('BlobChunk: at most MAX_BLOB_CHUNK_BYTES, never past its total', () => {
      const full = new Uint8Array(MAX_BLOB_CHUNK_BYTES);
      const atCap: FileMessage = {
        type: 'BlobChunk',
        hash: HASH,
        offset: 5,
        total: 5 + MAX_BLOB_CHUNK_BYTES,
        bytes: full,
      };
      const decoded = decodeSyncMessage(encodeFileMessage(atCap));
      assert.equal(decoded.type === 'BlobChunk' && decoded.bytes.length, MAX_BLOB_CHUNK_BYTES);
      const over = new Uint8Array(MAX_BLOB_CHUNK_BYTES + 1);
      assert.throws(
        () => encodeFileMessage({ ...atCap, total: MAX_BLOB_OFFSET, bytes: over }),
        RangeError,
      );
      rejects(
        raw(12, HASH_BYTES, u64(0n), u64(2n ** 30n), u32(MAX_BLOB_CHUNK_BYTES + 1), over),
        'oversize',
      );
      // offset + length == total passes; total one less fails.
      assert.throws(() => encodeFileMessage({ ...atCap, total: atCap.total - 1 }), RangeError);
      rejects(raw(12, HASH_BYTES, u64(5n), u64(7n), u32(3), [1, 2, 3]), 'malformed');
      assert.doesNotThrow(() =>
        decodeSyncMessage(raw(12, HASH_BYTES, u64(5n), u64(8n), u32(3), [1, 2, 3])),
      );
    });

    it('a message cut at any byte, or with a trailing byte, fails cleanly', () => {
      for (const message of samples) {
        const bytes = encodeFileMessage(message);
        for (let cut = 0; cut < bytes.length; cut++) {
          assert.throws(
            () => decodeSyncMessage(bytes.subarray(0, cut)),
            SyncMessageError,
            `${message.type} cut at ${cut}`,
          );
        }
        rejects(Uint8Array.from([...bytes, 0]), 'malformed');
      }
      rejects(new Uint8Array([1, 14]), 'unknown_type');
    });

    it('fast-check: any valid file message round-trips byte for byte', () => {
      const fileId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
      const hash = fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((b) => Buffer.from(b).toString('hex'));
      const offset = fc.integer({ min: 0, max: MAX_BLOB_OFFSET });
      const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
        fc.uint8Array({ minLength: min, maxLength: max });
      const message: fc.Arbitrary<FileMessage> = fc.oneof(
        fc.record({ type: fc.constant('FileStep1' as const), fileId, stateVector: bytes(0, 64) }),
        fc.record({ type: fc.constant('FileUpdate' as const), fileId, update: bytes(1, 64) }),
        fc.record({
          type: fc.constant('BlobRequest' as const),
          hash,
          offset,
          length: fc.integer({ min: 1, max: MAX_BLOB_CHUNK_BYTES }),
        }),
        fc
          .tuple(hash, offset, bytes(0, 64), fc.nat({ max: 2 ** 30 }))
          .filter(([, o, b]) => o + b.length <= MAX_BLOB_OFFSET)
          .map(([h, o, b, extra]) => ({
            type: 'BlobChunk' as const,
            hash: h,
            offset: o,
            total: Math.min(MAX_BLOB_OFFSET, o + b.length + extra),
            bytes: b,
          })),
        fc.record({ type: fc.constant('BlobMissing' as const), hash }),
      );
      fc.assert(
        fc.property(message, (m) => {
          const encoded = encodeFileMessage(m);
          const decoded = decodeSyncMessage(encoded);
          assert.deepEqual(plain(decoded as FileMessage), plain(m));
          assert.deepEqual(encodeFileMessage(decoded as FileMessage), encoded);
        }),
        { numRuns: 300, seed: 424242 },
      );
    });
  });

  describe('routing in SyncWorker', function () {
    this.timeout(20_000);
    let net: MemoryNetwork;

    beforeEach(() => {
      net = new MemoryNetwork();
    });

    afterEach(async () => {
      await net.dispose();
    });

    class Recorder implements FileMessageHandler {
      readonly messages: { peerId: string; message: FileMessage }[] = [];
      readonly events: string[] = [];
      throwOnMessage = false;
      onFileMessage(peerId: string, message: FileMessage): void {
        this.messages.push({ peerId, message });
        if (this.throwOnMessage) throw new Error('handler bug');
      }
      onFilePeerUp(peerId: string): void {
        this.events.push(`up:${peerId}`);
      }
      onFilePeerDown(peerId: string): void {
        this.events.push(`down:${peerId}`);
      }
    }

    async function linkedPair(
      grantOfB: 'read-write' | 'read-only' = 'read-write',
    ): Promise<{ a: Node; b: Node; ra: Recorder; rb: Recorder }> {
      const a = await net.addNode();
      const b = await net.addNode();
      await net.trustEachOther(a, b, grantOfB);
      const ra = new Recorder();
      const rb = new Recorder();
      a.worker.setFileHandler(ra);
      b.worker.setFileHandler(rb);
      a.worker.addPeerAddress(b.address);
      await waitFor(
        () => a.worker.filePeers().length === 1 && b.worker.filePeers().length === 1,
        'file peers up',
      );
      return { a, b, ra, rb };
    }

    it('carries every file message both ways; peers come up past the initial sync and go down', async () => {
      const { a, b, ra, rb } = await linkedPair();
      const aId = a.identity.deviceId;
      const bId = b.identity.deviceId;
      assert.deepEqual(a.worker.filePeers(), [bId]);
      assert.deepEqual(b.worker.filePeers(), [aId]);
      assert.deepEqual(ra.events, [`up:${bId}`]);
      assert.deepEqual(rb.events, [`up:${aId}`]);
      assert.equal(a.worker.peers()[0]?.state, 'Idle');
      for (const m of samples) assert.equal(a.worker.sendFile(bId, m), true);
      const reply: FileMessage = { type: 'FileUpdate', fileId: 'r', update: yjsUpdate('reply') };
      assert.equal(b.worker.sendFile(aId, reply), true);
      await waitFor(() => rb.messages.length === samples.length, 'all messages at B');
      await waitFor(() => ra.messages.length === 1, 'reply at A');
      assert.deepEqual(
        rb.messages.map((m) => plain(m.message)),
        samples.map(plain),
      );
      assert.ok(rb.messages.every((m) => m.peerId === aId));
      assert.equal(ra.messages[0]?.peerId, bId);
      assert.deepEqual(
        ra.messages.map((m) => plain(m.message)),
        [plain(reply)],
      );
      assert.equal(a.worker.sendFile('not-a-peer', samples[0] as FileMessage), false);
      // No relay and no echo: A got nothing back of what it sent.
      assert.equal(ra.messages.length, 1);

      await net.stop(b);
      await waitFor(() => ra.events.includes(`down:${bId}`), 'down on A');
      assert.deepEqual(a.worker.filePeers(), []);
      assert.equal(a.worker.sendFile(bId, samples[0] as FileMessage), false);
      await a.worker.whenWritable(bId); // the session is gone: resolves at once
    });

    it('a handler set late is told at once about the peers already up', async () => {
      const { a, b } = await linkedPair();
      const late = new Recorder();
      a.worker.setFileHandler(late);
      assert.deepEqual(late.events, [`up:${b.identity.deviceId}`]);
      a.worker.setFileHandler(undefined);
      assert.equal(b.worker.sendFile(a.identity.deviceId, samples[0] as FileMessage), true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(late.messages.length, 0, 'a cleared handler gets nothing');
    });

    it('a version 2 peer is never up for files and is sent none', async () => {
      const a = await net.addNode();
      const b = await net.addNode({ protocolVersions: { min: 1, max: 2 } });
      await net.trustEachOther(a, b);
      const ra = new Recorder();
      const rb = new Recorder();
      a.worker.setFileHandler(ra);
      b.worker.setFileHandler(rb);
      a.worker.addPeerAddress(b.address);
      await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'synced on version 2');
      assert.deepEqual(a.worker.filePeers(), []);
      assert.deepEqual(b.worker.filePeers(), []);
      assert.equal(a.worker.sendFile(b.identity.deviceId, samples[0] as FileMessage), false);
      assert.equal(b.worker.sendFile(a.identity.deviceId, samples[0] as FileMessage), false);
      assert.deepEqual(ra.events, []);
      assert.deepEqual(rb.events, []);
      // Control: the session is up and content still flows on version 2.
      assert.equal(a.worker.peers()[0]?.state, 'Idle');
      assert.equal(channelEvents(a, 'sync.worker.unit_rejected').length, 0);
    });

    it("a read-only peer's FileUpdate is dropped with a Warn; its other messages arrive", async () => {
      const { a, b, ra } = await linkedPair('read-only');
      const aId = a.identity.deviceId;
      const update: FileMessage = { type: 'FileUpdate', fileId: 'ro', update: yjsUpdate('x') };
      const step1: FileMessage = {
        type: 'FileStep1',
        fileId: 'ro',
        stateVector: new Uint8Array(1),
      };
      assert.equal(b.worker.sendFile(aId, update), true);
      assert.equal(b.worker.sendFile(aId, step1), true);
      await waitFor(() => ra.messages.length === 1, 'FileStep1 at A');
      assert.deepEqual(
        ra.messages.map((m) => plain(m.message)),
        [plain(step1)],
      );
      const warn = channelEvents(a, 'sync.worker.unit_rejected').find(
        (e) => e.data?.['kind'] === 'FileUpdate',
      );
      assert.ok(warn);
      assert.equal(warn.severity, 'warn');
      assert.equal(warn.data?.['reason'], 'read_only');
      // The other way round, A (read-write at B) is heard.
      const rb = new Recorder();
      b.worker.setFileHandler(rb);
      assert.equal(a.worker.sendFile(b.identity.deviceId, update), true);
      await waitFor(() => rb.messages.length === 1, 'FileUpdate at B');
      assert.deepEqual(a.worker.filePeers(), [b.identity.deviceId]);
    });

    it('a throwing handler is reported and the session stays up', async () => {
      const { a, b, ra } = await linkedPair();
      ra.throwOnMessage = true;
      const aId = a.identity.deviceId;
      assert.equal(b.worker.sendFile(aId, samples[0] as FileMessage), true);
      assert.equal(b.worker.sendFile(aId, samples[3] as FileMessage), true);
      await waitFor(() => ra.messages.length === 2, 'both messages handed over');
      await waitFor(
        () => channelEvents(a, 'sync.worker.file_handler_failed').length >= 1,
        'failure reported',
      );
      const event = channelEvents(a, 'sync.worker.file_handler_failed')[0];
      assert.ok(event);
      assert.equal(event.severity, 'error');
      assert.match(event.message, /handler bug/);
      assert.deepEqual(a.worker.filePeers(), [b.identity.deviceId]);
      assert.equal(a.worker.peers()[0]?.state, 'Idle');
    });

    it('whenWritable waits while the queue is over half its byte cap', async () => {
      const cap = 256 * 1024;
      const a = await net.addNode({ maxQueueBytes: cap });
      const b = await net.addNode();
      await net.trustEachOther(a, b);
      a.worker.setFileHandler(new Recorder());
      const rb = new Recorder();
      b.worker.setFileHandler(rb);
      a.worker.addPeerAddress(b.address);
      await waitFor(() => a.worker.filePeers().length === 1, 'up');
      const bId = b.identity.deviceId;
      await a.worker.whenWritable(bId); // idle queue: at once
      const chunk = (i: number): FileMessage => ({
        type: 'BlobChunk',
        hash: HASH,
        offset: i * 16_384,
        total: 2 ** 30,
        bytes: new Uint8Array(16_384),
      });
      let sent = 0;
      while (sent < 10) assert.equal(a.worker.sendFile(bId, chunk(sent++)), true);
      const queued = a.worker.peers()[0]?.pendingOutBytes ?? 0;
      assert.ok(queued >= cap / 2, `queue at ${queued} bytes`);
      let resolved = false;
      const writable = a.worker.whenWritable(bId).then(() => {
        resolved = true;
        return a.worker.peers()[0]?.pendingOutBytes ?? -1;
      });
      assert.equal(resolved, false);
      const atResolve = await writable;
      assert.ok(atResolve < cap / 2, `resolved with ${atResolve} bytes queued`);
      await waitFor(() => rb.messages.length === 10, 'every chunk delivered');
      assert.deepEqual(a.worker.filePeers(), [bId]);
    });
  });

  describe('hand-driven peers', function () {
    this.timeout(20_000);
    let net: MemoryNetwork;
    let a: Node;
    const peer = DeviceIdentity.generate();

    beforeEach(async () => {
      net = new MemoryNetwork();
      a = await net.addNode();
      await a.trust.add({ deviceId: peer.deviceId, name: 'p', publicKey: peer.publicKey });
      await waitFor(
        () => a.runtime.workers().some((w) => w.name === 'sync' && w.status === 'running'),
        'running',
      );
    });

    afterEach(async () => {
      await net.dispose();
    });

    async function connect(max: number): Promise<SecureChannel> {
      const [mine, theirs] = MemoryDuplex.pair();
      a.worker.accept(theirs);
      const channel = await handshake(mine, {
        identity: peer,
        role: 'initiator',
        isTrusted: () => true,
        versions: { min: 1, max },
      });
      channel.onMessage(() => undefined);
      await channel.send(encodeSyncStep1('default', Y.encodeStateVector(new Y.Doc())));
      return channel;
    }

    async function expectClosed(
      channel: SecureChannel,
      bytes: Uint8Array,
      pattern: RegExp,
    ): Promise<void> {
      const count = channelEvents(a, 'sync.worker.unit_rejected').length;
      await channel.send(bytes);
      await waitFor(
        () =>
          channelEvents(a, 'sync.worker.unit_rejected')
            .slice(count)
            .some((e) => pattern.test(e.message)),
        `rejection matching ${String(pattern)}`,
      );
      await waitFor(() => channel.closed, 'session closed');
      assert.equal(a.runtime.workers().find((w) => w.name === 'sync')?.status, 'running');
    }

    it('a file message from a version 2 session is malformed and closes it', async () => {
      const recorder = new Recorder2();
      a.worker.setFileHandler(recorder);
      const channel = await connect(2);
      assert.equal(channel.protocolVersion, 2);
      await expectClosed(
        channel,
        encodeFileMessage({ type: 'BlobMissing', hash: HASH }),
        /unknown_type.*BlobMissing on a protocol version 2 session/,
      );
      assert.equal(recorder.count, 0);
    });

    it('control: the same message on a version 3 session reaches the handler', async () => {
      const recorder = new Recorder2();
      a.worker.setFileHandler(recorder);
      const channel = await connect(3);
      assert.equal(channel.protocolVersion, 3);
      await channel.send(encodeFileMessage({ type: 'BlobMissing', hash: HASH }));
      await waitFor(() => recorder.count === 1, 'delivered');
      assert.equal(channel.closed, false);
      channel.close();
    });

    it('a malformed file message (bad file id) closes the session; the worker stays alive', async () => {
      const channel = await connect(3);
      await expectClosed(channel, raw(9, [3, 0x61, 0x2f, 0x62], u32(0)), /malformed/);
    });

    it('a FileUpdate that is not a Yjs update closes the session', async () => {
      const channel = await connect(3);
      await expectClosed(
        channel,
        encodeFileMessage({
          type: 'FileUpdate',
          fileId: 'f',
          update: new Uint8Array([255, 255, 255, 9, 9]),
        }),
        /not a valid Yjs update/,
      );
    });
  });
});
