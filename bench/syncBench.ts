/**
 * Device Sync benchmark (npx tsx bench/syncBench.ts). Two peers in this process over TCP loopback:
 *  - initial sync of a ~10 MB workspace document (10,000 graph nodes with 1 KB labels) into a
 *    fresh device through the SyncWorker (TCP connect, handshake, encrypted channel, validation,
 *    Engine + WAL on the receiver) versus a plain y-protocols sync (y-protocols/sync
 *    writeSyncStep1 / readSyncMessage) of the same document over an unencrypted framed socket.
 *    Both are timed from connect until the receiver has applied everything and its state vector
 *    equals the sender's. RUNS runs of each (default 3), interleaved; the table shows every run
 *    and the medians;
 *  - small-update one-way latency (local intent on A → applied in B's Engine snapshot), p50/p95,
 *    with the plain y-protocols figure alongside;
 *  - handshake time.
 * Env: N (entries, default 10000), LATENCY_SAMPLES (default 200), RUNS (default 3).
 * Profile: node --cpu-prof --import tsx bench/syncBench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { RegistryRuntime } from '../src/runtime/RegistryRuntime';
import { handshake } from '../src/sync/channel/handshake';
import { DeviceIdentity } from '../src/sync/identity/DeviceIdentity';
import { SyncWorker } from '../src/sync/SyncWorker';
import { TcpTransport } from '../src/sync/transport/TcpTransport';
import { TrustStore } from '../src/sync/trust/TrustStore';

const N = Number(process.env['N'] ?? 10_000);
const SAMPLES = Number(process.env['LATENCY_SAMPLES'] ?? 200);
const RUNS = Number(process.env['RUNS'] ?? 3);
const LABEL = 'x'.repeat(1000);
const root = mkdtempSync(path.join(tmpdir(), 'twinspace-syncbench-'));

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function until(cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('benchmark wait timed out');
    await new Promise((r) => setImmediate(r));
  }
}

interface Peer {
  runtime: RegistryRuntime;
  trust: TrustStore;
  worker: SyncWorker;
  identity: DeviceIdentity;
}

async function makePeer(name: string): Promise<Peer> {
  const dir = path.join(root, name);
  const runtime = await RegistryRuntime.start({
    stateDir: path.join(dir, 'state'),
    memoryMonitor: false,
  });
  const trust = await TrustStore.open(path.join(dir, 'trust.json'));
  const identity = DeviceIdentity.generate();
  const worker = new SyncWorker({
    identity,
    trust,
    doc: runtime.engine,
    deviceName: name,
    connect: (address, signal) =>
      TcpTransport.connect({ host: address.host, port: address.port, signal }),
  });
  runtime.onEffect(worker.handleEffect);
  return { runtime, trust, worker, identity };
}

// ---------------------------------------------------------------- plain y-protocols baseline

function frameConn(sock: Socket): {
  send(u8: Uint8Array): void;
  onMessage(cb: (m: Uint8Array) => void): void;
} {
  sock.setNoDelay(true);
  let chunks: Buffer[] = [];
  let have = 0;
  let need = -1;
  let cb: (m: Uint8Array) => void = () => undefined;
  sock.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    have += chunk.length;
    for (;;) {
      if (need < 0) {
        if (have < 4) return;
        const all = Buffer.concat(chunks);
        need = all.readUInt32BE(0);
        chunks = [all.subarray(4)];
        have -= 4;
      }
      if (have < need) return;
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, have);
      const msg = all.subarray(0, need);
      const rest = all.subarray(need);
      chunks = rest.length > 0 ? [rest] : [];
      have = rest.length;
      need = -1;
      cb(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    }
  });
  return {
    send: (u8) => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(u8.length);
      sock.cork();
      sock.write(h);
      sock.write(u8);
      sock.uncork();
    },
    onMessage: (f) => {
      cb = f;
    },
  };
}

function attachY(doc: Y.Doc, conn: ReturnType<typeof frameConn>): void {
  conn.onMessage((msg) => {
    const dec = decoding.createDecoder(msg);
    const enc = encoding.createEncoder();
    syncProtocol.readSyncMessage(dec, enc, doc, conn);
    if (encoding.length(enc) > 0) conn.send(encoding.toUint8Array(enc));
  });
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin === conn) return;
    const enc = encoding.createEncoder();
    syncProtocol.writeUpdate(enc, update);
    conn.send(encoding.toUint8Array(enc));
  });
  const enc = encoding.createEncoder();
  syncProtocol.writeSyncStep1(enc, doc);
  conn.send(encoding.toUint8Array(enc));
}

function sameVector(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * One plain y-protocols initial sync (SyncStep1/SyncStep2 via y-protocols/sync over a framed,
 * unencrypted TCP socket), timed from connect until the receiver has applied the state and both
 * state vectors are equal: the same end condition as the Twinspace run.
 */
async function plainSync(fullState: Uint8Array): Promise<number> {
  const docA = new Y.Doc();
  Y.applyUpdate(docA, fullState);
  const docB = new Y.Doc();
  const svA = Y.encodeStateVector(docA);
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    attachY(docA, frameConn(sock));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const t0 = performance.now();
  const sock = createConnection({ host: '127.0.0.1', port });
  attachY(docB, frameConn(sock));
  await until(() => sameVector(Y.encodeStateVector(docB), svA));
  const ms = performance.now() - t0;
  sock.destroy();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) =>
    server.close(() => {
      r();
    }),
  );
  docA.destroy();
  docB.destroy();
  return ms;
}

async function plainLatency(fullState: Uint8Array): Promise<number[]> {
  const docA = new Y.Doc();
  Y.applyUpdate(docA, fullState);
  const docB = new Y.Doc();
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    attachY(docA, frameConn(sock));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const sock = createConnection({ host: '127.0.0.1', port });
  attachY(docB, frameConn(sock));
  const svA = Y.encodeStateVector(docA);
  await until(() => sameVector(Y.encodeStateVector(docB), svA));
  const lat: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const key = `lat-${i}`;
    const t = performance.now();
    docA.getMap('graph.nodes').set(key, 'small');
    await until(() => docB.getMap('graph.nodes').has(key));
    lat.push(performance.now() - t);
  }
  sock.destroy();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) =>
    server.close(() => {
      r();
    }),
  );
  return lat;
}

// ---------------------------------------------------------------- Twinspace

async function handshakeTimes(): Promise<number[]> {
  const a = DeviceIdentity.generate();
  const b = DeviceIdentity.generate();
  const times: number[] = [];
  const listener = await TcpTransport.listen({ host: '127.0.0.1' }, (t) => {
    handshake(t, { identity: b, role: 'responder', isTrusted: () => true })
      .then((c) => {
        c.close();
      })
      .catch(() => undefined);
  });
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const transport = await TcpTransport.connect({ host: '127.0.0.1', port: listener.port });
    const channel = await handshake(transport, {
      identity: a,
      role: 'initiator',
      isTrusted: () => true,
    });
    times.push(performance.now() - t0);
    channel.close();
  }
  await listener.close();
  return times;
}

function median(values: readonly number[]): number {
  return pct([...values], 50);
}

async function waitRunning(peer: Peer): Promise<void> {
  await until(() =>
    peer.runtime.workers().some((w) => w.name === 'sync' && w.status === 'running'),
  );
}

async function main(): Promise<void> {
  const a = await makePeer('a');
  const tBuild = performance.now();
  for (let i = 0; i < N; i++) {
    await a.runtime.dispatch(
      { type: 'VisitNode', nodeId: `entry-${i}`, kind: 'file', label: LABEL },
      'LocalUI',
    );
  }
  await until(() => a.runtime.snapshot().replica.graphNodes >= N);
  await a.runtime.engine.flush();
  const buildMs = performance.now() - tBuild;
  const fullState = a.runtime.engine.encodeDiff();
  const svA = a.runtime.engine.encodeStateVector();

  const listener = await TcpTransport.listen({ host: '127.0.0.1' }, (t) => {
    a.worker.accept(t);
  });
  a.runtime.addWorker(a.worker);
  await waitRunning(a);

  /** One Twinspace initial sync into a fresh device B (new identity, Engine, WAL). */
  let runIndex = 0;
  const twinspaceSync = async (): Promise<{ ms: number; b: Peer; synced: boolean }> => {
    const b = await makePeer(`b${runIndex++}`);
    await a.trust.add({
      deviceId: b.identity.deviceId,
      name: 'b',
      publicKey: b.identity.publicKey,
    });
    await b.trust.add({
      deviceId: a.identity.deviceId,
      name: 'a',
      publicKey: a.identity.publicKey,
    });
    b.runtime.addWorker(b.worker);
    await waitRunning(b);
    const t0 = performance.now();
    b.worker.addPeerAddress({ host: '127.0.0.1', port: listener.port });
    await until(() => sameVector(b.runtime.engine.encodeStateVector(), svA));
    const ms = performance.now() - t0;
    await until(() => b.worker.isSynced(1), 10_000).catch(() => undefined);
    return { ms, b, synced: b.worker.isSynced(1) };
  };
  const closePeer = async (peer: Peer): Promise<void> => {
    await peer.runtime.shutdown(5000);
    await peer.trust.close();
  };

  const plainTimes: number[] = [];
  const twinTimes: number[] = [];
  let last: { b: Peer; synced: boolean } | undefined;
  for (let run = 0; run < RUNS; run++) {
    plainTimes.push(await plainSync(fullState));
    if (last !== undefined) await closePeer(last.b);
    const r = await twinspaceSync();
    twinTimes.push(r.ms);
    last = r;
    process.stderr.write(
      `run ${run + 1}/${RUNS}: plain ${plainTimes[run]?.toFixed(0)} ms, twinspace ${r.ms.toFixed(0)} ms\n`,
    );
  }
  if (last === undefined) throw new Error('no run');
  const b = last.b;
  const equal =
    JSON.stringify(a.runtime.engine.docJSON()) === JSON.stringify(b.runtime.engine.docJSON());

  const lat: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const nodes = b.runtime.snapshot().replica.graphNodes;
    const t = performance.now();
    await a.runtime.dispatch(
      { type: 'VisitNode', nodeId: `lat-${i}`, kind: 'file', label: 'small' },
      'LocalUI',
    );
    await until(() => b.runtime.snapshot().replica.graphNodes > nodes);
    lat.push(performance.now() - t);
  }
  const plainLat = await plainLatency(fullState);
  const hs = await handshakeTimes();

  const runs = (values: readonly number[]): string => values.map((v) => v.toFixed(0)).join(' / ');
  const ratio = median(twinTimes) / median(plainTimes);
  const rows: [string, string, string][] = [
    ['case', 'twinspace', 'plain y-protocols / note'],
    [
      'document',
      `${N} entries x 1 KB, ${(fullState.length / 1e6).toFixed(1)} MB update`,
      `built in ${buildMs.toFixed(0)} ms`,
    ],
    [`initial sync, runs (ms)`, runs(twinTimes), runs(plainTimes)],
    [
      `initial sync, median of ${RUNS}`,
      `${median(twinTimes).toFixed(0)} ms`,
      `${median(plainTimes).toFixed(0)} ms`,
    ],
    ['ratio of medians', `${ratio.toFixed(2)}x`, 'target <= 1.5x'],
    [
      'small update one-way p50',
      `${pct(lat, 50).toFixed(2)} ms`,
      `${pct(plainLat, 50).toFixed(2)} ms (target < 2 ms)`,
    ],
    [
      'small update one-way p95',
      `${pct(lat, 95).toFixed(2)} ms`,
      `${pct(plainLat, 95).toFixed(2)} ms`,
    ],
    [
      'handshake (TCP connect + 3 msgs)',
      `p50 ${pct(hs, 50).toFixed(2)} ms`,
      `p95 ${pct(hs, 95).toFixed(2)} ms`,
    ],
    ['receiver reports in sync (isSynced)', String(last.synced), ''],
    ['replicas identical', String(equal), ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const line = (r: [string, string, string]): string =>
    `| ${r[0].padEnd(w0)} | ${r[1].padEnd(w1)} | ${r[2]}\n`;
  const [head, ...body] = rows;
  if (head !== undefined) process.stdout.write(line(head));
  process.stdout.write(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|${'-'.repeat(26)}\n`);
  for (const r of body) process.stdout.write(line(r));

  await listener.close();
  await closePeer(b);
  await closePeer(a);
  rmSync(root, { recursive: true, force: true });
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`syncBench failed: ${String(error)}\n`);
    rmSync(root, { recursive: true, force: true });
    process.exitCode = 1;
  })
  .finally(() => {
    // Sockets of the plain baseline and timers of closed sessions must not keep a finished
    // benchmark alive.
    process.exit();
  });
