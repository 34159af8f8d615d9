/**
 * Multi-host Device Sync: headless peers (`node dist/cli.js serve`, build first) each in its own
 * network namespace, joined by a bridge. They find each other by REAL mDNS: no `--no-mdns`, and no
 * `--peer` for trusted peers. Pairing is by address (`pair --join <a's address>:7400 <code>`, as a
 * user types it); the address the joiner saves for later (peers.json) is removed before a restart,
 * so from then on every session is dialed from what discovery reported.
 *
 *  1. two peers pair and sync a VisitNode both ways (docHash in status.json);
 *  2. kill -9 of one, an edit on the other, restart (same state dir): rediscovery by mDNS, converge;
 *  3. cut link of one, edits on both sides, restore: converge within a bound;
 *  4. a third peer paired with a (reaches b's state through a), then with b: all three converge;
 *  5. a fourth, unpaired peer dialing a (`--peer`) is rejected: a reports it, nothing changes.
 *
 * Fast fault detection: mDNS re-query every 1 s, a peer silent for 3.5 s is lost, keepalive
 * 500 ms / 2 s, reconnect backoff at most 1 s. Every wait is bounded; the namespaces are always
 * torn down. Run as root: npm run build && npx mocha 'test/netns/**\/*.test.ts' --timeout 60000
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CLI_PATH, DEFAULT_PEER_PORT, NetnsHarness, skipUnlessNetns } from './NetnsHarness';
import type { PeerProcess, PeerStatusFile } from './NetnsHarness';

const FAST = [
  '--mdns-refresh-ms',
  '1000',
  '--mdns-stale-ms',
  '3500',
  '--keepalive-ms',
  '500',
  '--keepalive-timeout-ms',
  '2000',
  '--reconnect-max-ms',
  '1000',
];
/** Discovery, convergence and fault detection must each happen within this long. */
const BOUND_MS = 15_000;

interface SyncPeer {
  readonly peerId: string;
  readonly state: string;
  readonly inSync: boolean;
  readonly address?: string;
  readonly lastError?: string;
}

interface SyncStatus extends PeerStatusFile {
  readonly docHash: string;
  readonly peers: readonly SyncPeer[];
  readonly rejected: readonly { readonly deviceId?: string; readonly reason: string }[];
  readonly state: { readonly replica: { readonly graphNodes: number } };
}

function sync(status: PeerStatusFile): SyncStatus {
  return status as SyncStatus;
}

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const NOTES = 'notes.txt';
const NOTES_BASE = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') + '\n';

/** Waits (bounded) until `rel` in the peer's folder holds exactly `content`. */
async function waitFile(peer: PeerProcess, rel: string, content: string): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  let last: string | undefined;
  for (;;) {
    last = await fs.readFile(path.join(peer.folder, rel), 'utf8').catch(() => undefined);
    if (last === content) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${peer.host}: ${rel} is ${JSON.stringify(last)}, not ${JSON.stringify(content)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs a CLI command against a peer's control socket (from the root namespace; bounded). */
function cli(peer: PeerProcess, args: readonly string[], timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args, '--state-dir', peer.stateDir],
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Visits a new node on `peer` and waits until its status.json shows the changed document. */
async function visit(peer: PeerProcess, nodeId: string): Promise<void> {
  const before = sync((await peer.status())!).docHash;
  const r = await cli(peer, ['visit', nodeId]);
  assert.equal(r.code, 0, `visit ${nodeId} on ${peer.host}: ${r.stderr}\n${peer.tail()}`);
  await peer.waitForStatus(
    (s) => sync(s).docHash !== before,
    5_000,
    `${peer.host} applies ${nodeId}`,
  );
}

async function trustedIds(peer: PeerProcess): Promise<string[]> {
  try {
    const file = JSON.parse(await fs.readFile(path.join(peer.stateDir, 'trust.json'), 'utf8')) as {
      peers: { deviceId: string; revokedAt?: number }[];
    };
    return file.peers.filter((p) => p.revokedAt === undefined).map((p) => p.deviceId);
  } catch {
    return [];
  }
}

async function current(peer: PeerProcess): Promise<SyncStatus> {
  const s = await peer.status();
  assert.ok(s !== undefined, `${peer.host} has no status`);
  return sync(s);
}

function sessionWith(status: SyncStatus, deviceId: string): SyncPeer | undefined {
  return status.peers.find((p) => p.peerId === deviceId);
}

/** A live session (handshake done) with `deviceId`. */
function connectedTo(status: PeerStatusFile, deviceId: string): boolean {
  const state = sessionWith(sync(status), deviceId)?.state;
  return state === 'Authenticated' || state === 'Syncing' || state === 'Idle';
}

/** Connected (not Disconnected) and in sync with every id in `ids`. */
function syncedWith(status: SyncStatus, ids: readonly string[]): boolean {
  return ids.every((id) => {
    const p = sessionWith(status, id);
    return p !== undefined && p.state !== 'Disconnected' && p.inSync;
  });
}

/** Polls until every peer has the same docHash and `graphNodes` nodes; bounded. */
async function waitConverged(
  peers: readonly PeerProcess[],
  graphNodes: number,
  what: string,
  timeoutMs = BOUND_MS,
): Promise<{ docHash: string; ms: number }> {
  const t0 = Date.now();
  const deadline = t0 + timeoutMs;
  for (;;) {
    const last = await Promise.all(
      peers.map((p) =>
        p
          .status()
          .then((s) => (s === undefined ? undefined : sync(s)))
          .catch(() => undefined),
      ),
    );
    const hashes = new Set(last.map((s) => s?.docHash));
    const first = last[0];
    if (
      first !== undefined &&
      hashes.size === 1 &&
      last.every((s) => s?.state.replica.graphNodes === graphNodes)
    ) {
      return { docHash: first.docHash, ms: Date.now() - t0 };
    }
    const dead = peers.find((p) => !p.running);
    if (dead !== undefined || Date.now() >= deadline) {
      const summary = last.map((s, i) => ({
        host: peers[i]?.host,
        docHash: s?.docHash.slice(0, 12),
        graphNodes: s?.state.replica.graphNodes,
        peers: s?.peers.map((p) => `${p.peerId.slice(0, 8)}:${p.state}:${String(p.inSync)}`),
      }));
      throw new Error(
        `${dead !== undefined ? `${dead.host} exited` : `timed out after ${timeoutMs} ms`} waiting for: ${what}\n${JSON.stringify(summary, null, 1)}\n${peers.map((p) => p.tail(15)).join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('netns: Device Sync between headless peers found by mDNS', function () {
  this.timeout(90_000);
  const h = new NetnsHarness();
  let a: PeerProcess;
  let b: PeerProcess;
  let c: PeerProcess;
  let idA: string;
  let idB: string;
  let idC: string;
  let nodes = 0;

  before(async function () {
    skipUnlessNetns(this);
    await h.up(['a', 'b', 'c', 'd']);
  });

  after(async () => {
    await h.down();
  });

  function addressOf(host: string): string {
    return `${h.address(host)}:${DEFAULT_PEER_PORT}`;
  }

  /** `pair --show` on `shower`, `pair --join <shower's address> <code>` on `joiner`. */
  async function pair(shower: PeerProcess, joiner: PeerProcess): Promise<string> {
    const show = spawn(
      process.execPath,
      [CLI_PATH, 'pair', '--show', '--state-dir', shower.stateDir, '--timeout-ms', '20000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    show.stdout.setEncoding('utf8');
    show.stderr.setEncoding('utf8');
    show.stderr.on('data', (chunk: string) => (err += chunk));
    const shown = new Promise<number | null>((resolve) => show.once('exit', resolve));
    try {
      const code = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no pairing code from ${shower.host}: ${out}${err}`));
        }, 10_000);
        show.stdout.on('data', (chunk: string) => {
          out += chunk;
          const m = /pairing code: (\S+)/.exec(out);
          if (m?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      const join = await cli(joiner, ['pair', '--join', addressOf(shower.host), code]);
      assert.equal(join.code, 0, `pair --join on ${joiner.host}: ${join.stderr}`);
      const exit = await Promise.race([
        shown,
        new Promise<'timeout'>((resolve) => {
          setTimeout(() => {
            resolve('timeout');
          }, 10_000);
        }),
      ]);
      assert.equal(exit, 0, `pair --show on ${shower.host}: ${err}`);
      const sasJoin = /SAS: (\S+)/.exec(join.stdout)?.[1];
      const sasShow = /SAS: (\S+)/.exec(out)?.[1];
      assert.ok(sasJoin !== undefined, join.stdout);
      assert.equal(sasShow, sasJoin, 'both sides show the same SAS');
      return sasJoin;
    } finally {
      if (show.exitCode === null && show.signalCode === null) show.kill('SIGKILL');
    }
  }

  it('two peers find each other, pair (code shown on a, joined on b by address) and sync a VisitNode both ways', async () => {
    const t0 = Date.now();
    [a, b] = await Promise.all([h.startPeer('a', FAST), h.startPeer('b', FAST)]);
    idA = (await current(a)).deviceId;
    idB = (await current(b)).deviceId;
    await Promise.all([
      a.waitForStatus((s) => s.discovered.some((p) => p.deviceId === idB), BOUND_MS, 'a finds b'),
      b.waitForStatus((s) => s.discovered.some((p) => p.deviceId === idA), BOUND_MS, 'b finds a'),
    ]);
    // Discovered but not trusted: listed, never dialed (no error), nothing syncs.
    for (const p of [a, b]) {
      const s = await current(p);
      assert.ok(
        s.peers.every((x) => x.state === 'Disconnected' && x.lastError === undefined),
        `${p.host} dialed an untrusted peer: ${JSON.stringify(s.peers)}`,
      );
      assert.equal(s.rejected.length, 0);
    }
    const tDiscovered = Date.now();

    await pair(a, b);
    assert.deepEqual(await trustedIds(a), [idB]);
    assert.deepEqual(await trustedIds(b), [idA]);
    await visit(a, 'from-a');
    await visit(b, 'from-b');
    nodes = 2;
    const { ms } = await waitConverged([a, b], nodes, 'a and b converge after pairing');
    await a.waitForStatus((s) => syncedWith(sync(s), [idB]), BOUND_MS, 'a in sync with b');
    await b.waitForStatus((s) => syncedWith(sync(s), [idA]), BOUND_MS, 'b in sync with a');
    console.log(
      `      up + mutual discovery ${tDiscovered - t0} ms; paired and converged ${Date.now() - tDiscovered} ms later (last ${ms} ms)`,
    );
    // Files: a file written on a reaches b's folder (across the namespaces' bridge).
    await fs.writeFile(path.join(a.folder, NOTES), NOTES_BASE);
    await waitFile(b, NOTES, NOTES_BASE);
  });

  it('kill -9 of b, an edit on a, restart of b (same state, no saved address): b rediscovers a by mDNS and converges', async () => {
    const before = await current(b);
    await b.kill9();
    await a.waitForStatus((s) => !connectedTo(s, idB), BOUND_MS, 'a sees b go away');
    await visit(a, 'while-b-was-down');
    nodes += 1;
    assert.notEqual((await current(a)).docHash, before.docHash, 'a changed while b was down');
    // Without its saved address, b can only reach a through discovery.
    await fs.rm(path.join(b.stateDir, 'peers.json'), { force: true });
    const t0 = Date.now();
    b = await h.restartPeer(b, FAST);
    const restarted = await current(b);
    assert.equal(restarted.deviceId, idB, 'same device identity after the restart');
    assert.ok(
      restarted.peers.every((p) => !p.peerId.startsWith('addr:')),
      `b has no manual peer: ${JSON.stringify(restarted.peers)}`,
    );
    await b.waitForStatus(
      (s) => s.discovered.some((p) => p.deviceId === idA),
      BOUND_MS,
      'b rediscovers a by mDNS',
    );
    const tFound = Date.now();
    await waitConverged([a, b], nodes, 'b catches up after its restart');
    await b.waitForStatus((s) => syncedWith(sync(s), [idA]), BOUND_MS, 'b in sync with a');
    console.log(
      `      restart -> a rediscovered ${tFound - t0} ms; converged ${Date.now() - t0} ms after the restart`,
    );
  });

  it('a cut link: both sides notice, edit on both, converge after the link is restored', async () => {
    await h.cutLink('b');
    const tCut = Date.now();
    try {
      await Promise.all([
        a.waitForStatus((s) => !connectedTo(s, idB), BOUND_MS, 'a notices that b is gone'),
        b.waitForStatus((s) => !connectedTo(s, idA), BOUND_MS, 'b notices that a is gone'),
      ]);
      const tNoticed = Date.now();
      await visit(a, 'a-during-cut');
      await visit(b, 'b-during-cut');
      // Both edit the same text file while apart: the edits merge after the restore.
      await fs.writeFile(
        path.join(a.folder, NOTES),
        NOTES_BASE.replace('line 1\n', 'line 1 (a)\n'),
      );
      await fs.writeFile(
        path.join(b.folder, NOTES),
        NOTES_BASE.replace('line 8\n', 'line 8 (b)\n'),
      );
      nodes += 2;
      const [sa, sb] = await Promise.all([current(a), current(b)]);
      assert.notEqual(sa.docHash, sb.docHash, 'the two sides diverge while cut');
      assert.equal(sa.state.replica.graphNodes, nodes - 1);
      assert.equal(sb.state.replica.graphNodes, nodes - 1);
      console.log(`      cut noticed after ${tNoticed - tCut} ms`);
    } finally {
      await h.restoreLink('b');
    }
    const tRestore = Date.now();
    await waitConverged([a, b], nodes, 'a and b converge after the restore');
    const merged = NOTES_BASE.replace('line 1\n', 'line 1 (a)\n').replace(
      'line 8\n',
      'line 8 (b)\n',
    );
    await Promise.all([waitFile(a, NOTES, merged), waitFile(b, NOTES, merged)]);
    console.log(`      converged ${Date.now() - tRestore} ms after the restore`);
  });

  it('a third peer paired with a reaches b’s state through a; paired pairwise, all three converge', async () => {
    c = await h.startPeer('c', FAST);
    idC = (await current(c)).deviceId;
    await visit(c, 'from-c');
    nodes += 1;
    const t0 = Date.now();
    await pair(a, c);
    // The first exchange (SyncStep2, authenticated by the direct channel) is forwarded by a.
    await waitConverged([a, b, c], nodes, 'c (paired with a only) and b converge through a');
    assert.ok(!(await trustedIds(c)).includes(idB), 'c does not trust b yet');
    assert.ok(!connectedTo(await current(c), idB), 'no session between c and b yet');
    await pair(b, c);
    assert.deepEqual((await trustedIds(c)).sort(), [idA, idB].sort());
    await visit(a, 'a-with-three');
    await visit(b, 'b-with-three');
    await visit(c, 'c-with-three');
    nodes += 3;
    await waitConverged([a, b, c], nodes, 'three pairwise paired peers converge');
    await Promise.all([
      a.waitForStatus((s) => syncedWith(sync(s), [idB, idC]), BOUND_MS, 'a with b and c'),
      b.waitForStatus((s) => syncedWith(sync(s), [idA, idC]), BOUND_MS, 'b with a and c'),
      c.waitForStatus((s) => syncedWith(sync(s), [idA, idB]), BOUND_MS, 'c with a and b'),
    ]);
    console.log(`      three peers converged ${Date.now() - t0} ms after c started pairing`);
  });

  it('a fourth, unpaired peer dialing a is rejected; the others’ docHash and trust are unchanged', async () => {
    const peers = [a, b, c];
    const before = await Promise.all(peers.map(current));
    const trustBefore = await Promise.all(peers.map(trustedIds));
    const d = await h.startPeer('d', [...FAST, '--peer', addressOf('a')]);
    const idD = (await current(d)).deviceId;
    await visit(d, 'intruder');
    await a.waitForStatus(
      (s) => sync(s).rejected.some((r) => r.deviceId === idD),
      BOUND_MS,
      'a reports the rejected device',
    );
    await d.waitForStatus(
      (s) => sync(s).peers.some((p) => p.lastError !== undefined && p.lastError !== ''),
      BOUND_MS,
      'd sees its dial refused',
    );
    // d is on the LAN and announced: the others see it, but never dial or trust it.
    await Promise.all(
      peers.map((p) =>
        p.waitForStatus(
          (s) => s.discovered.some((x) => x.deviceId === idD),
          BOUND_MS,
          `${p.host} discovers d`,
        ),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await Promise.all(peers.map(current));
    for (const [i, s] of after.entries()) {
      const host = peers[i]?.host ?? '?';
      assert.equal(s.docHash, before[i]?.docHash, `${host}'s docHash is unchanged`);
      assert.equal(s.state.replica.graphNodes, nodes);
      // Listed as discovered-but-untrusted at most: never connected, never dialed.
      const withD = sessionWith(s, idD);
      assert.ok(
        withD === undefined || (withD.state === 'Disconnected' && withD.lastError === undefined),
        `${host} dialed or connected to d: ${JSON.stringify(withD)}`,
      );
    }
    assert.deepEqual(
      await Promise.all(peers.map(trustedIds)),
      trustBefore,
      'the trust of a, b and c is unchanged',
    );
    assert.deepEqual(await trustedIds(d), []);
    assert.equal((await current(d)).state.replica.graphNodes, 1, 'd got nothing');
    assert.match(a.output(), /sync\.worker\.peer_rejected/);
  });
});
