/** Shared helpers for the channel tests (not a test file itself). */
import { FrameCipher } from '../../../../src/sync/channel/FrameCipher';
import { handshake } from '../../../../src/sync/channel/handshake';
import type { HandshakeOptions } from '../../../../src/sync/channel/handshake';
import type { SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import { FrameDecoder } from '../../../../src/sync/transport/FrameDecoder';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import type { MemoryDuplexOptions } from '../../../../src/sync/transport/MemoryDuplex';
import type { Transport } from '../../../../src/sync/transport/Transport';
import { fakeClock } from '../../support/fakeClock';
export { fakeClock };

export const alice = DeviceIdentity.generate();
export const bob = DeviceIdentity.generate();
export const mallory = DeviceIdentity.generate();

export type Side = Omit<HandshakeOptions, 'identity' | 'role'> & {
  readonly identity?: DeviceIdentity;
};

export interface Settled {
  readonly initiator: PromiseSettledResult<SecureChannel>;
  readonly responder: PromiseSettledResult<SecureChannel>;
  readonly a: MemoryDuplex;
  readonly b: MemoryDuplex;
}

/** Alice (initiator, on `a`) and Bob (responder, on `b`) shake hands over a MemoryDuplex pair. */
export async function shake(
  initiator: Side,
  responder: Side,
  duplex: MemoryDuplexOptions = {},
): Promise<Settled> {
  const [a, b] = MemoryDuplex.pair(duplex);
  const [i, r] = await Promise.allSettled([
    handshake(a, { identity: alice, role: 'initiator', ...initiator }),
    handshake(b, { identity: bob, role: 'responder', ...responder }),
  ]);
  return { initiator: i, responder: r, a, b };
}

/** A connected pair that trusts each other; throws if the handshake fails. */
export async function connected(
  duplex: MemoryDuplexOptions = {},
  extra: Partial<Side> = {},
): Promise<{ a: SecureChannel; b: SecureChannel; ta: MemoryDuplex; tb: MemoryDuplex }> {
  const settled = await shake(
    { isTrusted: (id) => id === bob.deviceId, ...extra },
    { isTrusted: (id) => id === alice.deviceId, ...extra },
    duplex,
  );
  if (settled.initiator.status !== 'fulfilled') throw settled.initiator.reason;
  if (settled.responder.status !== 'fulfilled') throw settled.responder.reason;
  return { a: settled.initiator.value, b: settled.responder.value, ta: settled.a, tb: settled.b };
}

export function rejection(result: PromiseSettledResult<unknown>): unknown {
  if (result.status === 'fulfilled') throw new Error('expected a rejection, got a channel');
  return result.reason;
}

/** Reads a raw transport frame by frame (for hand-rolled peers). */
export class RawPeer {
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  private readonly frames: Uint8Array[] = [];
  private waiters: ((frame: Uint8Array | undefined) => void)[] = [];
  closed = false;

  constructor(readonly transport: Transport) {
    transport.onData((chunk) => {
      for (const frame of this.decoder.push(chunk)) {
        const waiter = this.waiters.shift();
        if (waiter) waiter(frame);
        else this.frames.push(frame);
      }
    });
    transport.onClose(() => {
      this.closed = true;
      for (const waiter of this.waiters) waiter(undefined);
      this.waiters = [];
    });
  }

  /** The next frame, or undefined once the transport closed. */
  next(): Promise<Uint8Array | undefined> {
    const frame = this.frames.shift();
    if (frame) return Promise.resolve(frame);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Counts FrameCipher.open calls (application-frame decryptions) while `fn` runs. */
export async function countDecryptions(fn: () => Promise<void>): Promise<number> {
  const proto = FrameCipher.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'open')?.value as (
    this: FrameCipher,
    payload: Uint8Array,
  ) => ReturnType<FrameCipher['open']>;
  let count = 0;
  proto.open = function (this: FrameCipher, payload: Uint8Array) {
    count += 1;
    return original.call(this, payload);
  };
  try {
    await fn();
  } finally {
    proto.open = original;
  }
  return count;
}

/** Lets queued microtasks and immediates run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
