/**
 * Fuzz targets for the decoders that read bytes from the network (shared by
 * scripts/fuzz/fuzzDecoders.ts, which runs many cases, and the unit suite, which runs a few
 * hundred). Every case feeds random bytes, or a mutation of a valid input, to one decoder and
 * checks that it ends in either a valid decode or a clean, typed rejection:
 *
 *  - frame:     FrameDecoder.push over random chunkings; FrameTooLargeError or frames whose bytes
 *               add up to no more than the input;
 *  - sync:      decodeSyncMessage; SyncMessageError, or a message that encodes back to the same
 *               bytes (the codec is canonical);
 *  - unit:      decodeSyncMessage + verifySignedUnit + validateYjsUpdate on mutated signed units;
 *               a changed unit never verifies, and nothing throws;
 *  - handshake: the responder's first-message parser (decodeHandshakeMessage for HELLO_I, then
 *               the version negotiation and the device id); ProtocolError with a known reason.
 *
 * A case over `caseTimeMs` fails as a hang (a real infinite loop is caught by the script's
 * watchdog process instead).
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import * as Y from 'yjs';
import { ProtocolError } from '../../src/sync/channel/ProtocolError';
import {
  MessageType,
  SUPPORTED_VERSIONS,
  decodeHandshakeMessage,
  encodeAbort,
  encodeHelloInitiator,
  negotiateVersion,
} from '../../src/sync/channel/wire';
import { DeviceIdentity, deviceIdFromPublicKey } from '../../src/sync/identity/DeviceIdentity';
import { rawPublicKey } from '../../src/sync/identity/ed25519';
import {
  SyncMessageError,
  decodeSyncMessage,
  encodePing,
  encodePong,
  encodeFileMessage,
  encodeKeyRotated,
  encodeStateVectorReport,
  encodeWorkspaceOffers,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeUnit,
  unitSignatureInput,
  verifySignedUnit,
  type SyncMessage,
} from '../../src/sync/session/syncMessages';
import { validateYjsUpdate } from '../../src/sync/session/validateYjsUpdate';
import {
  FrameDecoder,
  FrameTooLargeError,
  encodeFrame,
} from '../../src/sync/transport/FrameDecoder';

export type TargetName = 'frame' | 'sync' | 'unit' | 'handshake';
export const TARGETS: readonly TargetName[] = ['frame', 'sync', 'unit', 'handshake'];

export interface TargetOptions {
  /** A single case taking longer than this fails (default 2000 ms). */
  readonly caseTimeMs?: number;
}

const WORKSPACE = 'default';
const author = DeviceIdentity.generate();

function yjsUpdate(seed: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('graph.nodes').set(seed, { label: seed, n: [1, 2.5, true, null] });
  doc.getText('t').insert(0, `héllo ${seed}`);
  return Y.encodeStateAsUpdate(doc);
}

function signedUnit(seq: number): Uint8Array {
  const update = yjsUpdate(`u${seq}`);
  const signature = author.sign(unitSignatureInput(WORKSPACE, author.deviceId, 7, seq, update));
  return encodeUnit({ author: author.deviceId, epoch: 7, seq, update, signature });
}

const validSyncMessages: readonly Uint8Array[] = [
  encodeSyncStep1(WORKSPACE, Y.encodeStateVector(new Y.Doc())),
  encodeSyncStep1('ws-ü', new Uint8Array([1, 2, 3])),
  encodeSyncStep2(yjsUpdate('s2')),
  encodeSyncStep2(yjsUpdate('s2f'), true),
  signedUnit(1),
  encodePing(7),
  encodePong(0xffffffff),
  encodeStateVectorReport(new Uint8Array([1, 200, 1, 5])),
  encodeFileMessage({ type: 'FileStep1', fileId: 'f_0-A', stateVector: new Uint8Array([1, 2, 3]) }),
  encodeFileMessage({ type: 'FileUpdate', fileId: 'x'.repeat(64), update: yjsUpdate('f') }),
  encodeFileMessage({ type: 'BlobRequest', hash: 'ab'.repeat(32), offset: 2 ** 33, length: 4096 }),
  encodeFileMessage({
    type: 'BlobChunk',
    hash: '0f'.repeat(32),
    offset: 3,
    total: 2 ** 40,
    bytes: new Uint8Array([9, 8, 7]),
  }),
  encodeFileMessage({ type: 'BlobMissing', hash: 'e3'.repeat(32) }),
];
const validUnits: readonly Uint8Array[] = [signedUnit(2), signedUnit(3)];
const validHellos: readonly Uint8Array[] = [0, 1].map((flags) => {
  const e = generateKeyPairSync('x25519');
  return encodeHelloInitiator(
    SUPPORTED_VERSIONS,
    flags,
    rawPublicKey(e.publicKey),
    author.publicKey,
  );
});
const handshakeSamples: readonly Uint8Array[] = [
  ...validHellos,
  encodeAbort(SUPPORTED_VERSIONS, 2),
];

/** A mutation that always changes the bytes: byte flips, then an optional cut and extension. */
const mutationArb = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
    minLength: 0,
    maxLength: 4,
  }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  extend: fc.uint8Array({ maxLength: 8 }),
});

type Mutation = { flips: [number, number][]; cut: number | undefined; extend: Uint8Array };

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const [at, xor] of m.flips) {
    if (out.length === 0) break;
    const i = at % out.length;
    out[i] = (out[i] ?? 0) ^ xor;
  }
  if (m.cut !== undefined) out = out.slice(0, m.cut % (out.length + 1));
  if (m.extend.length > 0) out = Uint8Array.from([...out, ...m.extend]);
  if (Buffer.from(out).equals(bytes)) {
    out = out.length > 0 ? out : new Uint8Array(1);
    out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0x01;
    if (Buffer.from(out).equals(bytes)) out = Uint8Array.from([...out, 0]);
  }
  return out;
}

/** Random bytes, or a mutation of one of `samples`. */
function inputArb(samples: readonly Uint8Array[], maxRandom = 512): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: maxRandom }),
    fc
      .tuple(fc.integer({ min: 0, max: samples.length - 1 }), mutationArb)
      .map(([i, m]) => mutate(samples[i] ?? new Uint8Array(), m)),
  );
}

function timed(caseTimeMs: number, what: string, body: () => void): void {
  const t0 = performance.now();
  body();
  const ms = performance.now() - t0;
  if (ms > caseTimeMs) throw new Error(`${what}: one case took ${ms.toFixed(0)} ms (hang?)`);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function reencode(m: SyncMessage): Uint8Array {
  switch (m.type) {
    case 'SyncStep1':
      return encodeSyncStep1(m.workspaceId, m.stateVector);
    case 'SyncStep2':
      return encodeSyncStep2(m.update, m.forwarded);
    case 'Unit':
      return encodeUnit(m);
    case 'Ping':
      return encodePing(m.nonce);
    case 'Pong':
      return encodePong(m.nonce);
    case 'StateVector':
      return encodeStateVectorReport(m.stateVector);
    case 'WorkspaceOffers':
      return encodeWorkspaceOffers(m.offers);
    case 'KeyRotated':
      return encodeKeyRotated(m.certificate);
    case 'FileStep1':
    case 'FileUpdate':
    case 'BlobRequest':
    case 'BlobChunk':
    case 'BlobMissing':
      return encodeFileMessage(m);
  }
}

const SYNC_LIMITS = { maxUnitUpdateBytes: 4096, maxStep2Bytes: 64 * 1024 };

/** One sync message: a clean SyncMessageError, or a canonical decode. */
export function checkSyncMessage(bytes: Uint8Array): 'ok' | 'rejected' {
  let message: SyncMessage;
  try {
    message = decodeSyncMessage(bytes, SYNC_LIMITS);
  } catch (error) {
    if (error instanceof SyncMessageError) return 'rejected';
    throw error;
  }
  if (!same(reencode(message), bytes)) throw new Error('decode is not the inverse of encode');
  return 'ok';
}

const HANDSHAKE_REASONS = new Set(['bad_magic', 'malformed', 'peer_too_old', 'peer_too_new']);

export interface RunParams {
  readonly numRuns: number;
  readonly seed?: number;
}

/** Runs `numRuns` cases of one target; throws (fast-check's report, with seed and path) on a failure. */
export function runTarget(name: TargetName, params: RunParams, options: TargetOptions = {}): void {
  const caseTimeMs = options.caseTimeMs ?? 2000;
  switch (name) {
    case 'frame':
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 1024 }),
            fc
              .tuple(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), mutationArb)
              .map(([payloads, m]) => {
                const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
                return stream.length > 0 ? mutate(stream, m) : stream;
              }),
          ),
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.integer({ min: 0, max: 300 }),
          (stream, cuts, cap) => {
            timed(caseTimeMs, 'FrameDecoder', () => {
              const decoder = new FrameDecoder({ maxFrameBytes: cap });
              const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort(
                (x, y) => x - y,
              );
              let at = 0;
              let out = 0;
              for (const end of [...points, stream.length]) {
                try {
                  for (const frame of decoder.push(stream.subarray(at, end))) {
                    if (frame.length > cap) throw new Error('frame over the cap');
                    out += 4 + frame.length;
                  }
                } catch (error) {
                  if (error instanceof FrameTooLargeError) return;
                  throw error;
                }
                at = end;
              }
              if (out > stream.length) throw new Error('more frame bytes out than in');
            });
          },
        ),
        params,
      );
      return;
    case 'sync':
      fc.assert(
        fc.property(inputArb(validSyncMessages), (bytes) => {
          timed(caseTimeMs, 'decodeSyncMessage', () => {
            checkSyncMessage(bytes);
          });
        }),
        params,
      );
      return;
    case 'unit':
      fc.assert(
        fc.property(fc.integer({ min: 0, max: validUnits.length - 1 }), mutationArb, (i, m) => {
          timed(caseTimeMs, 'signed unit', () => {
            const original = validUnits[i] ?? new Uint8Array();
            const bytes = mutate(original, m);
            let message: SyncMessage;
            try {
              message = decodeSyncMessage(bytes, SYNC_LIMITS);
            } catch (error) {
              if (error instanceof SyncMessageError) return;
              throw error;
            }
            if (message.type !== 'Unit') return;
            if (verifySignedUnit(WORKSPACE, message, author.publicKey)) {
              throw new Error('a changed unit verified');
            }
            // The rest of the chain must not throw either, whatever the bytes.
            validateYjsUpdate(message.update);
            verifySignedUnit(WORKSPACE, message, message.signature.subarray(0, 32));
          });
        }),
        params,
      );
      return;
    case 'handshake':
      fc.assert(
        fc.property(inputArb(handshakeSamples, 256), (bytes) => {
          timed(caseTimeMs, 'HELLO_I parser', () => {
            try {
              const message = decodeHandshakeMessage(bytes, MessageType.HelloInitiator);
              if (message.kind === 'hello_initiator') {
                negotiateVersion(SUPPORTED_VERSIONS, message.header.versions);
                if (deviceIdFromPublicKey(message.staticKey).length !== 32) {
                  throw new Error('bad device id');
                }
              } else if (message.kind !== 'abort') {
                throw new Error(`unexpected ${message.kind} for a HELLO_I`);
              }
            } catch (error) {
              if (error instanceof ProtocolError && HANDSHAKE_REASONS.has(error.reason)) return;
              throw error;
            }
          });
        }),
        params,
      );
      return;
  }
}
