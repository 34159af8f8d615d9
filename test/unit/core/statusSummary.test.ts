import { strict as assert } from 'node:assert';
import { initialState, type RegisterState } from '../../../src/core/state';
import {
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
