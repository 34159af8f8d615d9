import { strict as assert } from 'node:assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DeviceIdentity } from '../../../src/sync/identity/DeviceIdentity';
import { signRotation } from '../../../src/sync/identity/RotationCertificate';
import {
  decodeSyncMessage,
  encodeKeyRotated,
  encodeWorkspaceOffers,
} from '../../../src/sync/session/syncMessages';
import {
  countFiles,
  describeFolder,
  remoteFromGitConfig,
} from '../../../src/sync/workspace/describeFolder';
import {
  channelEvents,
  converged,
  docOf,
  MemoryNetwork,
  visit,
  waitFor,
} from './session/syncHarness';

describe('SyncWorker: workspace offers, linking and key rotation', function () {
  this.timeout(20_000);
  let net: MemoryNetwork;

  beforeEach(() => {
    net = new MemoryNetwork();
  });

  afterEach(async () => {
    await net.dispose();
  });

  it('WorkspaceOffers and KeyRotated encode and decode back to the same message', () => {
    const offers = [
      { workspaceId: 'w1', name: 'project', gitRemote: 'github.com/o/p', fileCount: 42 },
      { workspaceId: 'w2', name: 'ünïcode', fileCount: 0 },
    ];
    const bytes = encodeWorkspaceOffers(offers);
    assert.deepEqual(decodeSyncMessage(bytes), { type: 'WorkspaceOffers', offers });
    const old = DeviceIdentity.generate();
    const next = DeviceIdentity.generate();
    const { certificate } = old.rotate(1234);
    const decoded = decodeSyncMessage(encodeKeyRotated(certificate));
    if (decoded.type !== 'KeyRotated') assert.fail(`decoded as ${decoded.type}`);
    assert.deepEqual(decoded.certificate, certificate);
    assert.ok(next.deviceId !== old.deviceId);
    // Truncated: a clean error, not a partial message.
    assert.throws(() => decodeSyncMessage(bytes.subarray(0, bytes.length - 1)), /truncated/);
  });

  it('peers exchange their workspace offers after the handshake', async () => {
    const a = await net.addNode({
      offers: [
        { workspaceId: 'default', name: 'alpha', gitRemote: 'github.com/o/alpha', fileCount: 7 },
      ],
    });
    const b = await net.addNode({
      offers: [{ workspaceId: 'default', name: 'beta', fileCount: 3 }],
    });
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    await waitFor(
      () => a.worker.peerOffers().length === 1 && b.worker.peerOffers().length === 1,
      'offers',
    );
    assert.deepEqual(a.worker.peerOffers(), [
      { workspaceId: 'default', name: 'beta', fileCount: 3, deviceId: b.identity.deviceId },
    ]);
    assert.deepEqual(b.worker.peerOffers(), [
      {
        workspaceId: 'default',
        name: 'alpha',
        gitRemote: 'github.com/o/alpha',
        fileCount: 7,
        deviceId: a.identity.deviceId,
      },
    ]);
  });

  it('sessions with different workspace ids stay up but exchange no content until linked', async () => {
    const a = await net.addNode({
      workspaceId: 'ws-a',
      offers: [{ workspaceId: 'ws-a', name: 'a', fileCount: 1 }],
    });
    const b = await net.addNode({
      workspaceId: 'ws-b',
      offers: [{ workspaceId: 'ws-b', name: 'b', fileCount: 1 }],
    });
    await net.trustEachOther(a, b);
    await visit(a, 'only-on-a');
    await visit(b, 'only-on-b');
    a.worker.addPeerAddress(b.address);
    await waitFor(
      () =>
        a.worker.peers()[0]?.link === 'not linked' &&
        b.worker.peers()[0]?.link === 'not linked' &&
        a.worker.peerOffers().length === 1,
      'not-linked sessions with offers',
    );
    assert.equal(a.worker.peers()[0]?.state, 'Idle');
    assert.equal(a.worker.peers()[0]?.workspaceId, 'ws-b');
    // Live edits while not linked: nothing crosses.
    await visit(a, 'live-on-a');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(!docOf(b).includes('only-on-a') && !docOf(b).includes('live-on-a'));
    assert.ok(!docOf(a).includes('only-on-b'));
    assert.equal(a.worker.isSynced(1), false, 'a not-linked peer does not count as synced');
    assert.equal(channelEvents(a, 'sync.worker.unit_rejected').length, 0);
    assert.equal(a.worker.peerOffers()[0]?.workspaceId, 'ws-b');

    // Link a to b's workspace: the sessions reconnect with the new id and converge.
    b.worker.linkTo('ws-b');
    a.worker.linkTo('ws-b');
    assert.equal(a.worker.workspaceId, 'ws-b');
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'linked and synced');
    await waitFor(() => converged([a, b]), 'convergence');
    for (const id of ['only-on-a', 'live-on-a', 'only-on-b']) assert.ok(docOf(b).includes(id), id);
  });

  it('a rotated key stays trusted without re-pairing, and sync goes on with the new key', async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'initial sync');
    const oldId = a.identity.deviceId;
    let saved: DeviceIdentity | undefined;
    const result = await a.worker.rotateIdentity((next) => {
      saved = next;
      return Promise.resolve();
    });
    assert.equal(result.oldDeviceId, oldId);
    assert.deepEqual(result.notified, [b.identity.deviceId]);
    const newId = result.newDeviceId;
    assert.equal(saved?.deviceId, newId);
    assert.equal(a.worker.deviceId, newId);
    await waitFor(() => b.trust.get(newId) !== undefined, 'b trusts the new key');
    assert.equal(b.trust.get(oldId), undefined, 'the old key is no longer trusted');
    await waitFor(
      () => b.worker.peers().some((p) => p.peerId === newId && p.state === 'Idle'),
      'reconnected with the new key',
    );
    await visit(a, 'after-rotation');
    await waitFor(() => docOf(b).includes('after-rotation'), 'sync after rotation');
    assert.equal(channelEvents(b, 'sync.worker.peer_rejected').length, 0);
  });

  it('a third device that missed the rotation learns it from a peer that applied it', async () => {
    const [a, b, c] = [await net.addNode(), await net.addNode(), await net.addNode()];
    await net.trustEachOther(a, b);
    await net.trustEachOther(a, c);
    await net.trustEachOther(b, c);
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1), 'a-b synced');
    const oldId = a.identity.deviceId;
    const { newDeviceId } = await a.worker.rotateIdentity(() => Promise.resolve());
    await waitFor(() => b.trust.get(newDeviceId) !== undefined, 'b applied the rotation');
    // c was not connected to a; it connects to b, which hands over the certificate.
    c.worker.addPeerAddress(b.address);
    await waitFor(() => c.trust.get(newDeviceId) !== undefined, 'c learned the rotation via b');
    assert.equal(c.trust.get(oldId), undefined);
  });

  it('a forged rotation certificate is rejected and changes nothing', async () => {
    const a = await net.addNode();
    const b = await net.addNode();
    await net.trustEachOther(a, b);
    a.worker.addPeerAddress(b.address);
    await waitFor(() => a.worker.isSynced(1) && b.worker.isSynced(1), 'initial sync');
    const attackerKey = DeviceIdentity.generate();
    const newKey = DeviceIdentity.generate();
    // Claims a's old key but is signed by another key.
    const forged = signRotation(
      (attackerKey as unknown as { privateKey: Parameters<typeof signRotation>[0] }).privateKey,
      a.identity.publicKey,
      newKey.publicKey,
      1000,
    );
    const trustOf = (): string =>
      JSON.stringify(b.trust.list().map((p) => [p.deviceId, p.publicKey, p.revokedAt ?? null]));
    const trustedBefore = trustOf();
    const session = (
      a.worker as unknown as { sessions: Map<string, { send(m: Uint8Array): boolean }> }
    ).sessions.get(b.identity.deviceId);
    assert.ok(session);
    session.send(encodeKeyRotated(forged));
    await waitFor(
      () =>
        channelEvents(b, 'sync.worker.peer_rejected').some(
          (e) => e.data?.['reason'] === 'rotation_rejected',
        ),
      'rejection diagnostic',
    );
    assert.equal(trustOf(), trustedBefore);
    assert.equal(b.trust.get(newKey.deviceId), undefined);
    assert.ok(b.trust.get(a.identity.deviceId) !== undefined);
  });

  describe('describeFolder', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'twinspace-describe-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads the origin remote from .git/config and counts files outside .git and node_modules', async () => {
      mkdirSync(path.join(dir, '.git'));
      writeFileSync(
        path.join(dir, '.git', 'config'),
        '[core]\n\tbare = false\n[remote "upstream"]\n\turl = git@github.com:up/p.git\n' +
          '[remote "origin"]\n\turl = https://tok@github.com/me/p.git\n\tfetch = +refs/*\n',
      );
      mkdirSync(path.join(dir, 'node_modules', 'x'), { recursive: true });
      writeFileSync(path.join(dir, 'node_modules', 'x', 'i.js'), '');
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src', 'a.ts'), '');
      writeFileSync(path.join(dir, 'README.md'), '');
      const offer = await describeFolder(dir, 'w', 'proj');
      assert.deepEqual(offer, {
        workspaceId: 'w',
        name: 'proj',
        gitRemote: 'github.com/me/p',
        fileCount: 2,
      });
      assert.equal(await countFiles(dir, 1), 1, 'the count is bounded');
    });

    it('falls back to the first remote, and to none', () => {
      assert.equal(remoteFromGitConfig('[remote "x"]\n url = a:b/c\n'), 'a:b/c');
      assert.equal(remoteFromGitConfig('[core]\n url = nope\n'), undefined);
    });
  });
});
