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

describe('SyncWorker', function () {
  this.timeout(20_000);
  let net: MemoryNetwork;

  beforeEach(() => {
    net = new MemoryNetwork();
  });

  afterEach(async () => {
    await net.dispose();
  });

  it('two peers converge: initial state both ways, then live edits both ways', async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    await visit(a, 'a-before');
    await visit(b, 'b-before');
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'initial sync');
    assert.ok(docOf(a).includes('a-before') && docOf(a).includes('b-before'));
    assert.equal(docOf(a), docOf(b));
    await visit(a, 'a-live');
    await visit(b, 'b-live');
    await waitFor(() => docOf(a).includes('b-live') && docOf(b).includes('a-live'), 'live updates');
    await waitFor(() => converged([a, b]), 'convergence');
    // The session states reached the Engine's snapshot.
    await waitFor(
      () => a.runtime.snapshot().sync.peers[b.identity.deviceId]?.state === 'Idle',
      'Idle state in the snapshot',
    );
    assert.equal(a.worker.peers().length, 1);
    assert.equal(a.worker.peers()[0]?.state, 'Idle');
  });

  it('three peers in a full mesh converge', async () => {
    const [a, b, c] = [await net.addNode(), await net.addNode(), await net.addNode()];
    await net.trustEachOther(a, b);
    await net.trustEachOther(a, c);
    await net.trustEachOther(b, c);
    await visit(a, 'from-a');
    a.worker.addPeerAddress(b.address);
    a.worker.addPeerAddress(c.address);
    b.worker.addPeerAddress(c.address);
    await visit(c, 'from-c');
    await waitFor(() => [a, b, c].every((n) => n.worker.isSynced(2)), 'mesh synced');
    await visit(b, 'from-b');
    await waitFor(() => converged([a, b, c]) && docOf(a).includes('from-b'), 'convergence');
    for (const id of ['from-a', 'from-b', 'from-c']) assert.ok(docOf(c).includes(id));
  });

  it('relays through a middle device when the outer link is missing (units stay verifiable)', async () => {
    const [a, b, c] = [await net.addNode(), await net.addNode(), await net.addNode()];
    await net.trustEachOther(a, b);
    await net.trustEachOther(b, c);
    // A and C trust each other's keys (paired) but have no link.
    await net.trustEachOther(a, c);
    await visit(a, 'a-initial');
    await visit(c, 'c-initial');
    a.worker.addPeerAddress(b.address);
    c.worker.addPeerAddress(b.address);
    await waitFor(
      () => a.worker.isSynced(1) && c.worker.isSynced(1) && b.worker.isSynced(2),
      'line synced',
    );
    await waitFor(() => converged([a, b, c]), 'initial convergence through B');
    assert.ok(docOf(c).includes('a-initial'));
    await visit(a, 'a-live');
    await waitFor(() => docOf(c).includes('a-live'), 'live unit relayed to C');
    await visit(c, 'c-live');
    await waitFor(() => docOf(a).includes('c-live'), 'live unit relayed to A');
    assert.equal(channelEvents(c, 'sync.worker.unit_rejected').length, 0);
    assert.ok(c.worker.peers().every((p) => p.peerId === b.identity.deviceId));
  });

  it('a relayed unit from an author the receiver does not know is rejected with a diagnostic', async () => {
    const [a, b, c] = [await net.addNode(), await net.addNode(), await net.addNode()];
    await net.trustEachOther(a, b);
    await net.trustEachOther(b, c);
    a.worker.addPeerAddress(b.address);
    c.worker.addPeerAddress(b.address);
    await waitFor(() => b.worker.isSynced(2), 'line synced');
    await visit(a, 'a-live');
    await waitFor(() => docOf(b).includes('a-live'), 'B got the unit');
    await waitFor(
      () =>
        channelEvents(c, 'sync.worker.unit_rejected').some((e) => e.message.includes('unknown')),
      'unknown author diagnostic on C',
    );
    assert.ok(!docOf(c).includes('a-live'));
  });

  it('rejects an unknown device before any application data; the worker stays alive', async () => {
    const a = await net.addNode();
    const stranger = await net.addNode();
    // Only the stranger trusts A (it knows A's key), A does not know the stranger.
    await stranger.trust.add({
      deviceId: a.identity.deviceId,
      name: 'a',
      publicKey: a.identity.publicKey,
    });
    await visit(stranger, 'intruder');
    const before = docOf(a);
    stranger.worker.addPeerAddress(a.address);
    await waitFor(() => channelEvents(a, 'sync.worker.peer_rejected').length > 0, 'rejection');
    const event = channelEvents(a, 'sync.worker.peer_rejected')[0];
    assert.ok(event);
    assert.equal(event.severity, 'warn');
    assert.equal(event.data?.['deviceId'], stranger.identity.deviceId);
    assert.equal(docOf(a), before);
    assert.deepEqual(a.worker.peers(), []);
    assert.ok(a.worker.rejections().some((r) => r.deviceId === stranger.identity.deviceId));
    const health = a.runtime.workers().find((w) => w.name === 'sync');
    assert.equal(health?.status, 'running');
    // The stranger sees that it was refused.
    await waitFor(
      () => stranger.worker.peers().some((p) => /does not trust/.test(p.lastError ?? '')),
      'stranger sees the rejection',
    );
    // A still syncs with a trusted device afterwards.
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    b.worker.addPeerAddress(a.address);
    await waitFor(() => a.worker.isSynced(1), 'trusted peer still accepted');
  });

  it("a read-only peer's writes are rejected whole, state unchanged", async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    await net.trustEachOther(a, b, 'read-only');
    await visit(b, 'b-initial');
    b.worker.addPeerAddress(a.address);
    await waitFor(
      () => b.worker.peers()[0]?.state === 'Idle' && a.worker.peers()[0]?.state === 'Idle',
      'sessions idle',
    );
    await visit(a, 'a-to-b');
    await waitFor(() => docOf(b).includes('a-to-b'), 'read-only peer still receives');
    await visit(b, 'b-live');
    await waitFor(
      () =>
        channelEvents(a, 'sync.worker.unit_rejected').filter((e) => e.message.includes('read-only'))
          .length >= 2,
      'both the SyncStep2 and the live unit rejected',
    );
    assert.ok(!docOf(a).includes('b-initial'));
    assert.ok(!docOf(a).includes('b-live'));
  });

  it('revocation closes the live session at once', async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1), 'synced');
    await b.trust.revoke(a.identity.deviceId);
    await waitFor(() => b.worker.peers().length === 0, 'session closed on B');
    await waitFor(
      () => b.runtime.snapshot().sync.peers[a.identity.deviceId]?.state === 'Disconnected',
      'PeerWentOffline applied',
    );
    assert.match(b.runtime.snapshot().sync.peers[a.identity.deviceId]?.lastError ?? '', /revoked/);
  });

  it('keeps one session when both sides dial at once', async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    b.worker.addPeerAddress(a.address);
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'synced');
    const lower = a.identity.deviceId < b.identity.deviceId ? a : b;
    const upper = lower === a ? b : a;
    assert.equal(lower.worker.peers().find((p) => p.state !== 'Disconnected')?.role, 'initiator');
    assert.equal(upper.worker.peers().find((p) => p.state !== 'Disconnected')?.role, 'responder');
    await visit(a, 'after-dedupe');
    await waitFor(() => docOf(b).includes('after-dedupe'), 'still syncing');
  });

  it('pairs through the worker (code on A, join from B), then syncs as trusted peers', async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    const outcomes: string[] = [];
    a.worker.onPairing((o) => outcomes.push(o.ok ? `ok:${o.sas}` : `fail:${o.reason}`));
    await waitFor(
      () => a.runtime.workers().some((w) => w.name === 'sync' && w.status === 'running'),
      'running',
    );
    const issued = a.worker.issuePairingCode();
    await assert.rejects(b.worker.pairJoin(a.address, 'ZZZZ-ZZZZ-ZZZZ'), /did not accept/);
    assert.equal(b.trust.get(a.identity.deviceId), undefined);
    assert.equal(a.trust.get(b.identity.deviceId), undefined);
    const joined = await b.worker.pairJoin(a.address, issued.code);
    assert.equal(joined.deviceId, a.identity.deviceId);
    await waitFor(() => outcomes.some((o) => o.startsWith('ok:')), 'A reports the pairing');
    assert.equal(
      outcomes.find((o) => o.startsWith('ok:')),
      `ok:${joined.sas}`,
    );
    assert.ok(a.trust.isTrusted(b.identity.deviceId, b.identity.publicKey));
    await visit(a, 'after-pairing');
    await waitFor(() => docOf(b).includes('after-pairing'), 'sync after pairing');
    // The code is single use.
    const c = await net.addNode();
    await assert.rejects(c.worker.pairJoin(a.address, issued.code), /did not accept/);
  });

  it('a peer that cannot keep up is disconnected as a slow consumer and resyncs on reconnect', async () => {
    await net.dispose();
    net = new MemoryNetwork({ highWaterMark: 2048 });
    const a = await net.addNode({ maxQueueMessages: 4 });
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1), 'synced');
    // B stops reading: its side of the link is paused.
    for (const link of b.links) link.local.pause();
    const label = 'x'.repeat(1000);
    for (let i = 0; i < 40; i++) {
      // One tick per visit, so each becomes its own unit.
      await visit(a, `big-${i}`, label);
      await waitFor(() => docOf(a).includes(`big-${i}`), 'local apply');
      if (a.worker.peers()[0]?.state === 'Disconnected') break;
    }
    await waitFor(
      () =>
        channelEvents(a, 'sync.worker.peer_offline').some((e) =>
          e.message.includes('slow consumer'),
        ),
      'slow consumer disconnect',
    );
    for (const link of b.links) link.local.resume();
    await waitFor(() => converged([a, b]) && docOf(b).includes('big-'), 'resync after reconnect');
  });

  it('uses a fresh identity per node (sanity of the harness)', () => {
    assert.notEqual(DeviceIdentity.generate().deviceId, DeviceIdentity.generate().deviceId);
  });
});
