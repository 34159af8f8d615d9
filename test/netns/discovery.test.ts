/**
 * Headless Twinspace peers (`node dist/cli.js serve`, build first: `npm run build`) in network
 * namespaces joined by a bridge: they find each other by real mDNS. Also checks the harness
 * itself (kill -9, cutting and restoring a link).
 *
 * Run: npx mocha --spec 'test/netns/**\/*.test.ts' (as root; skipped with the reason otherwise).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { Netns, ip, listNamespaces } from './Netns';
import { NetnsHarness, isPidAlive, skipUnlessNetns } from './NetnsHarness';
import type { PeerProcess, PeerStatusFile } from './NetnsHarness';

/** Both peers must have found each other within this long after both started. */
const DISCOVERY_BOUND_MS = 15_000;

function discoveredIds(status: PeerStatusFile): string[] {
  return status.discovered.map((p) => p.deviceId);
}

/** Retries `probe` every 200 ms until it returns `want`; bounded. */
async function eventually(
  probe: () => Promise<boolean>,
  want: boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got === want || Date.now() >= deadline) return got;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('netns: headless peers discover each other by mDNS', function () {
  this.timeout(90_000);
  const h = new NetnsHarness();

  before(async function () {
    skipUnlessNetns(this);
    await h.up(['a', 'b', 'c']);
  });

  after(async () => {
    await h.down();
  });

  it('two peers each report the other (device id from the TXT record) within 15 s', async () => {
    const t0 = Date.now();
    const [a, b] = await Promise.all([h.startPeer('a'), h.startPeer('b')]);
    const started = Date.now();
    const idA = (await a.status())!.deviceId;
    const idB = (await b.status())!.deviceId;
    assert.notEqual(idA, idB);
    const [sa, sb] = await Promise.all([
      a.waitForStatus((s) => discoveredIds(s).includes(idB), DISCOVERY_BOUND_MS, 'a discovers b'),
      b.waitForStatus((s) => discoveredIds(s).includes(idA), DISCOVERY_BOUND_MS, 'b discovers a'),
    ]);
    console.log(
      `      processes up in ${started - t0} ms; mutual discovery ${Date.now() - started} ms later`,
    );
    const bAtA = sa.discovered.find((p) => p.deviceId === idB)!;
    const aAtB = sb.discovered.find((p) => p.deviceId === idA)!;
    assert.equal(bAtA.name, 'b');
    assert.equal(bAtA.port, sb.port);
    assert.equal(bAtA.protocolVersion, sb.protocolVersion);
    assert.equal(bAtA.host, h.address('b'));
    assert.equal(aAtB.port, sa.port);
    assert.equal(aAtB.host, h.address('a'));
    assert.ok(!discoveredIds(sa).includes(idA), 'a does not list itself');
    assert.ok(!discoveredIds(sb).includes(idB), 'b does not list itself');

    // a clean stop says goodbye: a drops b long before its 35 s staleness could
    const exitB = await b.stop(10_000);
    assert.deepEqual(exitB, { code: 0, signal: null, forced: false }, b.tail());
    await a.waitForStatus(
      (s) => !discoveredIds(s).includes(idB),
      5_000,
      'a drops b on its goodbye',
    );
    const exitA = await a.stop(10_000);
    assert.deepEqual(exitA, { code: 0, signal: null, forced: false }, a.tail());
  });

  describe('the harness', () => {
    let peer: PeerProcess;

    it('kill9() ends a peer at once: its process is gone from the namespace', async () => {
      peer = await h.startPeer('c', ['--no-mdns']);
      const pid = peer.pid;
      assert.ok(isPidAlive(pid));
      assert.ok(h.netns.pids('c').includes(pid));
      const exit = await peer.kill9();
      assert.equal(exit.signal, 'SIGKILL');
      assert.equal(peer.running, false);
      assert.equal(isPidAlive(pid), false);
      assert.ok(!h.netns.pids('c').includes(pid));
    });

    it('cutLink() makes a host unreachable and restoreLink() brings it back', async () => {
      const port = 7555;
      await h.listen('b', port);
      assert.equal(await h.canConnect('a', 'b', port), true, 'reachable before the cut');
      await h.cutLink('b');
      assert.equal(await h.canConnect('a', 'b', port), false, 'unreachable after the cut');
      assert.equal(await h.canConnect('c', 'b', port), false, 'unreachable from c too');
      assert.equal(await h.canConnect('a', 'c', 7556), false, 'nothing listens on c: refused');
      await h.restoreLink('b');
      assert.equal(
        await eventually(() => h.canConnect('a', 'b', port), true, 5_000),
        true,
        'reachable again after the restore',
      );
    });

    it('removes namespaces left by a dead run, never those of a live one', async () => {
      const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
      assert.equal(isPidAlive(deadPid), false);
      const stale = `tw${deadPid}-1-a`;
      const live = `tw${process.ppid}-1-a`;
      await ip(['netns', 'add', stale]);
      await ip(['netns', 'add', live]);
      try {
        const removed = Netns.removeStale();
        assert.ok(removed.includes(stale));
        assert.ok(!listNamespaces().includes(stale));
        assert.ok(listNamespaces().includes(live), 'a live run keeps its namespaces');
        assert.ok(listNamespaces().includes(h.netns.namespaceOf('a')), 'ours are kept');
      } finally {
        await ip(['netns', 'del', live]).catch(() => undefined);
        await ip(['netns', 'del', stale]).catch(() => undefined);
      }
    });

    it('has no route out of the test subnet', async () => {
      const r = await h.exec('a', 'ip', ['route', 'get', '1.1.1.1']);
      assert.notEqual(r.code, 0, `a route to 1.1.1.1 exists: ${r.stdout}`);
      assert.match(r.stderr, /unreachable/i);
    });
  });
});
