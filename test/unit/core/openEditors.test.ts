import { strict as assert } from 'node:assert';
import * as Y from 'yjs';
import {
  MAX_SELECTIONS_PER_TAB,
  MAX_TABS_PER_GROUP,
  MAX_TABS_TOTAL,
  applyPublishOpenEditors,
  countEditors,
  devicesEditors,
  readDeviceEditors,
  validateDeviceEditors,
  validateOpenEditors,
  type OpenEditorsState,
} from '../../../src/core/openEditors';
import { applyReplicatedIntent } from '../../../src/core/workspaceDoc';
import { isReplicatedIntent, type Intent } from '../../../src/core/intents';

const DEVICE_A = 'A'.repeat(32);
const DEVICE_B = 'B234567ABCDEFGHIJKLMNOPQRSTUVWXY';

const sample: OpenEditorsState = {
  groups: [
    {
      viewColumn: 2,
      tabs: [{ path: 'src/b.ts', selections: [], topLine: 0, pinned: false }],
      activeTab: 0,
    },
    {
      viewColumn: 1,
      tabs: [
        {
          path: 'README.md',
          selections: [{ anchor: { line: 1, character: 0 }, active: { line: 2, character: 4 } }],
          topLine: 1,
          pinned: true,
        },
        { path: 'src/a.ts', selections: [], topLine: 10, pinned: false },
      ],
      activeTab: 1,
    },
  ],
  activeViewColumn: 1,
  updatedAt: 1_000,
};

function withTab(tab: unknown): unknown {
  return { groups: [{ viewColumn: 1, tabs: [tab] }], updatedAt: 0 };
}
const goodTab = { path: 'a.txt', selections: [], topLine: 0, pinned: false };

function rejects(value: unknown, pattern: RegExp): void {
  const result = validateOpenEditors(value);
  if (result.ok)
    assert.fail(
      `accepted ${(JSON.stringify(value) as string | undefined)?.slice(0, 200) ?? typeof value}`,
    );
  assert.equal(result.code, 'validation');
  assert.match(result.message, pattern);
  assert.ok(result.message.length < 4_000, 'message stays short');
}

describe('open editors state', () => {
  it('accepts a valid state, sorts groups by view column, freezes it and counts tabs', () => {
    const result = validateOpenEditors(sample);
    assert.ok(result.ok);
    assert.deepEqual(
      result.value.groups.map((g) => g.viewColumn),
      [1, 2],
    );
    assert.equal(countEditors(result.value), 3);
    assert.ok(Object.isFrozen(result.value.groups[0]?.tabs[0]?.selections[0]?.anchor));
  });

  it('drops unknown fields', () => {
    const result = validateOpenEditors({
      ...sample,
      extra: 'x',
      groups: [{ viewColumn: 1, tabs: [{ ...goodTab, evil: 1 }], junk: true }],
    });
    assert.ok(result.ok);
    assert.deepEqual(result.value, {
      groups: [{ viewColumn: 1, tabs: [goodTab] }],
      activeViewColumn: 1,
      updatedAt: 1_000,
    });
  });

  it('rejects paths that leave the folder or are not canonical', () => {
    for (const path of [
      '../etc/passwd',
      '/etc/passwd',
      'a/../../b',
      'a//b',
      './a',
      '',
      'a\u0000b',
      'a/',
    ]) {
      rejects(withTab({ ...goodTab, path }), /path/);
    }
    rejects(withTab({ ...goodTab, path: 42 }), /path must be a string/);
  });

  it('rejects hostile numbers, shapes and types', () => {
    rejects(null, /must be an object/);
    rejects([], /must be an object/);
    rejects('x', /must be an object/);
    rejects({ groups: [], updatedAt: -1 }, /updatedAt/);
    rejects({ groups: [], updatedAt: Number.NaN }, /updatedAt/);
    rejects({ groups: {}, updatedAt: 0 }, /groups must be an array/);
    rejects({ groups: [{ viewColumn: 0, tabs: [] }], updatedAt: 0 }, /viewColumn/);
    rejects({ groups: [{ viewColumn: 1.5, tabs: [] }], updatedAt: 0 }, /viewColumn/);
    rejects({ groups: [{ viewColumn: 1e9, tabs: [] }], updatedAt: 0 }, /viewColumn/);
    rejects(
      {
        groups: [
          { viewColumn: 1, tabs: [] },
          { viewColumn: 1, tabs: [] },
        ],
        updatedAt: 0,
      },
      /twice/,
    );
    rejects({ groups: [{ viewColumn: 1, tabs: [], activeTab: 0 }], updatedAt: 0 }, /activeTab/);
    rejects(
      { groups: [{ viewColumn: 1, tabs: [] }], activeViewColumn: 3, updatedAt: 0 },
      /activeViewColumn/,
    );
    rejects(withTab({ ...goodTab, topLine: -1 }), /topLine/);
    rejects(withTab({ ...goodTab, topLine: Infinity }), /topLine/);
    rejects(withTab({ ...goodTab, pinned: 'yes' }), /pinned/);
    rejects(
      withTab({
        ...goodTab,
        selections: [{ anchor: { line: 0, character: 0 }, active: { line: 0, character: -3 } }],
      }),
      /character/,
    );
    rejects(withTab({ ...goodTab, selections: [{ anchor: { line: '1', character: 0 } }] }), /line/);
    rejects(withTab({ ...goodTab, selections: [null] }), /selections\[0\]/);
  });

  it('caps selections, tabs per group and tabs in all', () => {
    const sel = { anchor: { line: 0, character: 0 }, active: { line: 0, character: 0 } };
    rejects(
      withTab({
        ...goodTab,
        selections: Array.from({ length: MAX_SELECTIONS_PER_TAB + 1 }, () => sel),
      }),
      /at most/,
    );
    const tabs = (n: number): unknown[] =>
      Array.from({ length: n }, (_, i) => ({ ...goodTab, path: `f${i}.txt` }));
    rejects(
      { groups: [{ viewColumn: 1, tabs: tabs(MAX_TABS_PER_GROUP + 1) }], updatedAt: 0 },
      /at most/,
    );
    const groups = Array.from(
      { length: Math.ceil(MAX_TABS_TOTAL / MAX_TABS_PER_GROUP) + 1 },
      (_, i) => ({
        viewColumn: i + 1,
        tabs: tabs(MAX_TABS_PER_GROUP),
      }),
    );
    rejects({ groups, updatedAt: 0 }, /more than/);
    // A huge array is refused by its length without walking it.
    rejects({ groups: new Array(1e6), updatedAt: 0 }, /at most/);
  });

  it('does not call toString of hostile values', () => {
    let touched = false;
    const proto = Object.create({
      toString: () => {
        touched = true;
        return 'x';
      },
    }) as object;
    rejects(withTab({ ...goodTab, path: proto }), /path must be a string/);
    assert.equal(touched, false);
  });

  it('validates a whole publication: device id and name', () => {
    assert.ok(
      validateDeviceEditors({ deviceId: DEVICE_A, deviceName: 'laptop', editors: sample }).ok,
    );
    for (const deviceId of [
      '',
      'a'.repeat(32),
      'A'.repeat(31),
      'A'.repeat(33),
      '1'.repeat(32),
      7,
    ]) {
      assert.equal(validateDeviceEditors({ deviceId, deviceName: 'x', editors: sample }).ok, false);
    }
    for (const deviceName of ['', '   ', 'a\nb', 'x'.repeat(257), null]) {
      assert.equal(
        validateDeviceEditors({ deviceId: DEVICE_A, deviceName, editors: sample }).ok,
        false,
      );
    }
  });
});

describe('devices.editors in the workspace document', () => {
  const publish = (deviceId: string, deviceName: string, editors: OpenEditorsState): Intent => ({
    type: 'PublishOpenEditors',
    deviceId,
    deviceName,
    editors,
  });

  it('is a replicated intent: stored per device, replaced as a whole, read back validated', () => {
    const intent = publish(DEVICE_A, 'laptop', sample);
    assert.equal(isReplicatedIntent(intent), true);
    const doc = new Y.Doc();
    assert.equal(applyReplicatedIntent(doc, intent, 'local'), undefined);
    assert.equal(
      applyReplicatedIntent(doc, publish(DEVICE_B, 'desk', { groups: [], updatedAt: 5 }), 'local'),
      undefined,
    );
    const second: OpenEditorsState = {
      groups: [{ viewColumn: 3, tabs: [goodTab] }],
      updatedAt: 2_000,
    };
    assert.equal(
      applyReplicatedIntent(doc, publish(DEVICE_A, 'laptop', second), 'local'),
      undefined,
    );
    const { devices, invalid } = readDeviceEditors(doc);
    assert.deepEqual(invalid, []);
    assert.deepEqual(
      devices.map((d) => [d.deviceName, d.deviceId, countEditors(d.editors)]),
      [
        ['desk', DEVICE_B, 0],
        ['laptop', DEVICE_A, 1],
      ],
    );
    assert.deepEqual(devices[1]?.editors, second);
  });

  it('refuses an invalid publication and leaves the document unchanged', () => {
    const doc = new Y.Doc();
    let updates = 0;
    doc.on('update', () => (updates += 1));
    const bad = publish(DEVICE_A, 'x', withTab({ ...goodTab, path: '../x' }) as OpenEditorsState);
    const refused = applyReplicatedIntent(doc, bad, 'local');
    assert.equal(refused?.code, 'validation');
    assert.equal(devicesEditors(doc).size, 0);
    assert.equal(updates, 0);
  });

  it('publishing the same state again makes no update', () => {
    const doc = new Y.Doc();
    let updates = 0;
    doc.on('update', () => (updates += 1));
    applyPublishOpenEditors(doc, { deviceId: DEVICE_A, deviceName: 'l', editors: sample }, 'x');
    applyPublishOpenEditors(doc, { deviceId: DEVICE_A, deviceName: 'l', editors: sample }, 'x');
    assert.equal(updates, 1);
  });

  it('a hostile entry written by a peer is reported on read, never returned', () => {
    const peer = new Y.Doc();
    devicesEditors(peer).set(DEVICE_A, {
      deviceName: 'evil',
      editors: withTab({ ...goodTab, path: '/etc/passwd' }),
    });
    devicesEditors(peer).set('not-a-device', { deviceName: 'x', editors: sample });
    devicesEditors(peer).set(DEVICE_B, 'just a string');
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(peer));
    const { devices, invalid } = readDeviceEditors(doc);
    assert.deepEqual(devices, []);
    assert.deepEqual(
      invalid.map((i) => i.deviceId).sort(),
      [DEVICE_A, DEVICE_B, 'not-a-device'].sort(),
    );
  });
});
