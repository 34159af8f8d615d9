import { strict as assert } from 'node:assert';
import {
  parseSyncPanelRequest,
  SYNC_PANEL_COMMANDS,
} from '../../../src/core/protocol/syncPanelProtocol';

const ID = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

describe('Sync Panel protocol: device requests', () => {
  it('accepts forgetDevice and pairWith with a device id', () => {
    for (const method of ['forgetDevice', 'pairWith'] as const) {
      assert.deepEqual(parseSyncPanelRequest({ kind: 'request', id: 3, method, deviceId: ID }), {
        ok: true,
        value: { kind: 'request', id: 3, method, deviceId: ID },
      });
    }
  });

  it('rejects anything that is not a device id', () => {
    const bad: unknown[] = [
      undefined,
      '',
      ID.toLowerCase(),
      `${ID}A`,
      ID.slice(1),
      'ABCDEFGHIJKLMNOPQRSTUVWXYZ234501',
      { toString: () => ID },
      ['x'],
    ];
    for (const deviceId of bad) {
      const r = parseSyncPanelRequest({ kind: 'request', id: 1, method: 'forgetDevice', deviceId });
      assert.ok(!r.ok && /device id/.test(r.error), JSON.stringify(deviceId));
    }
  });

  it('lets the panel run the pairing commands, and nothing else new', () => {
    assert.ok(SYNC_PANEL_COMMANDS.includes('twinspace.pairDevice'));
    assert.ok(SYNC_PANEL_COMMANDS.includes('twinspace.addPeerAddress'));
    const r = parseSyncPanelRequest({
      kind: 'request',
      id: 1,
      method: 'runCommand',
      command: 'twinspace.forgetDevice',
    });
    assert.equal(r.ok, false);
  });
});
