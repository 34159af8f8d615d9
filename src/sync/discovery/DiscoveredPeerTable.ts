/**
 * Bookkeeping of the devices discovery currently sees: bounded (a flood of announcements cannot
 * grow it past `capacity`; known peers are never evicted by newcomers), keyed by device id, with
 * the mDNS service instance each entry came from (a goodbye removes a peer only if it names the
 * instance the peer is currently known by), and expiry of peers not heard from for a while.
 * Time comes in as data.
 */
import { TwinspaceError } from '../../core/errors';
import type { DiscoveredPeer } from './announcement';

export type { DiscoveredPeer } from './announcement';

export interface DiscoveredPeerTableOptions {
  /** Most peers kept at once (default 256). */
  readonly capacity?: number;
  /** A peer not heard from for this long is expired by `expire` (default: never). */
  readonly staleAfterMs?: number;
}

/**
 * added: a new peer. changed: a known peer's name, addresses, port or version changed.
 * refreshed: nothing but the time changed. full: a new peer, refused because the table is full.
 */
export type UpsertOutcome = 'added' | 'changed' | 'refreshed' | 'full';

export const DEFAULT_PEER_CAPACITY = 256;

interface Entry {
  peer: DiscoveredPeer;
  instance: string;
}

function samePeerInfo(a: DiscoveredPeer, b: DiscoveredPeer): boolean {
  return (
    a.name === b.name &&
    a.host === b.host &&
    a.port === b.port &&
    a.protocolVersion === b.protocolVersion &&
    a.addresses.length === b.addresses.length &&
    a.addresses.every((x, i) => x === b.addresses[i])
  );
}

function frozen(peer: DiscoveredPeer): DiscoveredPeer {
  return Object.freeze({ ...peer, addresses: Object.freeze([...peer.addresses]) });
}

export class DiscoveredPeerTable {
  readonly capacity: number;
  readonly staleAfterMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: DiscoveredPeerTableOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_PEER_CAPACITY;
    const staleAfterMs = options.staleAfterMs ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TwinspaceError('validation', `capacity must be a positive integer: ${capacity}`);
    }
    if (Number.isNaN(staleAfterMs) || staleAfterMs <= 0) {
      throw new TwinspaceError('validation', `staleAfterMs must be positive: ${staleAfterMs}`);
    }
    this.capacity = capacity;
    this.staleAfterMs = staleAfterMs;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records an announcement of `peer` received through service instance `instance`. */
  upsert(peer: DiscoveredPeer, instance: string): UpsertOutcome {
    const key = instance.toLowerCase();
    const existing = this.entries.get(peer.deviceId);
    if (existing === undefined) {
      if (this.entries.size >= this.capacity) return 'full';
      this.entries.set(peer.deviceId, { peer: frozen(peer), instance: key });
      return 'added';
    }
    const changed = !samePeerInfo(existing.peer, peer);
    existing.instance = key;
    existing.peer = frozen({
      ...peer,
      lastSeenAt: Math.max(existing.peer.lastSeenAt, peer.lastSeenAt),
    });
    return changed ? 'changed' : 'refreshed';
  }

  get(deviceId: string): DiscoveredPeer | undefined {
    return this.entries.get(deviceId)?.peer;
  }

  has(deviceId: string): boolean {
    return this.entries.has(deviceId);
  }

  remove(deviceId: string): DiscoveredPeer | undefined {
    const entry = this.entries.get(deviceId);
    if (entry === undefined) return undefined;
    this.entries.delete(deviceId);
    return entry.peer;
  }

  /** The device currently known through service instance `instance`, if any. */
  instanceOwner(instance: string): string | undefined {
    const key = instance.toLowerCase();
    for (const [deviceId, entry] of this.entries) {
      if (entry.instance === key) return deviceId;
    }
    return undefined;
  }

  /** A goodbye for `instance`: removes the peer currently known through that instance, if any. */
  removeInstance(instance: string): DiscoveredPeer | undefined {
    const owner = this.instanceOwner(instance);
    return owner === undefined ? undefined : this.remove(owner);
  }

  /** Removes and returns the peers last seen `staleAfterMs` or longer before `now`. */
  expire(now: number): DiscoveredPeer[] {
    const gone: DiscoveredPeer[] = [];
    for (const [deviceId, entry] of this.entries) {
      if (now - entry.peer.lastSeenAt >= this.staleAfterMs) {
        this.entries.delete(deviceId);
        gone.push(entry.peer);
      }
    }
    return gone;
  }

  /** Removes and returns every peer. */
  clear(): DiscoveredPeer[] {
    const all = this.list();
    this.entries.clear();
    return all;
  }

  /** Every peer, ordered by device id. */
  list(): DiscoveredPeer[] {
    return [...this.entries.values()]
      .map((e) => e.peer)
      .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }
}
