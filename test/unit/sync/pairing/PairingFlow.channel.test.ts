/**
 * PairingFlow over the real handshake and secure channel (src/sync/channel) on an in-memory
 * transport: the code really keys the handshake's HMAC, both ways.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { handshake } from '../../../../src/sync/channel/handshake';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import { PairingCodes } from '../../../../src/sync/pairing/PairingCodes';
import {
  PairingError,
  PairingFlow,
  type PairingHandshake,
} from '../../../../src/sync/pairing/PairingFlow';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import type { Transport } from '../../../../src/sync/transport/Transport';
import { TrustStore } from '../../../../src/sync/trust/TrustStore';

// The channel's handshake is what PairingFlow is built for: this must type-check.
const realHandshake: PairingHandshake<Transport, DeviceIdentity> = handshake;

async function device(name: string): Promise<{
  identity: DeviceIdentity;
  trust: TrustStore;
  codes: PairingCodes;
  flow: PairingFlow<Transport, DeviceIdentity>;
}> {
  const identity = DeviceIdentity.generate();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'tw-pair-real-')), 'trusted.json');
  const trust = await TrustStore.open(file);
  const codes = new PairingCodes();
  const flow = new PairingFlow<Transport, DeviceIdentity>({
    identity,
    trust,
    codes,
    handshake: realHandshake,
    localName: name,
  });
  return { identity, trust, codes, flow };
}

describe('PairingFlow with the real handshake', function () {
  this.timeout(20_000);

  it('pairs two devices: both trusted, same SAS, channel usable afterwards', async () => {
    const a = await device('Desktop');
    const b = await device('Laptop');
    const { code } = a.codes.issue(Date.now());
    const [ta, tb] = MemoryDuplex.pair();
    const [atA, atB] = await Promise.all([
      a.flow.acceptPairing(() => Promise.resolve<Transport>(ta)),
      b.flow.joinPairing(() => Promise.resolve<Transport>(tb), code.toLowerCase(), {
        expectedDeviceId: a.identity.deviceId,
      }),
    ]);
    assert.equal(atA.sas, atB.sas);
    assert.equal(a.trust.isTrusted(b.identity.deviceId, b.identity.publicKey), true);
    assert.equal(b.trust.isTrusted(a.identity.deviceId, a.identity.publicKey), true);
    assert.equal(a.trust.get(b.identity.deviceId)?.name, 'Laptop');
    assert.equal(b.trust.get(a.identity.deviceId)?.name, 'Desktop');

    const received = new Promise<string>((resolve) => {
      atA.channel.onMessage((m) => {
        resolve(new TextDecoder().decode(m));
      });
    });
    await atB.channel.send(new TextEncoder().encode('first sync message'));
    assert.equal(await received, 'first sync message');
    atA.channel.close('done');
    atB.channel.close('done');
  });

  it('a wrong code fails on both sides and stores nothing', async () => {
    const a = await device('Desktop');
    const b = await device('Laptop');
    const { canonical } = a.codes.issue(Date.now());
    const wrong = canonical.slice(0, -1) + (canonical.endsWith('0') ? '1' : '0');
    const [ta, tb] = MemoryDuplex.pair();
    const [accepted, joined] = await Promise.allSettled([
      a.flow.acceptPairing(() => Promise.resolve<Transport>(ta)),
      b.flow.joinPairing(() => Promise.resolve<Transport>(tb), wrong),
    ]);
    assert.equal(accepted.status, 'rejected');
    assert.equal(joined.status, 'rejected');
    const errA: unknown = accepted.reason;
    const errB: unknown = joined.reason;
    assert.ok(errA instanceof PairingError && errA.code === 'unauthorized', String(errA));
    assert.ok(errB instanceof PairingError && errB.code === 'unauthorized', String(errB));
    assert.equal(errA.reason, 'wrong');
    assert.equal(errB.reason, 'code_rejected');
    assert.deepEqual(a.trust.list(), []);
    assert.deepEqual(b.trust.list(), []);
  });
});
