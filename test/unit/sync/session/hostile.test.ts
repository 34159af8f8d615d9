import { strict as assert } from 'node:assert';
import * as Y from 'yjs';
import { handshake } from '../../../../src/sync/channel/handshake';
import type { SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import {
  encodePing,
  encodeSyncStep1,
  encodeUnit,
  unitSignatureInput,
} from '../../../../src/sync/session/syncMessages';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import { channelEvents, docOf, MemoryNetwork, waitFor, type Node } from './syncHarness';

/** A trusted device that speaks the sync protocol by hand. */
async function connectHostile(target: Node, identity: DeviceIdentity): Promise<SecureChannel> {
  const [mine, theirs] = MemoryDuplex.pair();
  target.worker.accept(theirs);
  const channel = await handshake(mine, { identity, role: 'initiator', isTrusted: () => true });
  channel.onMessage(() => undefined);
  await channel.send(encodeSyncStep1('default', Y.encodeStateVector(new Y.Doc())));
  return channel;
}

function yjsUpdate(key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('graph.nodes').set(key, 'x');
  return Y.encodeStateAsUpdate(doc);
}

describe('SyncWorker against hostile peers', function () {
  this.timeout(20_000);
  let net: MemoryNetwork;
  let a: Node;
  let other: Node;
  const hostile = DeviceIdentity.generate();

  beforeEach(async () => {
    net = new MemoryNetwork();
    a = await net.addNode({ maxUnitUpdateBytes: 4096 });
    other = await net.addNode();
    await net.trustEachOther(a, other);
    await a.trust.add({ deviceId: hostile.deviceId, name: 'h', publicKey: hostile.publicKey });
    await waitFor(
      () => a.runtime.workers().some((w) => w.name === 'sync' && w.status === 'running'),
      'running',
    );
  });

  afterEach(async () => {
    await net.dispose();
  });

  function signed(
    author: DeviceIdentity,
    update: Uint8Array,
    seq: number,
    claimed = author.deviceId,
  ): Uint8Array {
    const signature = author.sign(unitSignatureInput('default', claimed, 7, seq, update));
    return encodeUnit({ author: claimed, epoch: 7, seq, update, signature });
  }

  async function expectRejected(
    message: Uint8Array,
    pattern: RegExp,
    closes = true,
  ): Promise<void> {
    const before = docOf(a);
    const count = channelEvents(a, 'sync.worker.unit_rejected').length;
    const channel = await connectHostile(a, hostile);
    await channel.send(message);
    await waitFor(
      () =>
        channelEvents(a, 'sync.worker.unit_rejected')
          .slice(count)
          .some((e) => pattern.test(e.message)),
      `rejection matching ${String(pattern)}`,
    );
    if (closes) await waitFor(() => channel.closed, 'session closed');
    assert.equal(docOf(a), before, 'state unchanged');
    assert.equal(a.runtime.workers().find((w) => w.name === 'sync')?.status, 'running');
    channel.close();
  }

  it('an unknown message type closes the session with a diagnostic', async () => {
    await expectRejected(new Uint8Array([1, 99, 0, 0]), /unknown_type/);
  });

  it('trailing bytes after a message are malformed', async () => {
    const ping = encodePing(1);
    const padded = new Uint8Array(ping.length + 1);
    padded.set(ping);
    await expectRejected(padded, /trailing/);
  });

  it('an oversized unit is refused before it is read', async () => {
    await expectRejected(signed(hostile, new Uint8Array(5000), 1), /oversize/);
  });

  it('an unsigned unit (zero signature) is rejected', async () => {
    const update = yjsUpdate('unsigned');
    const unit = encodeUnit({
      author: hostile.deviceId,
      epoch: 1,
      seq: 1,
      update,
      signature: new Uint8Array(64),
    });
    await expectRejected(unit, /signature does not verify/);
  });

  it('a unit claiming another author (forged) is rejected', async () => {
    await expectRejected(
      signed(hostile, yjsUpdate('forged'), 2, other.identity.deviceId),
      /signature does not verify/,
    );
  });

  it('a signed unit that is not a Yjs update is rejected', async () => {
    await expectRejected(
      signed(hostile, new Uint8Array([255, 255, 255, 9, 9]), 3),
      /not a valid Yjs update/,
    );
  });

  it('a unit by an unknown author is rejected without closing the session', async () => {
    const stranger = DeviceIdentity.generate();
    await expectRejected(
      signed(stranger, yjsUpdate('unknown'), 4),
      /unknown or revoked author/,
      false,
    );
  });

  it('control: a valid signed unit from the same peer is applied', async () => {
    const channel = await connectHostile(a, hostile);
    await channel.send(signed(hostile, yjsUpdate('valid-node'), 5));
    await waitFor(() => docOf(a).includes('valid-node'), 'valid unit applied');
    channel.close();
  });
});
