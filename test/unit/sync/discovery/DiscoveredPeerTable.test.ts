import { strict as assert } from 'node:assert';
import {
  DEFAULT_PEER_CAPACITY,
  DiscoveredPeerTable,
} from '../../../../src/sync/discovery/DiscoveredPeerTable';
import type { DiscoveredPeer } from '../../../../src/sync/discovery/DiscoveredPeerTable';

function peer(deviceId: string, overrides: Partial<DiscoveredPeer> = {}): DiscoveredPeer {
  return {
    deviceId,
    name: `name-${deviceId}`,
    host: '10.0.0.1',
    port: 7000,
    protocolVersion: 1,
    addresses: ['10.0.0.1'],
    lastSeenAt: 0,
    ...overrides,
  };
}
const inst = (id: string): string => `twinspace-${id}._twinspace._tcp.local`;

describe('DiscoveredPeerTable', () => {
  it('adds a peer once, then only refreshes it while nothing but the time changes', () => {
    const t = new DiscoveredPeerTable();
    assert.equal(t.upsert(peer('A'), inst('a')), 'added');
    assert.equal(t.upsert(peer('A', { lastSeenAt: 50 }), inst('a')), 'refreshed');
    assert.equal(t.get('A')?.lastSeenAt, 50);
    assert.equal(t.size, 1);
  });

  it('reports a change of port, name, version or addresses', () => {
    const t = new DiscoveredPeerTable();
    t.upsert(peer('A'), inst('a'));
    assert.equal(t.upsert(peer('A', { port: 7001 }), inst('a')), 'changed');
    assert.equal(t.upsert(peer('A', { port: 7001, name: 'x' }), inst('a')), 'changed');
    assert.equal(
      t.upsert(peer('A', { port: 7001, name: 'x', protocolVersion: 2 }), inst('a')),
      'changed',
    );
    assert.equal(
      t.upsert(
        peer('A', { port: 7001, name: 'x', protocolVersion: 2, addresses: ['10.0.0.1', 'fd::1'] }),
        inst('a'),
      ),
      'changed',
    );
    assert.deepEqual(t.get('A')?.addresses, ['10.0.0.1', 'fd::1']);
  });

  it('never lets lastSeenAt go backwards', () => {
    const t = new DiscoveredPeerTable();
    t.upsert(peer('A', { lastSeenAt: 100 }), inst('a'));
    t.upsert(peer('A', { lastSeenAt: 40 }), inst('a'));
    assert.equal(t.get('A')?.lastSeenAt, 100);
  });

  it('is bounded: a full table refuses newcomers but keeps updating known peers', () => {
    const t = new DiscoveredPeerTable({ capacity: 2 });
    assert.equal(t.upsert(peer('A'), inst('a')), 'added');
    assert.equal(t.upsert(peer('B'), inst('b')), 'added');
    assert.equal(t.upsert(peer('C'), inst('c')), 'full');
    assert.equal(t.has('C'), false);
    assert.equal(t.upsert(peer('A', { port: 9 }), inst('a')), 'changed');
    assert.equal(t.size, 2);
    t.remove('B');
    assert.equal(t.upsert(peer('C'), inst('c')), 'added');
  });

  it('defaults to a capacity of 256 and holds no more under a flood', () => {
    const t = new DiscoveredPeerTable();
    assert.equal(t.capacity, DEFAULT_PEER_CAPACITY);
    assert.equal(DEFAULT_PEER_CAPACITY, 256);
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      if (t.upsert(peer(`P${i}`), inst(`p${i}`)) === 'full') refused += 1;
    }
    assert.equal(t.size, 256);
    assert.equal(refused, 744);
  });

  it('removes a peer on a goodbye only for the instance it is currently known by', () => {
    const t = new DiscoveredPeerTable();
    t.upsert(peer('A'), 'Old._twinspace._tcp.local');
    t.upsert(peer('A'), 'New._twinspace._tcp.local');
    assert.equal(t.removeInstance('old._twinspace._tcp.local'), undefined);
    assert.equal(t.instanceOwner('NEW._twinspace._tcp.local'), 'A');
    assert.equal(t.removeInstance('new._TWINSPACE._tcp.local')?.deviceId, 'A');
    assert.equal(t.size, 0);
    assert.equal(t.removeInstance('new._twinspace._tcp.local'), undefined);
  });

  it('expires peers not heard from for staleAfterMs, and only those', () => {
    const t = new DiscoveredPeerTable({ staleAfterMs: 1000 });
    t.upsert(peer('A', { lastSeenAt: 0 }), inst('a'));
    t.upsert(peer('B', { lastSeenAt: 500 }), inst('b'));
    assert.deepEqual(t.expire(999), []);
    assert.deepEqual(
      t.expire(1000).map((p) => p.deviceId),
      ['A'],
    );
    assert.deepEqual(
      t.list().map((p) => p.deviceId),
      ['B'],
    );
    assert.deepEqual(
      t.expire(1500).map((p) => p.deviceId),
      ['B'],
    );
  });

  it('never expires without staleAfterMs', () => {
    const t = new DiscoveredPeerTable();
    t.upsert(peer('A'), inst('a'));
    assert.deepEqual(t.expire(Number.MAX_SAFE_INTEGER), []);
  });

  it('lists peers ordered by device id, frozen', () => {
    const t = new DiscoveredPeerTable();
    for (const id of ['C', 'A', 'B']) t.upsert(peer(id), inst(id));
    const list = t.list();
    assert.deepEqual(
      list.map((p) => p.deviceId),
      ['A', 'B', 'C'],
    );
    assert.ok(Object.isFrozen(list[0]) && Object.isFrozen(list[0]!.addresses));
    const input = peer('D');
    t.upsert(input, inst('d'));
    (input.addresses as string[]).push('10.9.9.9');
    assert.deepEqual(t.get('D')?.addresses, ['10.0.0.1']);
  });

  it('clear() returns every peer and empties the table', () => {
    const t = new DiscoveredPeerTable();
    t.upsert(peer('A'), inst('a'));
    t.upsert(peer('B'), inst('b'));
    assert.deepEqual(
      t.clear().map((p) => p.deviceId),
      ['A', 'B'],
    );
    assert.equal(t.size, 0);
  });

  it('rejects a bad capacity or staleness', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new DiscoveredPeerTable({ capacity }), { code: 'validation' });
    }
    for (const staleAfterMs of [0, -5, Number.NaN]) {
      assert.throws(() => new DiscoveredPeerTable({ staleAfterMs }), { code: 'validation' });
    }
  });
});
