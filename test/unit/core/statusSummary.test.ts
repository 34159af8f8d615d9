import { strict as assert } from 'node:assert';
import { FILE_SYNC_OFF, type FileSyncStatus } from '../../../src/core/files/fileSyncStatus';
import { initialState, type RegisterState } from '../../../src/core/state';
import {
  describeFileSync,
  escapeMarkdown,
  formatAgo,
  statusTooltipMarkdown,
  summarizeStatus,
} from '../../../src/core/statusSummary';

function withWorkers(state: RegisterState, status: 'running' | 'failed'): RegisterState {
  return {
    ...state,
    workers: { a: { name: 'a', status, failures: status === 'failed' ? 6 : 0, changedAt: 1 } },
  };
}

describe('summarizeStatus', () => {
  it('is off without a runtime', () => {
    assert.equal(summarizeStatus(undefined).kind, 'off');
  });

  it('is discovering with running workers and no peers', () => {
    const s = summarizeStatus(withWorkers(initialState(), 'running'));
    assert.equal(s.kind, 'discovering');
    assert.match(s.text, /^Twinspace: discovering$/);
  });

  it('a failed worker wins and is named', () => {
    const s = summarizeStatus(withWorkers(initialState(), 'failed'));
    assert.equal(s.kind, 'error');
    assert.match(s.text, /worker failed \(a\)/);
  });

  it('counts devices in sync, and syncing wins over idle', () => {
    const base = withWorkers(initialState(), 'running');
    const idle: RegisterState = {
      ...base,
      sync: {
        peers: {
          p1: { peerId: 'p1', state: 'Idle', updatesReceived: 0 },
          p2: { peerId: 'p2', state: 'Idle', updatesReceived: 0 },
        },
      },
    };
    assert.equal(summarizeStatus(idle).text, 'Twinspace: 2 devices in sync');
    const syncing: RegisterState = {
      ...idle,
      sync: {
        peers: { ...idle.sync.peers, p3: { peerId: 'p3', state: 'Syncing', updatesReceived: 0 } },
      },
    };
    assert.equal(summarizeStatus(syncing).kind, 'syncing');
    const offline: RegisterState = {
      ...base,
      sync: { peers: { p1: { peerId: 'p1', state: 'Disconnected', updatesReceived: 0 } } },
    };
    assert.equal(summarizeStatus(offline).kind, 'offline');
  });
});

describe('statusTooltipMarkdown', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const base = withWorkers(initialState(), 'running');
  const labels = {
    p1: { name: 'Laptop', shortId: 'aaaa-bbbb-cccc' },
    p2: { name: 'Desktop', shortId: 'dddd-eeee-ffff' },
  };

  it('has one line per device with name, short id, state, transport and last sync', () => {
    const state: RegisterState = {
      ...base,
      sync: {
        peers: {
          p1: {
            peerId: 'p1',
            state: 'Idle',
            transport: 'tcp',
            lastSyncAt: now - 5 * 60_000,
            updatesReceived: 3,
          },
        },
      },
    };
    const md = statusTooltipMarkdown(state, labels, now);
    const lines = md.split('\n');
    assert.equal(lines[0], '**Twinspace: 1 device in sync**');
    const devices = lines.filter((l) => l.startsWith('- '));
    assert.deepEqual(devices, [
      // Sorted by name; the trusted device without a session shows as offline.
      '- $(debug-disconnect) **Desktop** (dddd\\-eeee\\-ffff): offline · never synced',
      '- $(check) **Laptop** (aaaa\\-bbbb\\-cccc): in sync · via tcp · last sync 5 min ago',
    ]);
  });

  it('lists failed workers with their error, and notes last', () => {
    const state = withWorkers(initialState(), 'failed');
    const md = statusTooltipMarkdown(
      { ...state, workers: { a: { ...state.workers.a!, lastError: 'disk full' } } },
      {},
      now,
      ['Device Sync failed: EADDRINUSE'],
    );
    const lines = md.split('\n').filter((l) => l.startsWith('- '));
    assert.deepEqual(lines, [
      '- $(error) worker **a** failed (failures: 6): disk full',
      '- Device Sync failed: EADDRINUSE',
    ]);
    assert.match(md, /^\*\*Twinspace: worker failed \\\(a\\\)\*\*/);
  });

  it('escapes device names so a peer cannot inject links or icons', () => {
    const md = statusTooltipMarkdown(
      base,
      { p9: { name: '[x](command:evil) $(zap)\n**b**', shortId: 's' } },
      now,
    );
    const line = md.split('\n').find((l) => l.startsWith('- ')) ?? '';
    assert.ok(!line.includes('[x](command'), line);
    assert.ok(!line.includes('$(zap)'), line);
    assert.ok(line.includes('\\[x\\]\\(command:evil\\) \\$\\(zap\\) \\*\\*b\\*\\*'), line);
  });

  it('says there are no devices yet, and is just the headline when off', () => {
    assert.match(statusTooltipMarkdown(base, {}, now), /No devices yet/);
    assert.equal(statusTooltipMarkdown(undefined, {}, now), '**Twinspace: off**');
  });
});

describe('formatAgo and escapeMarkdown', () => {
  it('formats elapsed time in coarse units', () => {
    const now = 10_000_000_000;
    assert.equal(formatAgo(now - 30_000, now), 'just now');
    assert.equal(formatAgo(now + 30_000, now), 'just now');
    assert.equal(formatAgo(now - 59 * 60_000, now), '59 min ago');
    assert.equal(formatAgo(now - 3 * 3_600_000, now), '3 h ago');
    assert.equal(formatAgo(now - 49 * 3_600_000, now), '2 d ago');
  });

  it('escapes every Markdown special character', () => {
    assert.equal(escapeMarkdown('a*b_c`d'), 'a\\*b\\_c\\`d');
    assert.equal(escapeMarkdown('plain text'), 'plain text');
  });
});

describe('summarizeStatus with the file sync', () => {
  const base = withWorkers(initialState(), 'running');
  const idle: RegisterState = {
    ...base,
    sync: { peers: { p1: { peerId: 'p1', state: 'Idle', updatesReceived: 0 } } },
  };
  const conflict = {
    id: 'a.png.conflict',
    path: 'a.png',
    copyPath: 'a.png.conflict',
    kind: 'binary' as const,
    device: 'laptop',
    at: 1,
  };

  it('shows "syncing N%" while files sync, over devices in sync', () => {
    const files: FileSyncStatus = { ...FILE_SYNC_OFF, state: 'syncing', percent: 42.7, pending: 9 };
    const s = summarizeStatus(idle, files);
    assert.equal(s.kind, 'syncing');
    assert.equal(s.text, 'Twinspace: syncing 42%');
    assert.equal(s.icon, 'sync~spin');
    assert.match(s.tooltip, /Files: syncing 42% · 9 pending/);
    // Out-of-range percentages are clamped.
    assert.equal(summarizeStatus(idle, { ...files, percent: 250 }).text, 'Twinspace: syncing 100%');
    assert.equal(summarizeStatus(idle, { ...files, percent: NaN }).text, 'Twinspace: syncing 0%');
  });

  it('says "offline", not "syncing N%", when no device is connected', () => {
    const files: FileSyncStatus = { ...FILE_SYNC_OFF, state: 'syncing', percent: 50, pending: 1 };
    const offline = {
      ...idle,
      sync: { peers: { p1: { peerId: 'p1', state: 'Disconnected' as const, updatesReceived: 0 } } },
    };
    assert.equal(summarizeStatus(offline, files).kind, 'offline');
  });

  it('shows "N conflicts" over progress; a failed worker still wins', () => {
    const files: FileSyncStatus = {
      ...FILE_SYNC_OFF,
      state: 'syncing',
      percent: 10,
      conflicts: [conflict, { ...conflict, id: 'b', path: 'b' }],
    };
    const s = summarizeStatus(idle, files);
    assert.equal(s.kind, 'conflict');
    assert.equal(s.text, 'Twinspace: 2 conflicts');
    assert.equal(s.icon, 'warning');
    assert.equal(
      summarizeStatus(idle, { ...files, conflicts: [conflict] }).text,
      'Twinspace: 1 conflict',
    );
    assert.equal(summarizeStatus(withWorkers(initialState(), 'failed'), files).kind, 'error');
  });

  it('an idle or absent file sync leaves the device states as they were', () => {
    assert.deepEqual(summarizeStatus(idle, FILE_SYNC_OFF), summarizeStatus(idle));
    const inSync: FileSyncStatus = { ...FILE_SYNC_OFF, state: 'in-sync', files: 12 };
    assert.equal(summarizeStatus(idle, inSync).text, 'Twinspace: 1 device in sync');
    assert.equal(summarizeStatus(undefined, inSync).kind, 'off');
  });

  it('the tooltip lists files, conflicts (escaped) and git mismatches by device name', () => {
    const files: FileSyncStatus = {
      ...FILE_SYNC_OFF,
      state: 'in-sync',
      files: 3,
      conflicts: [{ ...conflict, path: '[x](command:evil).png' }],
      git: { branch: 'main', head: 'aaaaaaaaaa' },
      gitMismatches: [{ deviceId: 'p1', branch: 'feature', head: 'bbbbbbbbbbbb' }],
    };
    const md = statusTooltipMarkdown(idle, { p1: { name: 'Laptop', shortId: 's' } }, 0, [], files);
    assert.match(md, /^\*\*Twinspace: 1 conflict\*\*/);
    assert.ok(md.includes('$(warning) Files: in sync · 3 files · 1 conflict'), md);
    assert.ok(md.includes('\\[x\\]\\(command:evil\\)\\.png'), md);
    assert.ok(!md.includes('[x](command'), md);
    assert.ok(md.includes('$(git-branch) Laptop is on feature @ bbbbbbb'), md);
  });
});

describe('describeFileSync', () => {
  it('names each file sync state', () => {
    const s = (x: Partial<FileSyncStatus>): string => describeFileSync({ ...FILE_SYNC_OFF, ...x });
    assert.equal(s({}), 'Files: not syncing');
    assert.equal(s({ state: 'scanning' }), 'Files: scanning');
    assert.match(s({ state: 'awaiting-confirmation' }), /waiting for your confirmation/);
    assert.equal(s({ state: 'in-sync', files: 1 }), 'Files: in sync · 1 file');
  });
});
