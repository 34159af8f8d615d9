import { strict as assert } from 'node:assert';
import { DeviceIdentity } from '../../../src/sync/identity/DeviceIdentity';
import {
  channelEvents,
  converged,
  docOf,
  MemoryNetwork,
  visit,
  waitFor,
} from './session/syncHarness';

describe('SyncWorker: pause / resume a device', function () {
  this.timeout(20_000);
  let net: MemoryNetwork;

  beforeEach(() => {
    net = new MemoryNetwork();
  });

  afterEach(async () => {
    await net.dispose();
  });

  it('pause closes the session and keeps it closed (incoming refused); resume reconnects', async () => {
    const a = await net.addNode({ deviceName: 'desk' });
    const b = await net.addNode({ deviceName: 'laptop' });
    await net.trustEachOther(a, b);
    const bId = b.identity.deviceId;
    const aId = a.identity.deviceId;
    // Both dial each other: after the pause, B keeps trying and A must keep refusing.
    a.worker.addPeerAddress(b.address);
    b.worker.addPeerAddress(a.address);
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'initial sync');

    assert.equal(a.worker.pausePeer(bId), true);
    assert.deepEqual(a.worker.pausedPeers(), [bId]);
    await waitFor(
      () => a.worker.peers().every((p) => p.state === 'Disconnected'),
      'A closed the session',
    );
    const paused = a.worker.peers().find((p) => p.peerId === bId);
    assert.equal(paused?.paused, true);
    // B is told why.
    await waitFor(
      () => b.worker.peers().some((p) => /paused on desk/.test(p.lastError ?? '')),
      'B sees "paused on desk"',
    );

    // B keeps dialing; A refuses each connection after the handshake, naming B.
    const refusedBefore = a.worker.rejections().filter((r) => r.deviceId === bId).length;
    await visit(b, 'while-paused');
    await waitFor(
      () => a.worker.rejections().filter((r) => r.deviceId === bId).length >= refusedBefore + 2,
      'two more refusals of B',
    );
    const refusal = a.worker
      .rejections()
      .filter((r) => r.deviceId === bId)
      .at(-1);
    assert.match(refusal?.reason ?? '', /^paused: Device Sync paused on desk/);
    const diag = channelEvents(a, 'sync.worker.peer_rejected').at(-1);
    assert.equal(diag?.data?.['reason'], 'paused');
    assert.ok(!docOf(a).includes('while-paused'), 'nothing reached A while paused');
    assert.ok(a.worker.peers().every((p) => p.state === 'Disconnected'));
    // Trust is untouched: B is still paired on A.
    assert.ok(a.trust.get(bId) !== undefined && a.trust.get(bId)?.revokedAt === undefined);
    // Pausing twice is harmless.
    assert.equal(a.worker.pausePeer(bId), true);

    assert.equal(a.worker.resumePeer(bId), true);
    assert.deepEqual(a.worker.pausedPeers(), []);
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'synced after resume');
    await waitFor(() => converged([a, b]), 'convergence after resume');
    assert.ok(docOf(a).includes('while-paused'));
    assert.equal(
      a.worker.peers().find((p) => p.peerId === bId)?.paused,
      undefined,
      'no longer shown as paused',
    );
    // B did not pause A: only A's side holds the pause.
    assert.deepEqual(b.worker.pausedPeers(), []);
    assert.ok(b.worker.peers().some((p) => p.peerId === aId && p.state !== 'Disconnected'));
  });

  it('pausing only the dialing side also stops it from dialing', async () => {
    const a = await net.addNode({ deviceName: 'desk' });
    const b = await net.addNode({ deviceName: 'laptop' });
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1), 'initial sync');
    const dialsBefore = b.links.length;
    a.worker.pausePeer(b.identity.deviceId);
    await waitFor(() => b.worker.peers().every((p) => p.state === 'Disconnected'), 'B offline');
    // Give a dial loop time to retry (backoff is 5..40 ms in the harness): it must not.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(b.links.length, dialsBefore, 'A did not dial B while paused');
    a.worker.resumePeer(b.identity.deviceId);
    await waitFor(() => a.worker.isSynced(1), 'synced after resume');
    assert.ok(b.links.length > dialsBefore);
  });

  it('refuses to pause a device that is not trusted; resuming a running device is a no-op', async () => {
    const a = await net.addNode();
    const stranger = DeviceIdentity.generate();
    assert.equal(a.worker.pausePeer(stranger.deviceId), false);
    assert.deepEqual(a.worker.pausedPeers(), []);
    assert.equal(a.worker.resumePeer(stranger.deviceId), false);
    assert.deepEqual(a.worker.peers(), []);
  });
});
