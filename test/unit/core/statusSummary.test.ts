import { strict as assert } from 'node:assert';
import { initialState, type RegisterState } from '../../../src/core/state';
import { summarizeStatus } from '../../../src/core/statusSummary';

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
