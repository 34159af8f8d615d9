/**
 * Keepalive on a real SyncWorker with a fake clock: a trusted peer that completes the handshake and
 * then stops answering is pinged after the keepalive interval and disconnected after the timeout
 * ('keepalive timeout'), which reaches the Engine as PeerWentOffline; a peer that answers its pings
 * stays connected for as long as the test runs.
 */
import { strict as assert } from 'node:assert';
import * as Y from 'yjs';
import { handshake } from '../../../../src/sync/channel/handshake';
import type { SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import {
  decodeSyncMessage,
  encodePong,
  encodeSyncStep1,
  type SyncMessage,
} from '../../../../src/sync/session/syncMessages';
import { MemoryDuplex } from '../../../../src/sync/transport/MemoryDuplex';
import { fakeClock } from '../../support/fakeClock';
import { channelEvents, MemoryNetwork, waitFor, type Node } from './syncHarness';

const INTERVAL_MS = 1_000;
const TIMEOUT_MS = 3_000;

async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('SyncWorker keepalive', function () {
  this.timeout(20_000);
  let net: MemoryNetwork;
  let a: Node;
  let fake: ReturnType<typeof fakeClock>['fake'];
  const peer = DeviceIdentity.generate();

  beforeEach(async () => {
    const clocks = fakeClock(1_000_000);
    fake = clocks.fake;
    net = new MemoryNetwork();
    a = await net.addNode({
      clock: clocks.clock,
      keepaliveIntervalMs: INTERVAL_MS,
      keepaliveTimeoutMs: TIMEOUT_MS,
    });
    await a.trust.add({ deviceId: peer.deviceId, name: 'p', publicKey: peer.publicKey });
    await waitFor(
      () => a.runtime.workers().some((w) => w.name === 'sync' && w.status === 'running'),
      'running',
    );
  });

  afterEach(async () => {
    await net.dispose();
  });

  /** Connects `peer` to A by hand; `answerPings` decides whether it replies to Pings. */
  async function connect(
    answerPings: boolean,
  ): Promise<{ channel: SecureChannel; got: SyncMessage[] }> {
    const [mine, theirs] = MemoryDuplex.pair();
    a.worker.accept(theirs);
    const channel = await handshake(mine, {
      identity: peer,
      role: 'initiator',
      isTrusted: () => true,
    });
    const got: SyncMessage[] = [];
    channel.onMessage((bytes) => {
      const message = decodeSyncMessage(bytes);
      got.push(message);
      if (answerPings && message.type === 'Ping') void channel.send(encodePong(message.nonce));
    });
    await channel.send(encodeSyncStep1('default', Y.encodeStateVector(new Y.Doc())));
    await waitFor(
      () => a.worker.peers().some((p) => p.peerId === peer.deviceId && p.state !== 'Disconnected'),
      'session on A',
    );
    await settle();
    return { channel, got };
  }

  /** Advances the fake clock in half-interval steps, letting messages flow in between. */
  async function advance(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += INTERVAL_MS / 2) {
      fake.tick(INTERVAL_MS / 2);
      await settle();
    }
  }

  it('a silent peer is pinged, then disconnected with "keepalive timeout" and PeerWentOffline', async () => {
    const { channel, got } = await connect(false);
    await advance(INTERVAL_MS);
    assert.ok(
      got.some((m) => m.type === 'Ping'),
      'a Ping after the keepalive interval',
    );
    assert.equal(channel.closed, false, 'still open before the timeout');
    await advance(TIMEOUT_MS - INTERVAL_MS);
    await waitFor(() => channel.closed, 'session closed by A');
    assert.equal(channel.closeReason?.by, 'peer');
    assert.equal(channel.closeReason.message, 'keepalive timeout');
    await waitFor(
      () => a.runtime.snapshot().sync.peers[peer.deviceId]?.lastError === 'keepalive timeout',
      'PeerWentOffline applied by the Engine',
    );
    assert.equal(a.runtime.snapshot().sync.peers[peer.deviceId]?.state, 'Disconnected');
    assert.ok(
      channelEvents(a, 'sync.worker.peer_offline').some((e) => /keepalive timeout/.test(e.message)),
    );
  });

  it('control: a peer that answers its pings stays connected well past the timeout', async () => {
    const { channel, got } = await connect(true);
    await advance(TIMEOUT_MS * 3);
    assert.ok(got.filter((m) => m.type === 'Ping').length >= 3, 'pinged repeatedly');
    assert.equal(channel.closed, false);
    assert.equal(
      a.worker.peers().find((p) => p.peerId === peer.deviceId)?.state === 'Disconnected',
      false,
    );
    channel.close();
  });
});
