import { strict as assert } from 'node:assert';
import {
  checkPeerAddress,
  MAX_WORKSPACE_ID_BYTES,
  normalizePeerAddress,
  readSyncSettings,
  workspaceIdFor,
} from '../../../src/host/syncSettings';

describe('host Device Sync settings', () => {
  it('defaults: host name, folder name as workspace id, 0.0.0.0:0, mDNS on, no peers', () => {
    const s = readSyncSettings({}, 'my-project', 'laptop');
    assert.equal(s.deviceName, 'laptop');
    assert.equal(s.workspaceId, 'my-project');
    assert.equal(s.listenHost, '0.0.0.0');
    assert.equal(s.listenPort, 0);
    assert.equal(s.mdns, true);
    assert.deepEqual(s.manualPeers, []);
    assert.deepEqual(s.problems, []);
  });

  it('uses the settings when they are valid', () => {
    const s = readSyncSettings(
      {
        deviceName: '  desk  ',
        workspaceId: 'shared',
        listenHost: '127.0.0.1',
        listenPort: 47100,
        mdns: false,
        manualPeers: ['10.0.0.2:47100', '[::1]:5000', '10.0.0.2:47100'],
      },
      'folder',
      'laptop',
    );
    assert.equal(s.deviceName, 'desk');
    assert.equal(s.workspaceId, 'shared');
    assert.equal(s.listenHost, '127.0.0.1');
    assert.equal(s.listenPort, 47100);
    assert.equal(s.mdns, false);
    assert.deepEqual(s.manualPeers, [
      { host: '10.0.0.2', port: 47100 },
      { host: '::1', port: 5000 },
    ]);
    assert.deepEqual(s.problems, []);
  });

  it('ignores bad values with a reason instead of throwing', () => {
    const s = readSyncSettings(
      {
        listenPort: 70000,
        listenHost: 'bad host; rm -rf',
        manualPeers: ['nope', 42, 'host:0', 'ok.example:1'],
      },
      undefined,
      'h',
    );
    assert.equal(s.listenPort, 0);
    assert.equal(s.listenHost, '0.0.0.0');
    assert.deepEqual(s.manualPeers, [{ host: 'ok.example', port: 1 }]);
    assert.equal(s.problems.length, 5, s.problems.join('\n'));
    assert.equal(s.workspaceId, 'default');
    assert.ok(readSyncSettings({ manualPeers: 'a:1' }, 'f', 'h').problems.length === 1);
  });

  it('workspace ids are clamped to the wire limit without splitting a character', () => {
    const long = 'é'.repeat(200);
    const id = workspaceIdFor('', long);
    assert.ok(Buffer.byteLength(id, 'utf8') <= MAX_WORKSPACE_ID_BYTES);
    assert.equal(id, 'é'.repeat(MAX_WORKSPACE_ID_BYTES / 2));
    assert.equal(workspaceIdFor('  x  ', 'folder'), 'x');
    assert.equal(workspaceIdFor(undefined, '   '), 'default');
  });

  it('checks and normalizes host:port', () => {
    assert.equal(checkPeerAddress('127.0.0.1:4000'), undefined);
    assert.match(checkPeerAddress('127.0.0.1') ?? '', /host:port/);
    assert.match(checkPeerAddress('a:99999') ?? '', /host:port/);
    assert.equal(normalizePeerAddress(' [fe80::1]:80 '), '[fe80::1]:80');
    assert.throws(() => normalizePeerAddress('x'), RangeError);
  });
});
