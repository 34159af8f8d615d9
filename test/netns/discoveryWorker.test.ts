/**
 * DiscoveryWorker over real mDNS between network namespaces (no CLI): discovery by TXT id,
 * hostile announcements ignored, a killed peer expires, a cut link expires and heals, a clean
 * stop says goodbye and leaves no socket or timer behind.
 *
 * Run: npx mocha --spec 'test/netns/**\/*.test.ts' (as root; skipped otherwise).
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { NetnsHarness, isPidAlive, skipUnlessNetns } from './NetnsHarness';
import type { PeerProcess, PeerStatusFile } from './NetnsHarness';

const FIXTURE = ['--require', 'tsx/cjs', 'test/netns/fixtures/discoveryPeer.ts'];
const HOSTILE = ['--require', 'tsx/cjs', 'test/netns/fixtures/hostileAnnouncer.ts'];
const DISCOVERY_BOUND_MS = 15_000;

function ids(status: PeerStatusFile): string[] {
  return status.discovered.map((p) => p.deviceId).sort();
}

function randomId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return [...randomBytes(32)].map((b) => alphabet.charAt(b & 31)).join('');
}

function stats(status: PeerStatusFile): { ignored: number } {
  return status['discoveryStats'] as { ignored: number };
}

describe('netns: DiscoveryWorker over real mDNS', function () {
  this.timeout(120_000);
  const h = new NetnsHarness();
  let a: PeerProcess;
  let b: PeerProcess;
  let idA = '';
  let idB = '';
  const canary = randomId();
  let hostile: ChildProcess;

  before(async function () {
    skipUnlessNetns(this);
    await h.up(['a', 'b', 'c']);
    // a forgets quickly (stale after 3 s); b practically never (60 s), so b can only lose a
    // peer through its goodbye.
    const command = [process.execPath, ...FIXTURE];
    [a, b] = await Promise.all([
      h.startPeer('a', ['--refresh-ms', '1000', '--stale-ms', '3000'], { command }),
      h.startPeer('b', ['--refresh-ms', '1000', '--stale-ms', '60000'], { command }),
    ]);
    idA = (await a.status())!.deviceId;
    idB = (await b.status())!.deviceId;
  });

  after(async () => {
    await h.down();
  });

  it('each peer discovers the other, with the id, address and port of its TXT/SRV records', async () => {
    const t0 = Date.now();
    const [sa, sb] = await Promise.all([
      a.waitForStatus((s) => ids(s).includes(idB), DISCOVERY_BOUND_MS, 'a discovers b'),
      b.waitForStatus((s) => ids(s).includes(idA), DISCOVERY_BOUND_MS, 'b discovers a'),
    ]);
    console.log(`      mutual discovery (probe on) in ${Date.now() - t0} ms after both started`);
    const bSeenByA = sa.discovered.find((p) => p.deviceId === idB)!;
    assert.equal(bSeenByA.name, 'b');
    assert.equal(bSeenByA.port, 7400);
    assert.equal(bSeenByA.protocolVersion, 1);
    assert.equal(bSeenByA.host, h.address('b'));
    assert.equal(bSeenByA.addresses[0], h.address('b'));
    const aSeenByB = sb.discovered.find((p) => p.deviceId === idA)!;
    assert.equal(aSeenByB.host, h.address('a'));
    assert.ok(!ids(sa).includes(idA), 'a does not list itself');
    assert.ok(!ids(sb).includes(idB), 'b does not list itself');
  });

  it('with a hostile announcer: lists the valid canary and none of the malformed services', async () => {
    hostile = h.spawnIn('c', process.execPath, HOSTILE.concat(canary));
    const [sa, sb] = await Promise.all([
      a.waitForStatus((s) => ids(s).includes(canary), DISCOVERY_BOUND_MS, 'a sees the canary'),
      b.waitForStatus((s) => ids(s).includes(canary), DISCOVERY_BOUND_MS, 'b sees the canary'),
    ]);
    assert.deepEqual(ids(sa), [idB, canary].sort());
    assert.deepEqual(ids(sb), [idA, canary].sort());
    assert.ok(stats(sa).ignored > 0, `a ignored ${stats(sa).ignored}`);
    assert.ok(stats(sb).ignored > 0, `b ignored ${stats(sb).ignored}`);
    assert.equal(sa.discovered.find((p) => p.deviceId === canary)?.host, h.address('c'));
  });

  it('forgets a peer killed with SIGKILL (no goodbye) once it stops answering', async () => {
    const t0 = Date.now();
    hostile.kill('SIGKILL');
    await a.waitForStatus((s) => !ids(s).includes(canary), 10_000, 'a forgets the canary');
    console.log(`      a expired the killed canary after ${Date.now() - t0} ms (stale 3 s)`);
    const sb = await b.status();
    assert.ok(ids(sb!).includes(canary), 'b (stale 60 s) still lists it: no goodbye was sent');
  });

  it('loses a peer behind a cut link and finds it again when the link is restored', async () => {
    await h.cutLink('b');
    let t0 = Date.now();
    await a.waitForStatus((s) => !ids(s).includes(idB), 10_000, 'a loses b behind the cut');
    console.log(`      a lost b ${Date.now() - t0} ms after the cut`);
    await h.restoreLink('b');
    t0 = Date.now();
    await a.waitForStatus((s) => ids(s).includes(idB), 10_000, 'a finds b again');
    console.log(`      a found b again ${Date.now() - t0} ms after the restore`);
  });

  it('a clean stop sends a goodbye, exits 0 and leaves no socket or timer behind', async () => {
    const t0 = Date.now();
    const exit = await a.stop(5_000);
    assert.deepEqual(exit, { code: 0, signal: null, forced: false }, a.tail());
    assert.match(a.output(), /active resources after shutdown: \[\]/);
    assert.equal(isPidAlive(a.pid), false);
    // b's staleness is 60 s: losing a within seconds can only come from a's goodbye
    await b.waitForStatus((s) => !ids(s).includes(idA), 5_000, 'b drops a on its goodbye');
    console.log(`      b dropped a ${Date.now() - t0} ms after a's SIGINT`);
    const exitB = await b.stop(5_000);
    assert.deepEqual(exitB, { code: 0, signal: null, forced: false }, b.tail());
    assert.match(b.output(), /active resources after shutdown: \[\]/);
  });
});
