/**
 * Channel benchmark (npx tsx bench/channelBench.ts): handshake latency over MemoryDuplex and TCP
 * loopback, AEAD frame throughput for 64 KiB messages, and Ed25519 with node:crypto vs tweetnacl.
 * Environment: HANDSHAKES (default 200), MS (per crypto case, default 1000), MB (default 256).
 */
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { FrameCipher } from '../src/sync/channel/FrameCipher';
import { handshake } from '../src/sync/channel/handshake';
import { DeviceIdentity } from '../src/sync/identity/DeviceIdentity';
import { MemoryDuplex } from '../src/sync/transport/MemoryDuplex';
import { TcpTransport } from '../src/sync/transport/TcpTransport';

const HANDSHAKES = Number(process.env.HANDSHAKES ?? 200);
const MS = Number(process.env.MS ?? 1000);
const MB = Number(process.env.MB ?? 256);

const alice = DeviceIdentity.generate();
const bob = DeviceIdentity.generate();
const trustBob = (id: string): boolean => id === bob.deviceId;
const trustAlice = (id: string): boolean => id === alice.deviceId;

interface Row {
  readonly name: string;
  readonly value: string;
  readonly note?: string;
}
const rows: Row[] = [];

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function latency(name: string, samples: number[]): void {
  samples.sort((x, y) => x - y);
  rows.push({
    name,
    value: `p50 ${quantile(samples, 0.5).toFixed(3)} ms`,
    note: `p95 ${quantile(samples, 0.95).toFixed(3)} ms, n=${samples.length}`,
  });
}

async function memoryHandshakes(): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < HANDSHAKES + 10; i++) {
    const [a, b] = MemoryDuplex.pair();
    const t0 = performance.now();
    const [ca, cb] = await Promise.all([
      handshake(a, { identity: alice, role: 'initiator', isTrusted: trustBob }),
      handshake(b, { identity: bob, role: 'responder', isTrusted: trustAlice }),
    ]);
    const t = performance.now() - t0;
    if (i >= 10) samples.push(t); // warm-up
    ca.close();
    cb.close();
  }
  latency('handshake, MemoryDuplex (both sides done)', samples);
}

async function tcpHandshakes(): Promise<void> {
  let pending: ((p: Promise<unknown>) => void) | undefined;
  const listener = await TcpTransport.listen({ host: '127.0.0.1', port: 0 }, (transport) => {
    const p = handshake(transport, { identity: bob, role: 'responder', isTrusted: trustAlice });
    pending?.(p);
  });
  const withConnect: number[] = [];
  const handshakeOnly: number[] = [];
  try {
    for (let i = 0; i < HANDSHAKES + 10; i++) {
      const responder = new Promise<Promise<unknown>>((resolve) => (pending = resolve));
      const t0 = performance.now();
      const transport = await TcpTransport.connect({ host: '127.0.0.1', port: listener.port });
      const t1 = performance.now();
      const channel = await handshake(transport, {
        identity: alice,
        role: 'initiator',
        isTrusted: trustBob,
      });
      const other = (await await responder) as { close(): void };
      const t2 = performance.now();
      if (i >= 10) {
        withConnect.push(t2 - t0);
        handshakeOnly.push(t2 - t1);
      }
      channel.close();
      other.close();
    }
  } finally {
    await listener.close();
  }
  latency('handshake, TCP loopback (after connect)', handshakeOnly);
  latency('connect + handshake, TCP loopback', withConnect);
}

function throughput(name: string, bytes: number, ms: number, note?: string): void {
  rows.push({
    name,
    value: `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`,
    ...(note !== undefined ? { note } : {}),
  });
}

function frameCrypto(): void {
  const key = randomBytes(32);
  const message = randomBytes(64 * 1024);
  const count = Math.ceil((MB * 1e6) / message.length);
  const sender = new FrameCipher(key);
  for (let i = 0; i < 200; i++) new FrameCipher(key).seal(0, message); // warm-up
  let t0 = performance.now();
  for (let i = 0; i < count; i++) sender.seal(0, message);
  throughput(
    'AEAD seal, 64 KiB frames',
    count * message.length,
    performance.now() - t0,
    `${count} frames`,
  );
  // Open needs frames sealed in counter order; keep a bounded batch and reopen it with fresh
  // receivers (same key, counter from 0) until the volume is reached.
  const batchSealer = new FrameCipher(key);
  const batch = Array.from({ length: 256 }, () => batchSealer.seal(0, message).subarray(4));
  let opened = 0;
  t0 = performance.now();
  while (opened < count) {
    const receiver = new FrameCipher(key);
    for (const frame of batch) {
      if (!receiver.open(frame)) throw new Error('open failed');
    }
    opened += batch.length;
  }
  throughput(
    'AEAD open, 64 KiB frames',
    opened * message.length,
    performance.now() - t0,
    `${opened} frames`,
  );
}

async function channelThroughput(): Promise<void> {
  const [a, b] = MemoryDuplex.pair({ highWaterMark: 8 * 1024 * 1024 });
  const [ca, cb] = await Promise.all([
    handshake(a, { identity: alice, role: 'initiator', isTrusted: trustBob }),
    handshake(b, { identity: bob, role: 'responder', isTrusted: trustAlice }),
  ]);
  const message = randomBytes(64 * 1024);
  const count = Math.ceil((MB * 1e6) / message.length);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    cb.onMessage((m) => {
      received += m.length;
      if (received >= count * message.length) resolve();
    });
  });
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await ca.send(message);
  await done;
  throughput(
    'SecureChannel send->onMessage, 64 KiB messages, MemoryDuplex',
    received,
    performance.now() - t0,
    'seal + framing + decode + open',
  );
  ca.close();
}

async function channelThroughputTcp(): Promise<void> {
  let responder: Promise<import('../src/sync/channel/SecureChannel').SecureChannel> | undefined;
  const listener = await TcpTransport.listen({ host: '127.0.0.1', port: 0 }, (t) => {
    responder = handshake(t, { identity: bob, role: 'responder', isTrusted: trustAlice });
  });
  const transport = await TcpTransport.connect({ host: '127.0.0.1', port: listener.port });
  const ca = await handshake(transport, {
    identity: alice,
    role: 'initiator',
    isTrusted: trustBob,
  });
  while (!responder) await new Promise((r) => setImmediate(r));
  const cb = await responder;
  const message = randomBytes(64 * 1024);
  const count = Math.ceil((MB * 1e6) / message.length);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    cb.onMessage((m) => {
      received += m.length;
      if (received >= count * message.length) resolve();
    });
  });
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await ca.send(message);
  await done;
  throughput(
    'SecureChannel send->onMessage, 64 KiB messages, TCP loopback',
    received,
    performance.now() - t0,
    'both ends in this process',
  );
  ca.close();
  cb.close();
  await listener.close();
}

function opsPerSecond(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < MS) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

function signatures(): void {
  const msg = randomBytes(1024);
  const seed = alice.exportSeed();
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const nodeSig = alice.sign(msg);
  const naclSig = nacl.sign.detached(msg, pair.secretKey);
  if (!Buffer.from(nodeSig).equals(naclSig)) throw new Error('signatures differ');
  const nodeSign = opsPerSecond(() => alice.sign(msg));
  const naclSign = opsPerSecond(() => nacl.sign.detached(msg, pair.secretKey));
  const nodeVerify = opsPerSecond(() => {
    if (!DeviceIdentity.verify(alice.publicKey, msg, nodeSig)) throw new Error('verify');
  });
  const naclVerify = opsPerSecond(() => {
    if (!nacl.sign.detached.verify(msg, naclSig, pair.publicKey)) throw new Error('verify');
  });
  const fmt = (x: number): string => `${Math.round(x).toLocaleString('en-US')}/s`;
  rows.push({
    name: 'Ed25519 sign 1 KB: node:crypto vs tweetnacl',
    value: `${fmt(nodeSign)} vs ${fmt(naclSign)}`,
    note: `ratio ${(nodeSign / naclSign).toFixed(0)}x`,
  });
  rows.push({
    name: 'Ed25519 verify 1 KB: node:crypto vs tweetnacl',
    value: `${fmt(nodeVerify)} vs ${fmt(naclVerify)}`,
    note: `ratio ${(nodeVerify / naclVerify).toFixed(0)}x (node side includes raw-key import)`,
  });
}

async function main(): Promise<void> {
  console.log(
    `channelBench: node ${process.version}, ${HANDSHAKES} handshakes, ${MB} MB per throughput case`,
  );
  await memoryHandshakes();
  await tcpHandshakes();
  frameCrypto();
  await channelThroughput();
  await channelThroughputTcp();
  signatures();
  const w1 = Math.max(...rows.map((r) => r.name.length));
  const w2 = Math.max(...rows.map((r) => r.value.length));
  console.log(`${'case'.padEnd(w1)} | ${'result'.padEnd(w2)} | note`);
  console.log(`${'-'.repeat(w1)}-|-${'-'.repeat(w2)}-|-----`);
  for (const r of rows)
    console.log(`${r.name.padEnd(w1)} | ${r.value.padEnd(w2)} | ${r.note ?? ''}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
