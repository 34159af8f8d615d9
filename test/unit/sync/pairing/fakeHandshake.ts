/**
 * A fake of the channel's handshake for PairingFlow tests: two sides meet on a FakeLink; the
 * pairing code decides the outcome the way the real handshake does (both sides must hold the same
 * code; a responder without a code refuses pairing; a non-pairing initiator goes through the
 * responder's isTrusted). Success gives both sides a FakeChannel connected to the other.
 */
import { createHash, randomBytes } from 'node:crypto';
import { TwinspaceError } from '../../../../src/core/errors';
import { deviceIdFromPublicKey } from '../../../../src/sync/identity/DeviceIdentity';
import type {
  PairingChannel,
  PairingHandshake,
  PairingHandshakeOptions,
} from '../../../../src/sync/pairing/PairingFlow';

export interface FakeIdentity {
  readonly deviceId: string;
  readonly publicKey: Uint8Array;
}

export function fakeIdentity(): FakeIdentity {
  const publicKey = new Uint8Array(randomBytes(32));
  return { deviceId: deviceIdFromPublicKey(publicKey), publicKey };
}

interface Arrival {
  readonly options: PairingHandshakeOptions<FakeIdentity>;
  readonly resolve: (channel: PairingChannel) => void;
  readonly reject: (error: Error) => void;
}

/** One connection between two devices. `drop` makes the handshake fail as a network error. */
export class FakeLink {
  readonly arrivals: Arrival[] = [];
  drop = false;
  /** The options each side passed, for assertions. */
  readonly seen: PairingHandshakeOptions<FakeIdentity>[] = [];
}

export class FakeChannel implements PairingChannel {
  peer: FakeChannel | undefined;
  closedWith: string | undefined;
  private readonly inbox: Uint8Array[] = [];
  private readonly messageListeners = new Set<(m: Uint8Array) => void>();
  private readonly closeListeners = new Set<(info: { message: string }) => void>();

  constructor(
    readonly remoteDeviceId: string,
    readonly remotePublicKey: Uint8Array,
    readonly sas: string,
    readonly paired: boolean,
  ) {}

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  send(message: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new TwinspaceError('closed', 'channel closed'));
    const peer = this.peer;
    const copy = Uint8Array.from(message);
    queueMicrotask(() => peer?.receive(copy));
    return Promise.resolve();
  }

  onMessage(listener: (message: Uint8Array) => void): () => void {
    this.messageListeners.add(listener);
    queueMicrotask(() => {
      this.pump();
    });
    return () => this.messageListeners.delete(listener);
  }

  onClose(listener: (info: { message: string }) => void): () => void {
    if (this.closedWith !== undefined) {
      const message = this.closedWith;
      queueMicrotask(() => {
        listener({ message });
      });
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.finish(reason);
    const peer = this.peer;
    queueMicrotask(() => peer?.finish(`peer closed: ${reason}`));
  }

  /** Messages delivered while nobody listened (held, like SecureChannel). */
  get held(): number {
    return this.inbox.length;
  }

  private receive(message: Uint8Array): void {
    if (this.closed) return;
    this.inbox.push(message);
    this.pump();
  }

  private pump(): void {
    while (this.messageListeners.size > 0 && this.inbox.length > 0) {
      const message = this.inbox.shift()!;
      for (const listener of [...this.messageListeners]) listener(message);
    }
  }

  private finish(message: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = message;
    for (const listener of [...this.closeListeners]) listener({ message });
    this.closeListeners.clear();
  }
}

function sasOf(a: Uint8Array, b: Uint8Array): string {
  const digest = createHash('sha256').update(a).update(b).digest();
  return String(digest.readUInt32BE(0) % 1_000_000).padStart(6, '0');
}

/** The fake handshake: resolves when both sides of the link have arrived. */
export const fakeHandshake: PairingHandshake<FakeLink, FakeIdentity> = (link, options) => {
  link.seen.push(options);
  return new Promise<PairingChannel>((resolve, reject) => {
    link.arrivals.push({ options, resolve, reject });
    if (link.arrivals.length === 2) settle(link);
  });
};

function settle(link: FakeLink): void {
  const initiator = link.arrivals.find((a) => a.options.role === 'initiator');
  const responder = link.arrivals.find((a) => a.options.role === 'responder');
  if (!initiator || !responder) throw new Error('fake link needs one initiator and one responder');
  const fail = (error: TwinspaceError): void => {
    initiator.reject(error);
    responder.reject(error);
  };
  if (link.drop) {
    fail(new TwinspaceError('closed', 'connection reset'));
    return;
  }
  const i = initiator.options;
  const r = responder.options;
  const pairing = i.pairingCode !== undefined;
  if (pairing && r.pairingCode === undefined) {
    fail(new TwinspaceError('unauthorized', 'pairing failed on the peer: no pairing active'));
    return;
  }
  if (!pairing && !r.isTrusted(i.identity.deviceId, i.identity.publicKey)) {
    fail(new TwinspaceError('unauthorized', 'device is not trusted'));
    return;
  }
  if (pairing && i.pairingCode !== r.pairingCode) {
    fail(new TwinspaceError('unauthorized', 'pairing failed: the pairing code does not match'));
    return;
  }
  const sas = sasOf(i.identity.publicKey, r.identity.publicKey);
  const atInitiator = new FakeChannel(r.identity.deviceId, r.identity.publicKey, sas, pairing);
  const atResponder = new FakeChannel(i.identity.deviceId, i.identity.publicKey, sas, pairing);
  atInitiator.peer = atResponder;
  atResponder.peer = atInitiator;
  initiator.resolve(atInitiator);
  responder.resolve(atResponder);
}
