import { strict as assert } from 'node:assert';
import {
  parseSyncPanelRequest,
  SYNC_PANEL_COMMANDS,
  SYNC_PANEL_DEVICE_COMMANDS,
  type SyncPanelMessage,
  type SyncPanelView,
} from '../../../src/core/protocol/syncPanelProtocol';
import {
  SyncPanelViewController,
  type SyncPanelHost,
} from '../../../src/host/SyncPanelViewController';

const LAPTOP = 'LAPTOPAAAAAAAAAAAAAAAAAAAAAAAAAA';
const STRANGER = 'STRANGERBBBBBBBBBBBBBBBBBBBBBBBB';

const view: SyncPanelView = {
  deviceName: 'desk',
  deviceId: 'DESKCCCCCCCCCCCCCCCCCCCCCCCCCCCC',
  deviceShortId: 'DESK-CCCC-CCCC',
  statusText: 'Twinspace: in sync',
  version: 1,
  workers: [],
  peers: [
    { peerId: LAPTOP, name: 'laptop', state: 'Idle', openEditors: 3 },
    { peerId: 'addr:10.0.0.9:4000', name: '(not paired)', state: 'Handshaking' },
  ],
  discovered: [],
  diagnostics: [],
};

function setup(withPause = true): {
  controller: SyncPanelViewController;
  posted: SyncPanelMessage[];
  ran: string[];
  rejected: string[];
} {
  const posted: SyncPanelMessage[] = [];
  const ran: string[] = [];
  const rejected: string[] = [];
  const host: SyncPanelHost = {
    view: () => view,
    onChange: () => () => undefined,
    runCommand: (command, arg) => {
      ran.push(arg === undefined ? `run:${command}` : `run:${command}:${JSON.stringify(arg)}`);
      return Promise.resolve();
    },
    forgetDevice: (d) => {
      ran.push(`forget:${d}`);
      return Promise.resolve();
    },
    pairWith: (d) => {
      ran.push(`pair:${d}`);
      return Promise.resolve();
    },
    reportRejected: (r) => {
      rejected.push(r);
    },
    ...(withPause
      ? {
          pauseDevice: (d: string) => {
            ran.push(`pause:${d}`);
            return Promise.resolve();
          },
          resumeDevice: (d: string) => {
            ran.push(`resume:${d}`);
            return Promise.resolve();
          },
        }
      : {}),
  };
  const controller = new SyncPanelViewController(host, {
    post: (m) => {
      posted.push(m);
      return Promise.resolve();
    },
  });
  return { controller, posted, ran, rejected };
}

function answer(posted: SyncPanelMessage[], id: number): SyncPanelMessage {
  const m = posted.find((p) => p.kind === 'response' && p.id === id);
  assert.ok(m, `no response to ${id}`);
  return m;
}

describe('Sync Panel device actions (Continue here, Pause / Resume)', () => {
  it('allows "Continue on This Device" only with a device id, other commands only without', () => {
    assert.ok(SYNC_PANEL_COMMANDS.includes('twinspace.continueOnThisDevice'));
    assert.deepEqual([...SYNC_PANEL_DEVICE_COMMANDS], ['twinspace.continueOnThisDevice']);
    const run = (extra: Record<string, unknown>): ReturnType<typeof parseSyncPanelRequest> =>
      parseSyncPanelRequest({ kind: 'request', id: 1, method: 'runCommand', ...extra });
    const ok = run({ command: 'twinspace.continueOnThisDevice', deviceId: LAPTOP });
    assert.ok(ok.ok);
    assert.deepEqual(ok.value, {
      kind: 'request',
      id: 1,
      method: 'runCommand',
      command: 'twinspace.continueOnThisDevice',
      deviceId: LAPTOP,
    });
    assert.equal(run({ command: 'twinspace.continueOnThisDevice' }).ok, false);
    assert.equal(run({ command: 'twinspace.continueOnThisDevice', deviceId: '../x' }).ok, false);
    assert.equal(run({ command: 'twinspace.continueOnThisDevice', deviceId: { a: 1 } }).ok, false);
    assert.equal(run({ command: 'twinspace.showLog', deviceId: LAPTOP }).ok, false);
    assert.ok(run({ command: 'twinspace.showLog' }).ok);
  });

  it('parses pauseDevice / resumeDevice with a device id only', () => {
    for (const method of ['pauseDevice', 'resumeDevice'] as const) {
      const ok = parseSyncPanelRequest({ kind: 'request', id: 2, method, deviceId: LAPTOP });
      assert.ok(ok.ok);
      assert.deepEqual(ok.value, { kind: 'request', id: 2, method, deviceId: LAPTOP });
      assert.equal(parseSyncPanelRequest({ kind: 'request', id: 2, method }).ok, false);
      const bad = parseSyncPanelRequest({ kind: 'request', id: 2, method, deviceId: 'addr:x:1' });
      assert.equal(bad.ok, false);
    }
  });

  it('"Continue here" runs the command with { deviceId } of a trusted device', async () => {
    const t = setup();
    await t.controller.handle({
      kind: 'request',
      id: 1,
      method: 'runCommand',
      command: 'twinspace.continueOnThisDevice',
      deviceId: LAPTOP,
    });
    assert.deepEqual(t.ran, [
      `run:twinspace.continueOnThisDevice:${JSON.stringify({ deviceId: LAPTOP })}`,
    ]);
    const m = answer(t.posted, 1);
    assert.ok(m.kind === 'response' && m.ok);
  });

  it('"Continue here" for a device the panel does not show as trusted runs nothing', async () => {
    const t = setup();
    await t.controller.handle({
      kind: 'request',
      id: 4,
      method: 'runCommand',
      command: 'twinspace.continueOnThisDevice',
      deviceId: STRANGER,
    });
    await t.controller.handle({
      kind: 'request',
      id: 5,
      method: 'runCommand',
      command: 'twinspace.continueOnThisDevice',
    });
    assert.deepEqual(t.ran, []);
    const a = answer(t.posted, 4);
    const b = answer(t.posted, 5);
    assert.ok(a.kind === 'response' && !a.ok && a.code === 'not_found');
    assert.ok(b.kind === 'response' && !b.ok && b.code === 'validation');
    assert.equal(t.rejected.length, 2);
  });

  it('pauses and resumes a trusted device and answers with the new view', async () => {
    const t = setup();
    await t.controller.handle({ kind: 'request', id: 1, method: 'pauseDevice', deviceId: LAPTOP });
    await t.controller.handle({ kind: 'request', id: 2, method: 'resumeDevice', deviceId: LAPTOP });
    await t.controller.handle({
      kind: 'request',
      id: 3,
      method: 'pauseDevice',
      deviceId: STRANGER,
    });
    assert.deepEqual(t.ran, [`pause:${LAPTOP}`, `resume:${LAPTOP}`]);
    const one = answer(t.posted, 1);
    assert.ok(one.kind === 'response' && one.ok && one.view?.peers[0]?.peerId === LAPTOP);
    const three = answer(t.posted, 3);
    assert.ok(three.kind === 'response' && !three.ok && three.code === 'not_found');
  });

  it('answers not_found when the host cannot pause', async () => {
    const t = setup(false);
    await t.controller.handle({ kind: 'request', id: 7, method: 'pauseDevice', deviceId: LAPTOP });
    const m = answer(t.posted, 7);
    assert.ok(m.kind === 'response' && !m.ok && m.code === 'not_found');
    assert.deepEqual(t.ran, []);
  });
});
