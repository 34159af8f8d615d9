/**
 * Multi-process Device Sync: real `twinspace serve` processes on 127.0.0.1 (no mDNS), paired and
 * driven through the CLI. Needs `npm run build` first (dist/cli.js).
 */
import { strict as assert } from 'node:assert';
import { pairPeers, PeerGroup, waitUntil, type CliPeer } from './cliPeers';

describe('Device Sync between CLI processes', function () {
  this.timeout(120_000);
  let group: PeerGroup;
  let a: CliPeer;
  let b: CliPeer;

  before(async () => {
    group = PeerGroup.create();
    a = await group.add('a');
    b = await group.add('b');
    await a.start();
    await b.start();
  });

  after(async () => {
    await group.dispose();
  });

  function pairVia(shower: CliPeer, joiner: CliPeer): Promise<void> {
    return (async () => {
      const { join, shown } = await pairPeers(shower, joiner);
      const sasJoin = /SAS: (\d{6})/.exec(join.stdout)?.[1];
      const sasShow = /SAS: (\d{6})/.exec(shown.stdout)?.[1];
      assert.ok(sasJoin !== undefined);
      assert.equal(sasJoin, sasShow);
    })();
  }

  function waitSynced(peer: CliPeer, minPeers: number): void {
    const r = peer.cli(
      ['wait-synced', '--timeout-ms', '15000', '--peers', String(minPeers)],
      20_000,
    );
    assert.equal(r.code, 0, `${peer.name} not synced: ${r.stderr}`);
  }

  it('a wrong pairing code fails clearly and stores nothing', async () => {
    const show = await a.showPairing(5_000);
    const join = b.cli(['pair', '--join', a.address, 'ABCD-EFGH-JKMN']);
    assert.notEqual(join.code, 0);
    assert.match(join.stderr, /pairing failed/);
    assert.deepEqual(a.trustedIds(), []);
    assert.deepEqual(b.trustedIds(), []);
    show.child.kill('SIGKILL');
    await show.done;
  });

  it('pairs two peers via the CLI (same SAS on both) and syncs a VisitNode both ways', async () => {
    await pairVia(a, b);
    assert.deepEqual(a.trustedIds(), [b.status()?.deviceId]);
    assert.deepEqual(b.trustedIds(), [a.status()?.deviceId]);
    assert.equal(a.cli(['visit', 'node-from-a']).code, 0);
    assert.equal(b.cli(['visit', 'node-from-b']).code, 0);
    await waitUntil(() => a.status()?.docHash === b.status()?.docHash, 'equal doc hashes');
    waitSynced(a, 1);
    waitSynced(b, 1);
    const s = a.cli(['status']);
    assert.match(s.stdout, /node-from-b|"graphNodes": 2/);
    assert.equal(a.status()?.peers.find((p) => p.peerId === b.status()?.deviceId)?.state, 'Idle');
  });

  it('survives kill -9 of one peer and converges after its restart', async () => {
    await b.kill9();
    assert.equal(a.cli(['visit', 'while-b-was-down']).code, 0);
    await b.start();
    assert.equal(b.cli(['visit', 'b-after-restart']).code, 0);
    waitSynced(b, 1);
    waitSynced(a, 1);
    await waitUntil(() => a.status()?.docHash === b.status()?.docHash, 'equal doc hashes');
  });

  it('a third peer paired with both converges', async () => {
    const c = await group.add('c');
    await c.start();
    assert.equal(c.cli(['visit', 'from-c']).code, 0);
    await pairVia(a, c);
    await pairVia(b, c);
    waitSynced(c, 2);
    await waitUntil(
      () =>
        a.status()?.docHash === c.status()?.docHash && b.status()?.docHash === c.status()?.docHash,
      'three equal doc hashes',
    );
  });

  it('a fourth, unpaired peer dialing is rejected; the others are unchanged', async () => {
    const hashBefore = a.status()?.docHash;
    const trustBefore = a.trustedIds();
    const d = await group.add('d');
    await d.start(['--peer', a.address]);
    assert.equal(d.cli(['visit', 'intruder']).code, 0);
    const dId = d.status()?.deviceId;
    await waitUntil(
      () => (d.status()?.peers ?? []).some((p) => /does not trust/.test(p.lastError ?? '')),
      'D sees the rejection in its status',
    );
    await waitUntil(
      () => (a.status()?.rejected ?? []).some((r) => r.deviceId === dId),
      'A lists the rejected device',
    );
    assert.equal(a.status()?.docHash, hashBefore);
    assert.deepEqual(a.trustedIds(), trustBefore);
    assert.match(a.stderr, /sync\.worker\.peer_rejected/);
  });
});
