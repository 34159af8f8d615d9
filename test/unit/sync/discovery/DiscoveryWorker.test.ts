/**
 * The worker's logic against a fake mDNS stack and a fake clock. Never starts bonjour: real mDNS
 * runs only inside network namespaces (test/netns).
 */
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import FakeTimers from '@sinonjs/fake-timers';
import { Diagnostics } from '../../../../src/runtime/Diagnostics';
import type { WorkerContext } from '../../../../src/runtime/Worker';
import {
  DiscoveredPeerTable,
  DiscoveryWorker,
} from '../../../../src/sync/discovery/DiscoveryWorker';
import type {
  DiscoveredPeer,
  DiscoveryWorkerOptions,
  MdnsBrowserLike,
  MdnsFactoryOptions,
  MdnsLike,
  MdnsPublishConfig,
} from '../../../../src/sync/discovery/DiscoveryWorker';
import { fakeClock } from '../../support/fakeClock';

const SELF = 'SELFSELFSELFSELFSELFSELFSELFSELF';
const A = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const B = 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const C = 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';

class FakeBrowser extends EventEmitter implements MdnsBrowserLike {
  stopped = false;
  readonly services: unknown[] = [];
  stop(): void {
    this.stopped = true;
  }
  announce(raw: unknown): void {
    if (this.stopped) return;
    this.services.push(raw);
    this.emit('up', raw);
  }
  goodbye(raw: unknown): void {
    if (this.stopped) return;
    this.emit('down', raw);
  }
}

class FakeMdns implements MdnsLike {
  readonly published: MdnsPublishConfig[] = [];
  readonly browsers: FakeBrowser[] = [];
  readonly calls: string[] = [];
  /** When false, unpublishAll never calls back (a stuck socket). */
  answerUnpublish = true;
  factoryOptions: MdnsFactoryOptions | undefined;
  publish(config: MdnsPublishConfig): unknown {
    this.published.push(config);
    this.calls.push('publish');
    return {};
  }
  find(): MdnsBrowserLike {
    const b = new FakeBrowser();
    this.browsers.push(b);
    return b;
  }
  unpublishAll(callback: () => void): void {
    this.calls.push('unpublishAll');
    if (this.answerUnpublish) void Promise.resolve().then(callback);
  }
  destroy(callback: () => void): void {
    this.calls.push('destroy');
    void Promise.resolve().then(callback);
  }
  get browser(): FakeBrowser {
    const b = this.browsers[this.browsers.length - 1];
    if (b === undefined) throw new Error('no browser yet');
    return b;
  }
}

function announcement(id: string, overrides: Record<string, unknown> = {}): unknown {
  const short = id.slice(0, 12).toLowerCase();
  return {
    name: `twinspace-${short}`,
    fqdn: `twinspace-${short}._twinspace._tcp.local`,
    host: `twinspace-${short}.local`,
    port: 7000,
    addresses: ['10.77.0.2'],
    referer: { address: '10.77.0.2', family: 'IPv4', port: 5353, size: 1 },
    txt: { id, v: '1', port: '7000', name: `dev-${short}` },
    ...overrides,
  };
}

interface Rig {
  fake: FakeTimers.Clock;
  mdns: FakeMdns;
  diagnostics: Diagnostics;
  worker: DiscoveryWorker;
  found: DiscoveredPeer[];
  lostIds: string[];
  controller: AbortController;
  run: Promise<void>;
  channels(name: string): string[];
}

function start(options: Partial<DiscoveryWorkerOptions> = {}): Rig {
  const { fake, clock } = fakeClock(1_000);
  const diagnostics = new Diagnostics({ clock });
  const ctx: WorkerContext = {
    name: 'discovery',
    clock,
    diagnostics,
    send: () => Promise.reject(new Error('discovery must not send intents')),
    trySend: () => {
      throw new Error('discovery must not send intents');
    },
  };
  const mdns = new FakeMdns();
  const found: DiscoveredPeer[] = [];
  const lostIds: string[] = [];
  const worker = new DiscoveryWorker({
    deviceId: SELF,
    deviceName: 'my desk',
    port: 4100,
    protocolVersion: 2,
    onPeerFound: (p) => found.push(p),
    onPeerLost: (id) => lostIds.push(id),
    refreshIntervalMs: 1_000,
    staleAfterMs: 3_500,
    mdnsFactory: (o) => {
      mdns.factoryOptions = o;
      return mdns;
    },
    ...options,
  });
  const controller = new AbortController();
  const run = worker.run(controller.signal, ctx);
  return {
    fake,
    mdns,
    diagnostics,
    worker,
    found,
    lostIds,
    controller,
    run,
    channels: (name) =>
      diagnostics
        .recent()
        .filter((e) => e.channel === name)
        .map((e) => e.message),
  };
}

async function stop(rig: Rig): Promise<void> {
  rig.controller.abort();
  await rig.run;
}

describe('DiscoveryWorker', () => {
  it('re-exports the table', () => {
    assert.equal(typeof DiscoveredPeerTable, 'function');
  });

  it('publishes _twinspace._tcp with its TXT record and a per-device host, and browses', async () => {
    const rig = start();
    assert.deepEqual(rig.mdns.published, [
      {
        name: 'twinspace-selfselfself',
        type: 'twinspace',
        protocol: 'tcp',
        port: 4100,
        host: 'twinspace-selfselfself.local',
        txt: { id: SELF, v: '2', port: '4100', name: 'my desk' },
        probe: true,
      },
    ]);
    assert.equal(rig.mdns.browsers.length, 1);
    assert.equal(rig.channels('sync.discovery.started').length, 1);
    assert.equal(rig.mdns.factoryOptions?.interfaceAddress, undefined);
    await stop(rig);
  });

  it('passes host, probe and interface options through', async () => {
    const rig = start({ host: 'ns-a.local', probe: false, interfaceAddress: '10.77.0.1' });
    const config = rig.mdns.published[0];
    assert.ok(config);
    assert.equal(config.host, 'ns-a.local');
    assert.equal(config.probe, false);
    assert.equal(rig.mdns.factoryOptions?.interfaceAddress, '10.77.0.1');
    await stop(rig);
  });

  it('reports a peer once, ignores itself, and reports again only when its info changes', async () => {
    const rig = start();
    rig.mdns.browser.announce(announcement(SELF));
    rig.mdns.browser.announce(announcement(A));
    rig.mdns.browser.announce(announcement(A));
    assert.deepEqual(
      rig.found.map((p) => p.deviceId),
      [A],
    );
    assert.deepEqual(rig.found[0], {
      deviceId: A,
      name: 'dev-aaaaaaaaaaaa',
      host: '10.77.0.2',
      port: 7000,
      protocolVersion: 1,
      addresses: ['10.77.0.2'],
      lastSeenAt: 1_000,
    });
    rig.mdns.browser.emit(
      'srv-update',
      announcement(A, { port: 7001, txt: { id: A, v: '1', port: '7001' } }),
    );
    assert.equal(rig.found.length, 2);
    assert.equal(rig.found[1]?.port, 7001);
    assert.equal(rig.channels('sync.discovery.peer_found').length, 2);
    assert.deepEqual(
      rig.worker.peers().map((p) => p.deviceId),
      [A],
    );
    assert.equal(rig.worker.stats().ignored, 0);
    await stop(rig);
  });

  it('ignores hostile or malformed announcements without reporting them', async () => {
    const rig = start();
    const bad: unknown[] = [
      null,
      'junk',
      announcement(A, { txt: undefined }),
      announcement(A, { txt: { id: 'x', v: '1', port: '7000' } }),
      announcement(A, { txt: { id: A, v: 'abc', port: '7000' } }),
      announcement(A, { txt: { id: A, v: '1', port: '99999' } }),
      announcement(A, { port: 1 }),
      announcement(A, { addresses: ['224.0.0.251'], referer: undefined }),
    ];
    for (const raw of bad) rig.mdns.browser.announce(raw);
    assert.equal(rig.found.length, 0);
    assert.deepEqual(rig.channels('sync.discovery.peer_found'), []);
    assert.equal(rig.worker.stats().ignored, bad.length);
    assert.ok((rig.worker.stats().lastIgnoredReason ?? '').length > 0);
    rig.mdns.browser.announce(announcement(B));
    assert.deepEqual(
      rig.found.map((p) => p.deviceId),
      [B],
    );
    await stop(rig);
  });

  it('reports a peer lost on its goodbye, and not on a goodbye for another instance', async () => {
    const rig = start();
    rig.mdns.browser.announce(announcement(A));
    rig.mdns.browser.goodbye({ fqdn: 'twinspace-zzz._twinspace._tcp.local' });
    rig.mdns.browser.goodbye({ nofqdn: true });
    rig.mdns.browser.goodbye(null);
    assert.deepEqual(rig.lostIds, []);
    rig.mdns.browser.goodbye(announcement(A));
    assert.deepEqual(rig.lostIds, [A]);
    assert.equal(rig.channels('sync.discovery.peer_lost').length, 1);
    assert.deepEqual(rig.worker.peers(), []);
    await stop(rig);
  });

  it('re-queries every refresh interval and expires a peer that stops answering', async () => {
    const rig = start();
    rig.mdns.browser.announce(announcement(A));
    rig.mdns.browser.announce(announcement(B));
    for (let i = 0; i < 6; i++) {
      rig.fake.tick(1_000);
      // a fresh browser per refresh: only A keeps answering
      rig.mdns.browser.announce(announcement(A));
      assert.ok(rig.mdns.browsers.at(-2)?.stopped, 'the previous browser is stopped');
    }
    assert.equal(rig.mdns.browsers.length, 7);
    assert.deepEqual(rig.lostIds, [B]);
    assert.ok(rig.channels('sync.discovery.peer_lost')[0]?.includes('not heard from'));
    assert.deepEqual(
      rig.found.map((p) => p.deviceId),
      [A, B],
    );
    assert.equal(rig.worker.peers()[0]?.lastSeenAt, 7_000);
    await stop(rig);
  });

  it('keeps at most `capacity` peers and counts the refused ones', async () => {
    const rig = start({ capacity: 2 });
    for (const id of [A, B, C]) rig.mdns.browser.announce(announcement(id));
    assert.deepEqual(
      rig.found.map((p) => p.deviceId),
      [A, B],
    );
    assert.equal(rig.worker.stats().refusedFull, 1);
    await stop(rig);
  });

  it('drops the old device when a service instance starts announcing another id', async () => {
    const rig = start();
    rig.mdns.browser.announce(announcement(A));
    rig.mdns.browser.emit('txt-update', announcement(A, { txt: { id: C, v: '1', port: '7000' } }));
    assert.deepEqual(rig.lostIds, [A]);
    assert.deepEqual(
      rig.worker.peers().map((p) => p.deviceId),
      [C],
    );
    await stop(rig);
  });

  it('re-opens its browser when a flood outgrows it', async () => {
    const rig = start({ capacity: 2 });
    for (let i = 0; i < 5; i++) {
      rig.mdns.browser.announce(announcement(`FLOOD${i}XXXXXXXXXXXXXXXXXXXXXXXXXX`.slice(0, 32)));
    }
    assert.ok(rig.mdns.browsers.length >= 2);
    assert.ok(rig.mdns.browser.services.length <= 4);
    await stop(rig);
  });

  it('on abort: goodbyes, then closes the socket, reports its peers lost, leaves no timer', async () => {
    const rig = start();
    rig.mdns.browser.announce(announcement(A));
    const first = rig.mdns.browser;
    await stop(rig);
    assert.deepEqual(rig.mdns.calls, ['publish', 'unpublishAll', 'destroy']);
    assert.ok(first.stopped);
    assert.deepEqual(rig.lostIds, [A]);
    assert.deepEqual(rig.worker.peers(), []);
    assert.equal(rig.fake.countTimers(), 0);
    // nothing arrives after the stop
    first.stopped = false;
    first.announce(announcement(B));
    assert.deepEqual(
      rig.found.map((p) => p.deviceId),
      [A],
    );
  });

  it('bounds a shutdown step that never completes', async () => {
    const rig = start({ shutdownStepTimeoutMs: 200 });
    rig.mdns.answerUnpublish = false;
    rig.controller.abort();
    let done = false;
    void rig.run.then(() => {
      done = true;
    });
    await rig.fake.tickAsync(199);
    assert.equal(done, false);
    await rig.fake.tickAsync(1);
    await rig.run;
    assert.deepEqual(rig.mdns.calls, ['publish', 'unpublishAll', 'destroy']);
    assert.equal(rig.fake.countTimers(), 0);
  });

  it('fails the run (for the supervisor) when the socket fails, after cleaning up', async () => {
    const rig = start();
    rig.mdns.factoryOptions?.onSendError(new Error('ENETUNREACH'));
    assert.equal(rig.worker.stats().sendErrors, 1);
    rig.mdns.factoryOptions?.onFatal(new Error('bind EADDRINUSE'));
    await assert.rejects(rig.run, (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, 'internal');
      assert.match((err as Error).message, /EADDRINUSE/);
      return true;
    });
    assert.deepEqual(rig.mdns.calls, ['publish', 'unpublishAll', 'destroy']);
    assert.equal(rig.fake.countTimers(), 0);
  });

  it('fails the run when a callback throws inside a socket handler, instead of crashing', async () => {
    const rig = start({
      onPeerFound: () => {
        throw new Error('consumer bug');
      },
    });
    assert.doesNotThrow(() => {
      rig.mdns.browser.announce(announcement(A));
    });
    await assert.rejects(rig.run, /consumer bug/);
    assert.ok(rig.mdns.calls.includes('destroy'));
  });

  it('returns at once when started with an aborted signal', async () => {
    const mdns = new FakeMdns();
    const worker = new DiscoveryWorker({
      deviceId: SELF,
      deviceName: 'x',
      port: 1,
      protocolVersion: 1,
      onPeerFound: () => undefined,
      onPeerLost: () => undefined,
      mdnsFactory: () => mdns,
    });
    const controller = new AbortController();
    controller.abort();
    await worker.run(controller.signal, {} as WorkerContext);
    assert.deepEqual(mdns.calls, []);
  });

  it('validates its options', () => {
    const base: DiscoveryWorkerOptions = {
      deviceId: SELF,
      deviceName: 'x',
      port: 1,
      protocolVersion: 1,
      onPeerFound: () => undefined,
      onPeerLost: () => undefined,
    };
    assert.equal(new DiscoveryWorker(base).name, 'discovery');
    assert.equal(new DiscoveryWorker(base).instanceName, 'twinspace-selfselfself');
    for (const bad of [
      { deviceId: 'no' },
      { port: 0 },
      { port: 65536 },
      { protocolVersion: 1.5 },
      { refreshIntervalMs: 5 },
      { refreshIntervalMs: 1000, staleAfterMs: 1000 },
    ]) {
      assert.throws(() => new DiscoveryWorker({ ...base, ...bad }), { code: 'validation' });
    }
  });
});
