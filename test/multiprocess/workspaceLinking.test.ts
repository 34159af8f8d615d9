/**
 * Workspace linking and key rotation between two `twinspace serve` processes (loopback, no mDNS).
 * Needs `npm run build` first (dist/cli.js).
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pairPeers, PeerGroup, waitUntil, type CliPeer } from './cliPeers';

interface PeerView {
  peerId: string;
  state: string;
  link?: string;
  workspaceId?: string;
}

describe('Workspace linking and key rotation between CLI processes', function () {
  this.timeout(120_000);
  let group: PeerGroup;
  let a: CliPeer;
  let b: CliPeer;

  before(async () => {
    group = PeerGroup.create();
    a = await group.add('a');
    b = await group.add('b');
    // b's folder is a git checkout: its offer carries the normalized remote.
    mkdirSync(path.join(b.folder, '.git'));
    writeFileSync(
      path.join(b.folder, '.git', 'config'),
      '[remote "origin"]\n\turl = https://user:secret@example.com/team/proj.git\n',
    );
    writeFileSync(path.join(b.folder, 'one.txt'), '1');
    writeFileSync(path.join(b.folder, 'two.txt'), '2');
    await a.start(['--workspace', 'ws-a']);
    await b.start(['--workspace', 'ws-b']);
    await pairPeers(a, b);
  });

  after(async () => {
    await group.dispose();
  });

  function peersOf(peer: CliPeer): PeerView[] {
    return peer.status()?.peers ?? [];
  }

  function ok(peer: CliPeer, args: string[]): string {
    const r = peer.cli(args);
    assert.equal(r.code, 0, `${peer.name} ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  it('peers with different workspace ids exchange no content until `link`, then converge', async () => {
    ok(a, ['visit', 'from-a']);
    ok(b, ['visit', 'from-b']);
    await waitUntil(
      () =>
        peersOf(a).some((p) => p.link === 'not linked' && p.workspaceId === 'ws-b') &&
        peersOf(b).some((p) => p.link === 'not linked' && p.workspaceId === 'ws-a'),
      'not-linked sessions',
    );
    // Offers arrived: b's workspace, with its remote normalized (no credentials).
    const listed = JSON.parse(ok(a, ['workspaces', '--json'])) as {
      offers: { workspaceId: string; gitRemote?: string; fileCount: number; match: string }[];
    };
    assert.deepEqual(
      listed.offers.map((o) => [o.workspaceId, o.gitRemote, o.fileCount]),
      [['ws-b', 'example.com/team/proj', 2]],
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.notEqual(a.status()?.docHash, b.status()?.docHash, 'no content crossed');

    assert.match(ok(a, ['link', 'ws-b']), /linked to workspace ws-b/);
    ok(a, ['wait-synced', '--timeout-ms', '20000', '--peers', '1']);
    ok(b, ['wait-synced', '--timeout-ms', '20000', '--peers', '1']);
    await waitUntil(() => a.status()?.docHash === b.status()?.docHash, 'equal documents');
    const status = JSON.parse(ok(a, ['status'])) as { workspaceId: string };
    assert.equal(status.workspaceId, 'ws-b');
  });

  it('rotate-key keeps the pair syncing without re-pairing', async () => {
    const oldId = a.status()?.deviceId;
    assert.ok(oldId !== undefined);
    const out = ok(a, ['rotate-key']);
    const newId = /-> ([A-Z2-7]{32})/.exec(out)?.[1];
    assert.ok(newId !== undefined && newId !== oldId, out);
    await waitUntil(() => b.trustedIds().includes(newId), 'b trusts the new key');
    assert.ok(!b.trustedIds().includes(oldId));
    await waitUntil(() => a.status()?.deviceId === newId, 'a reports its new id');
    ok(a, ['visit', 'after-rotation']);
    ok(b, ['wait-synced', '--timeout-ms', '20000', '--peers', '1']);
    await waitUntil(() => a.status()?.docHash === b.status()?.docHash, 'equal documents again');
    await waitUntil(
      () => peersOf(b).some((p) => p.peerId === newId && p.state === 'Idle'),
      'b shows a under its new id',
    );
    // The new key survives a restart (it was saved in the key file).
    await a.kill9();
    await a.start(['--workspace', 'ws-a']);
    assert.equal(a.status()?.deviceId, newId);
    ok(a, ['wait-synced', '--timeout-ms', '20000', '--peers', '1']);
  });
});
