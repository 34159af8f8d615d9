import { strict as assert } from 'node:assert';
import { generateKeyPairSync, diffieHellman } from 'node:crypto';
import { FrameCipher } from '../../../../src/sync/channel/FrameCipher';
import { handshake } from '../../../../src/sync/channel/handshake';
import {
  deriveSessionKeys,
  signatureInput,
  transcriptHash,
} from '../../../../src/sync/channel/keySchedule';
import { aeadSeal } from '../../../../src/sync/channel/FrameCipher';
import { ProtocolError, isProtocolError } from '../../../../src/sync/channel/ProtocolError';
import type { SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import {
  AbortReason,
  MessageType,
  SUPPORTED_VERSIONS,
  decodeHandshakeMessage,
  encodeHelloInitiator,
  encodeHelloResponderHead,
} from '../../../../src/sync/channel/wire';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import { rawPublicKey, x25519PublicKeyFromRaw } from '../../../../src/sync/identity/ed25519';
import { encodeFrame } from '../../../../src/sync/transport/FrameDecoder';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import { TcpTransport } from '../../../../src/sync/transport/TcpTransport';
import {
  RawPeer,
  alice,
  bob,
  connected,
  countDecryptions,
  fakeClock,
  mallory,
  rejection,
  settle,
  shake,
  text,
  utf8,
} from './helpers';

function validHelloFrom(identity: DeviceIdentity): Uint8Array {
  const e = generateKeyPairSync('x25519');
  return encodeHelloInitiator(SUPPORTED_VERSIONS, 0, rawPublicKey(e.publicKey), identity.publicKey);
}

function reasonOf(err: unknown): string {
  assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
  return err.reason;
}

function nextMessage(channel: SecureChannel): Promise<string> {
  return new Promise((resolve) => {
    const off = channel.onMessage((m) => {
      off();
      resolve(text(m));
    });
  });
}

describe('handshake', () => {
  it('authenticates both sides over a MemoryDuplex and carries messages both ways', async () => {
    const seen: [string, string][] = [];
    const settled = await shake(
      {
        isTrusted: (id, key) => {
          seen.push(['initiator', id]);
          return Buffer.from(key).equals(bob.publicKey);
        },
      },
      {
        isTrusted: async (id) => {
          seen.push(['responder', id]);
          await Promise.resolve();
          return id === alice.deviceId;
        },
      },
    );
    assert.equal(settled.initiator.status, 'fulfilled');
    assert.equal(settled.responder.status, 'fulfilled');
    const a = settled.initiator.value;
    const b = settled.responder.value;
    assert.equal(a.remoteDeviceId, bob.deviceId);
    assert.equal(b.remoteDeviceId, alice.deviceId);
    assert.deepEqual(a.remotePublicKey, bob.publicKey);
    assert.deepEqual(b.remotePublicKey, alice.publicKey);
    assert.match(a.sas, /^\d{6}$/);
    assert.equal(a.sas, b.sas);
    assert.equal(a.paired, false);
    assert.equal(a.protocolVersion, 3);
    assert.deepEqual(seen, [
      ['responder', alice.deviceId],
      ['initiator', bob.deviceId],
    ]);

    const toB = nextMessage(b);
    await a.send(utf8('hello bob'));
    assert.equal(await toB, 'hello bob');
    const toA = nextMessage(a);
    await b.send(utf8('hello alice'));
    assert.equal(await toA, 'hello alice');
    a.close('done');
    b.close('done');
  });

  it('gives a different SAS and keys to every session', async () => {
    const one = await connected();
    const two = await connected();
    // 6 digits collide with probability 1e-6: a failure here means the SAS ignores the transcript.
    assert.notEqual(one.a.sas, two.a.sas);
    one.a.close();
    two.a.close();
  });

  it('works when the stream arrives one byte at a time', async () => {
    const { a, b } = await connected({ chunkSize: 1 });
    const got = nextMessage(b);
    await a.send(utf8('trickled'));
    assert.equal(await got, 'trickled');
    a.close();
  });

  it('works over real TCP on 127.0.0.1', async () => {
    let responder: Promise<SecureChannel> | undefined;
    const listener = await TcpTransport.listen({ host: '127.0.0.1', port: 0 }, (transport) => {
      responder = handshake(transport, {
        identity: bob,
        role: 'responder',
        isTrusted: (id) => id === alice.deviceId,
      });
    });
    try {
      const transport = await TcpTransport.connect({ host: '127.0.0.1', port: listener.port });
      assert.match(transport.description, /^tcp 127\.0\.0\.1:\d+$/);
      const a = await handshake(transport, {
        identity: alice,
        role: 'initiator',
        isTrusted: (id) => id === bob.deviceId,
      });
      assert.ok(responder);
      const b = await responder;
      assert.equal(a.sas, b.sas);
      assert.equal(b.remoteDeviceId, alice.deviceId);
      const got = nextMessage(b);
      await a.send(utf8('over tcp'));
      assert.equal(await got, 'over tcp');
      const closed = new Promise((resolve) => b.onClose(resolve));
      a.close('bye');
      assert.deepEqual(await closed, { by: 'peer', message: 'bye' });
    } finally {
      await listener.close();
    }
  });

  describe('authorization', () => {
    it('rejects an unknown initiator before reading anything else from it', async () => {
      const frames: { direction: string; type: number | undefined }[] = [];
      let asked = 0;
      let settled: Awaited<ReturnType<typeof shake>> | undefined;
      const decrypted = await countDecryptions(async () => {
        settled = await shake(
          { isTrusted: () => true },
          {
            isTrusted: () => {
              asked += 1;
              return false;
            },
          },
          {
            intercept: (payload, _index, direction) => {
              frames.push({ direction, type: payload[8] });
              return [payload];
            },
          },
        );
      });
      assert.ok(settled);
      assert.equal(reasonOf(rejection(settled.responder)), 'untrusted_peer');
      const initiatorError = rejection(settled.initiator);
      assert.equal(reasonOf(initiatorError), 'rejected_by_peer');
      assert.equal((initiatorError as ProtocolError).code, 'unauthorized');
      assert.match((initiatorError as Error).message, /does not trust this device/);
      assert.equal(asked, 1);
      assert.equal(decrypted, 0);
      // Only HELLO_I went in; only an ABORT came back; both transports are closed.
      assert.deepEqual(frames, [
        { direction: 'a->b', type: MessageType.HelloInitiator },
        { direction: 'b->a', type: MessageType.Abort },
      ]);
      await settle();
      assert.ok(settled.a.closed && settled.b.closed);
    });

    it('never decrypts application frames a peer pipelines behind its handshake when it is not trusted', async () => {
      // Mallory answers as a responder and immediately sends a valid application frame.
      const run = async (trustMallory: boolean): Promise<{ err?: unknown; got: string[] }> => {
        const [a, b] = MemoryDuplex.pair();
        const raw = new RawPeer(b);
        const got: string[] = [];
        const evil = (async () => {
          const first = await raw.next();
          assert.ok(first);
          const hello = decodeHandshakeMessage(first, MessageType.HelloInitiator);
          assert.equal(hello.kind, 'hello_initiator');
          const e = generateKeyPairSync('x25519');
          const head = encodeHelloResponderHead(
            SUPPORTED_VERSIONS,
            0,
            rawPublicKey(e.publicKey),
            mallory.publicKey,
          );
          const th = transcriptHash(first, head);
          const dh = diffieHellman({
            privateKey: e.privateKey,
            publicKey: x25519PublicKeyFromRaw(hello.ephemeral),
          });
          const keys = deriveSessionKeys(dh, th);
          const sealed = aeadSeal(
            keys.handshakeR2I,
            0,
            th,
            mallory.sign(signatureInput('responder', th)),
          );
          const helloR = encodeFrame(Buffer.concat([head, sealed]));
          const app = new FrameCipher(keys.appR2I).seal(0, utf8('pipelined'));
          b.write(Buffer.concat([helloR, app]));
        })();
        let err: unknown;
        try {
          const channel = await handshake(a, {
            identity: alice,
            role: 'initiator',
            isTrusted: (id) => trustMallory && id === mallory.deviceId,
          });
          channel.onMessage((m) => got.push(text(m)));
          await settle();
        } catch (e) {
          err = e;
        }
        await evil;
        return err === undefined ? { got } : { err, got };
      };

      let outcome: { err?: unknown; got: string[] } | undefined;
      const decrypted = await countDecryptions(async () => {
        outcome = await run(false);
      });
      assert.ok(outcome);
      assert.equal(reasonOf(outcome.err), 'untrusted_peer');
      assert.deepEqual(outcome.got, []);
      assert.equal(decrypted, 0);

      // Control: had the key been trusted, that same frame would have been decrypted and delivered.
      const control = await countDecryptions(async () => {
        outcome = await run(true);
      });
      assert.equal(outcome.err, undefined);
      assert.deepEqual(outcome.got, ['pipelined']);
      assert.equal(control, 1);
    });

    it('rejects a device that was trusted and then revoked', async () => {
      const trusted = new Set([alice.deviceId]);
      const responderSide = { isTrusted: (id: string) => trusted.has(id) };
      const first = await shake({ isTrusted: () => true }, responderSide);
      assert.equal(first.responder.status, 'fulfilled');
      trusted.delete(alice.deviceId);
      const second = await shake({ isTrusted: () => true }, responderSide);
      assert.equal(reasonOf(rejection(second.responder)), 'untrusted_peer');
      assert.equal(reasonOf(rejection(second.initiator)), 'rejected_by_peer');
    });

    it('lets the initiator reject an untrusted responder', async () => {
      const settled = await shake({ isTrusted: () => false }, { isTrusted: () => true });
      assert.equal(reasonOf(rejection(settled.initiator)), 'untrusted_peer');
      // The responder learns it was refused.
      assert.equal(reasonOf(rejection(settled.responder)), 'rejected_by_peer');
    });

    it('treats a throwing trust check as an internal error, not as trust', async () => {
      const settled = await shake(
        { isTrusted: () => true },
        {
          isTrusted: () => {
            throw new Error('registry unavailable');
          },
        },
      );
      assert.equal(reasonOf(rejection(settled.responder)), 'internal');
      assert.equal(settled.initiator.status, 'rejected');
    });

    it("refuses a peer presenting this device's own key", async () => {
      const [a, b] = MemoryDuplex.pair();
      const results = await Promise.allSettled([
        handshake(a, { identity: alice, role: 'initiator', isTrusted: () => true }),
        handshake(b, { identity: alice, role: 'responder', isTrusted: () => true }),
      ]);
      assert.equal(reasonOf(rejection(results[1])), 'auth_failed');
    });
  });

  describe('replay', () => {
    it("rejects a replay of an old initiator flight (the responder's fresh ephemeral changes the transcript)", async () => {
      const flight: Uint8Array[] = [];
      const original = await shake(
        { isTrusted: () => true },
        { isTrusted: () => true },
        {
          intercept: (payload, _i, direction) => {
            if (direction === 'a->b') flight.push(Uint8Array.from(payload));
            return [payload];
          },
        },
      );
      assert.equal(original.responder.status, 'fulfilled');
      assert.equal(flight.length, 2); // HELLO_I, FINISH_I

      const [a, b] = MemoryDuplex.pair();
      const raw = new RawPeer(a);
      let channelMessages = 0;
      const responder = handshake(b, {
        identity: bob,
        role: 'responder',
        isTrusted: () => true,
      }).then((channel) => {
        channel.onMessage(() => (channelMessages += 1));
        return channel;
      });
      a.write(encodeFrame(flight[0]!));
      const helloR = await raw.next();
      assert.ok(helloR);
      assert.equal(helloR[8], MessageType.HelloResponder);
      a.write(encodeFrame(flight[1]!));
      await assert.rejects(responder, (err) => reasonOf(err) === 'auth_failed');
      const abort = await raw.next();
      assert.ok(abort);
      assert.equal(abort[8], MessageType.Abort);
      assert.equal(abort[9], AbortReason.Auth);
      assert.equal(channelMessages, 0);
    });

    it('rejects a replay of an old responder flight', async () => {
      const flight: Uint8Array[] = [];
      await shake(
        { isTrusted: () => true },
        { isTrusted: () => true },
        {
          intercept: (payload, _i, direction) => {
            if (direction === 'b->a') flight.push(Uint8Array.from(payload));
            return [payload];
          },
        },
      );
      const [a, b] = MemoryDuplex.pair();
      const raw = new RawPeer(b);
      const initiator = handshake(a, { identity: alice, role: 'initiator', isTrusted: () => true });
      assert.ok(await raw.next()); // the new HELLO_I
      b.write(encodeFrame(flight[0]!));
      await assert.rejects(initiator, (err) => reasonOf(err) === 'auth_failed');
    });
  });

  describe('versions', () => {
    it('tells a v1 responder that a v2-only initiator is too new, and the initiator that it is too old', async () => {
      const settled = await shake(
        { isTrusted: () => true, versions: { min: 2, max: 2 } },
        { isTrusted: () => true, versions: { min: 1, max: 1 } },
      );
      const responderError = rejection(settled.responder) as ProtocolError;
      const initiatorError = rejection(settled.initiator) as ProtocolError;
      assert.equal(responderError.reason, 'peer_too_new');
      assert.match(responderError.message, /Update Twinspace on this device/);
      assert.equal(initiatorError.reason, 'peer_too_old');
      assert.match(initiatorError.message, /Update Twinspace on the peer/);
    });

    it('mirrors when the responder is the newer one', async () => {
      const settled = await shake(
        { isTrusted: () => true },
        { isTrusted: () => true, versions: { min: 4, max: 5 } },
      );
      assert.equal(reasonOf(rejection(settled.initiator)), 'peer_too_new');
      assert.equal(reasonOf(rejection(settled.responder)), 'peer_too_old');
    });

    it('two current builds agree on version 3 (offers, key rotation, file messages)', async () => {
      const settled = await shake({ isTrusted: () => true }, { isTrusted: () => true });
      assert.equal(settled.initiator.status, 'fulfilled');
      assert.equal(settled.responder.status, 'fulfilled');
      assert.equal(settled.initiator.value.protocolVersion, 3);
      assert.equal(settled.responder.value.protocolVersion, 3);
      settled.initiator.value.close();
    });

    it('agrees on version 1 with a version 1 peer when the ranges overlap', async () => {
      const settled = await shake(
        { isTrusted: () => true, versions: { min: 1, max: 5 } },
        { isTrusted: () => true, versions: { min: 1, max: 1 } },
      );
      assert.equal(settled.initiator.status, 'fulfilled');
      assert.equal(settled.responder.status, 'fulfilled');
      const a = settled.initiator.value;
      const b = settled.responder.value;
      assert.equal(a.protocolVersion, 1);
      assert.equal(b.protocolVersion, 1);
      a.close();
    });

    it('says nothing to a peer that does not speak the protocol', async () => {
      const [a, b] = MemoryDuplex.pair();
      const raw = new RawPeer(a);
      const responder = handshake(b, { identity: bob, role: 'responder', isTrusted: () => true });
      a.write(encodeFrame(utf8('GET / HTTP/1.1')));
      await assert.rejects(responder, (err) => reasonOf(err) === 'bad_magic');
      assert.equal(await raw.next(), undefined); // closed, no ABORT sent
    });
  });

  describe('pairing', () => {
    it('authenticates a first handshake between untrusting devices by the code', async () => {
      let asked = 0;
      const isTrusted = (): boolean => {
        asked += 1;
        return false;
      };
      const settled = await shake(
        { isTrusted, pairingCode: 'abcd-efgh ijkl' },
        { isTrusted, pairingCode: 'ABCDEFGHIJKL' },
      );
      assert.equal(settled.initiator.status, 'fulfilled');
      assert.equal(settled.responder.status, 'fulfilled');
      assert.equal(settled.initiator.value.paired, true);
      assert.equal(settled.responder.value.paired, true);
      assert.equal(settled.initiator.value.sas, settled.responder.value.sas);
      assert.equal(settled.responder.value.remoteDeviceId, alice.deviceId);
      assert.equal(asked, 0);
      const got = nextMessage(settled.responder.value);
      await settled.initiator.value.send(utf8('paired'));
      assert.equal(await got, 'paired');
      settled.initiator.value.close();
    });

    it('fails on both sides with a wrong code, without either side sending its code', async () => {
      const wire: Uint8Array[] = [];
      const settled = await shake(
        { isTrusted: () => true, pairingCode: 'AAAA-BBBB-CCCC' },
        { isTrusted: () => true, pairingCode: 'AAAA-BBBB-CCCD' },
        {
          intercept: (payload) => {
            wire.push(Uint8Array.from(payload));
            return [payload];
          },
        },
      );
      const i = rejection(settled.initiator) as ProtocolError;
      const r = rejection(settled.responder) as ProtocolError;
      assert.equal(i.reason, 'pairing_failed');
      assert.equal(r.reason, 'pairing_failed');
      assert.equal(i.code, 'unauthorized');
      for (const code of ['AAAABBBBCCCC', 'AAAABBBBCCCD', 'AAAA-BBBB']) {
        const bytes = Buffer.from(code);
        assert.ok(wire.every((frame) => Buffer.from(frame).indexOf(bytes) < 0));
      }
      assert.ok(!i.message.includes('AAAA') && !r.message.includes('AAAA'));
    });

    it('refuses a pairing request when no pairing is active on the responder', async () => {
      const settled = await shake(
        { isTrusted: () => true, pairingCode: 'AAAA-BBBB-CCCC' },
        { isTrusted: () => true },
      );
      assert.equal(reasonOf(rejection(settled.initiator)), 'pairing_failed');
      assert.equal(reasonOf(rejection(settled.responder)), 'pairing_failed');
    });

    it('lets trusted devices connect normally while a pairing code is active', async () => {
      const settled = await shake(
        { isTrusted: () => true },
        { isTrusted: (id) => id === alice.deviceId, pairingCode: 'AAAA-BBBB-CCCC' },
      );
      assert.equal(settled.responder.status, 'fulfilled');
      assert.equal(settled.responder.value.paired, false);
    });
  });

  describe('timeouts and closed transports', () => {
    it('times out a responder whose peer never speaks, and closes the transport', async () => {
      const { fake, clock } = fakeClock();
      const [a, b] = MemoryDuplex.pair();
      const raw = new RawPeer(a);
      const responder = handshake(b, {
        identity: bob,
        role: 'responder',
        isTrusted: () => true,
        clock,
        timeoutMs: 5_000,
      });
      let outcome: unknown;
      responder.catch((err: unknown) => (outcome = err));
      fake.tick(4_999);
      await settle();
      assert.equal(outcome, undefined);
      fake.tick(1);
      await settle();
      assert.equal(reasonOf(outcome), 'timeout');
      const abort = await raw.next();
      assert.ok(abort);
      assert.equal(abort[8], MessageType.Abort);
      assert.equal(abort[9], AbortReason.Timeout);
      assert.equal(await raw.next(), undefined);
      assert.ok(b.closed && a.closed);
    });

    it('times out while the trust check hangs', async () => {
      const { fake, clock } = fakeClock();
      const [a, b] = MemoryDuplex.pair();
      const responder = handshake(b, {
        identity: bob,
        role: 'responder',
        isTrusted: () => new Promise<boolean>(() => undefined),
        clock,
        timeoutMs: 1_000,
      });
      const initiator = handshake(a, {
        identity: alice,
        role: 'initiator',
        isTrusted: () => true,
        clock,
        timeoutMs: 60_000,
      });
      await settle();
      fake.tick(1_000);
      await assert.rejects(responder, (err) => reasonOf(err) === 'timeout');
      // The initiator is told (ABORT with reason timeout).
      await assert.rejects(initiator, (err) => reasonOf(err) === 'timeout');
    });

    it('fails with closed when the peer hangs up mid-handshake', async () => {
      const [a, b] = MemoryDuplex.pair();
      const raw = new RawPeer(b);
      const initiator = handshake(a, { identity: alice, role: 'initiator', isTrusted: () => true });
      assert.ok(await raw.next());
      b.close();
      await assert.rejects(initiator, (err) => isProtocolError(err, 'closed'));
    });

    it('stops waiting on a hanging trust check when the peer hangs up', async () => {
      const [a, b] = MemoryDuplex.pair();
      const raw = new RawPeer(a);
      const responder = handshake(b, {
        identity: bob,
        role: 'responder',
        isTrusted: () => new Promise<boolean>(() => undefined),
      });
      a.write(encodeFrame(validHelloFrom(alice)));
      await settle();
      a.close();
      await assert.rejects(responder, (err) => isProtocolError(err, 'closed'));
      assert.equal(await raw.next(), undefined);
    });

    it('fails at once on a transport that is already closed', async () => {
      const [a] = MemoryDuplex.pair();
      a.close();
      await settle();
      await assert.rejects(
        handshake(a, { identity: alice, role: 'initiator', isTrusted: () => true }),
        (err) => isProtocolError(err, 'closed'),
      );
    });
  });

  it('uses a fresh identity object equivalently to a reloaded one', async () => {
    const reloaded = DeviceIdentity.fromSeed(alice.exportSeed());
    const { a, b } = await connected({}, {});
    assert.equal(b.remoteDeviceId, reloaded.deviceId);
    a.close();
  });
});
