/**
 * Hostile bytes against the handshake: random and mutated input must end every handshake with a
 * clean ProtocolError and a closed transport, never a crash, a channel, or a hang. Time is a fake
 * clock: a case that is still waiting for more input is released by the handshake timeout.
 */
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { handshake } from '../../../../src/sync/channel/handshake';
import { ProtocolError } from '../../../../src/sync/channel/ProtocolError';
import type { SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import { SUPPORTED_VERSIONS, encodeHelloInitiator } from '../../../../src/sync/channel/wire';
import { rawPublicKey } from '../../../../src/sync/identity/ed25519';
import { encodeFrame } from '../../../../src/sync/transport/FrameDecoder';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import type { Direction } from '../../../../src/sync/transport/MemoryDuplex';
import { alice, bob, fakeClock, settle } from './helpers';

const TIMEOUT_MS = 1_000;
const REASONS = new Set([
  'bad_magic',
  'peer_too_old',
  'peer_too_new',
  'malformed',
  'auth_failed',
  'pairing_failed',
  'frame_too_large',
  'timeout',
  'closed',
  'untrusted_peer',
  'rejected_by_peer',
]);

type Outcome = { channel: SecureChannel } | { error: unknown };

/** Settles `promise` within the bound: a few event-loop turns, then the handshake timeout. */
async function bounded(
  promise: Promise<SecureChannel>,
  fake: ReturnType<typeof fakeClock>['fake'],
): Promise<Outcome> {
  let outcome: Outcome | undefined;
  promise.then(
    (channel) => (outcome = { channel }),
    (error: unknown) => (outcome = { error }),
  );
  await settle(4);
  if (!outcome) {
    fake.tick(TIMEOUT_MS);
    await settle(4);
  }
  assert.ok(outcome, 'the handshake neither finished nor timed out');
  return outcome;
}

function assertCleanRejection(outcome: Outcome, transport: MemoryDuplex): void {
  assert.ok('error' in outcome, 'hostile input produced a channel');
  const err = outcome.error;
  assert.ok(err instanceof ProtocolError, `not a ProtocolError: ${String(err)}`);
  assert.ok(REASONS.has(err.reason), `unexpected reason ${err.reason}`);
  assert.ok(transport.closed, 'transport left open');
}

async function responderAgainst(bytes: readonly Uint8Array[]): Promise<void> {
  const { fake, clock } = fakeClock();
  const [a, b] = MemoryDuplex.pair();
  a.onData(() => undefined);
  const promise = handshake(b, {
    identity: bob,
    role: 'responder',
    isTrusted: () => true,
    clock,
    timeoutMs: TIMEOUT_MS,
  });
  for (const chunk of bytes) a.write(chunk);
  assertCleanRejection(await bounded(promise, fake), b);
}

const mutation = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  }),
  truncate: fc.option(fc.nat(), { nil: undefined }),
  extend: fc.uint8Array({ maxLength: 8 }),
});

function applyMutation(
  bytes: Uint8Array,
  m: { flips: [number, number][]; truncate: number | undefined; extend: Uint8Array },
): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const [at, xor] of m.flips) {
    const i = at % out.length;
    out[i] = (out[i] ?? 0) ^ xor;
  }
  if (m.truncate !== undefined) out = out.subarray(0, m.truncate % (out.length + 1));
  if (m.extend.length > 0) out = Uint8Array.from(Buffer.concat([out, m.extend]));
  // Flips may cancel out (same byte, same mask twice): a mutation must change something.
  if (Buffer.from(out).equals(bytes)) out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0x01;
  return out;
}

function validHelloInitiator(): Uint8Array {
  const e = generateKeyPairSync('x25519');
  return encodeHelloInitiator(SUPPORTED_VERSIONS, 0, rawPublicKey(e.publicKey), alice.publicKey);
}

describe('handshake fuzz', () => {
  it('responder: random raw bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        await responderAgainst([bytes]);
      }),
      { numRuns: 150 },
    );
  });

  it('responder: random framed bytes, one or more frames', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 3 }),
        async (frames) => {
          await responderAgainst(frames.map(encodeFrame));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('responder: a valid magic and header followed by random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 160 }), fc.nat(255), async (tail, type) => {
        const head = validHelloInitiator().subarray(0, 9);
        head[8] = type;
        await responderAgainst([encodeFrame(Buffer.concat([head, tail]))]);
      }),
      { numRuns: 150 },
    );
  });

  it('responder: mutated HELLO_I (then silence)', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        await responderAgainst([encodeFrame(applyMutation(validHelloInitiator(), m))]);
      }),
      { numRuns: 150 },
    );
  });

  it('responder: a live initiator whose FINISH_I is mutated in flight', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const { fake, clock } = fakeClock();
        const intercept = (payload: Uint8Array, index: number, direction: Direction) =>
          direction === 'a->b' && index === 1 ? [applyMutation(payload, m)] : [payload];
        const [a, b] = MemoryDuplex.pair({ intercept });
        const initiator = handshake(a, {
          identity: alice,
          role: 'initiator',
          isTrusted: () => true,
          clock,
          timeoutMs: TIMEOUT_MS,
        });
        initiator.then(
          (channel) => channel.onMessage(() => undefined),
          () => undefined,
        );
        const responder = handshake(b, {
          identity: bob,
          role: 'responder',
          isTrusted: () => true,
          clock,
          timeoutMs: TIMEOUT_MS,
        });
        assertCleanRejection(await bounded(responder, fake), b);
      }),
      { numRuns: 100 },
    );
  });

  it('initiator: a live responder whose HELLO_R is mutated in flight', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const { fake, clock } = fakeClock();
        const intercept = (payload: Uint8Array, index: number, direction: Direction) =>
          direction === 'b->a' && index === 0 ? [applyMutation(payload, m)] : [payload];
        const [a, b] = MemoryDuplex.pair({ intercept });
        const initiator = handshake(a, {
          identity: alice,
          role: 'initiator',
          isTrusted: () => true,
          clock,
          timeoutMs: TIMEOUT_MS,
        });
        const responder = handshake(b, {
          identity: bob,
          role: 'responder',
          isTrusted: () => true,
          clock,
          timeoutMs: TIMEOUT_MS,
        });
        responder.catch(() => undefined);
        assertCleanRejection(await bounded(initiator, fake), a);
      }),
      { numRuns: 100 },
    );
  });
});
