/**
 * DiscoveryWorker: a supervised worker that publishes this device on the LAN by mDNS
 * (`_twinspace._tcp`, TXT `{ id, v, port, name }`) and browses for other devices. It reports
 * peers found and lost through callbacks; who to dial is decided elsewhere (only trusted ids are
 * dialed; the rest are offered for pairing).
 *
 * - Everything received is validated (see `parseAnnouncement`); hostile or malformed
 *   announcements are ignored and counted in `stats()`, never reported as peers.
 * - The peer table is bounded (`capacity`, default 256); a full table refuses newcomers.
 * - bonjour-service's browser reports each service once and only forgets it on a goodbye, so the
 *   worker re-opens its browser every `refreshIntervalMs` (a fresh PTR query that every live peer
 *   answers) and expires peers not heard from for `staleAfterMs` (a crashed peer sends no goodbye).
 * - On abort it sends goodbyes (unpublish), destroys the mDNS socket and its timers, and reports
 *   every peer it knew as lost, so a restarted worker starts from a clean slate.
 *
 * Never run this in a network namespace whose multicast can leave the machine under test.
 */
import type { EventEmitter } from 'node:events';
import { Bonjour } from 'bonjour-service';
import { TwinspaceError, describeError } from '../../core/errors';
import type { TimerHandle } from '../../runtime/Clock';
import type { WorkerContext, WorkerSpec } from '../../runtime/Worker';
import {
  TWINSPACE_SERVICE_TYPE,
  buildTxtRecord,
  defaultMdnsHost,
  isValidDeviceId,
  parseAnnouncement,
  serviceInstanceName,
} from './announcement';
import type { DiscoveredPeer } from './announcement';
import { DiscoveredPeerTable } from './DiscoveredPeerTable';

export { DiscoveredPeerTable } from './DiscoveredPeerTable';
export type { DiscoveredPeer } from './announcement';

/** The subset of bonjour-service the worker uses (tests pass a fake; no sockets). */
export interface MdnsPublishConfig {
  readonly name: string;
  readonly type: string;
  readonly protocol: 'tcp';
  readonly port: number;
  readonly host: string;
  readonly txt: Readonly<Record<string, string>>;
  readonly probe: boolean;
}

export interface MdnsBrowserLike {
  on(
    event: 'up' | 'down' | 'txt-update' | 'srv-update',
    listener: (service: unknown) => void,
  ): void;
  stop(): void;
  readonly services: readonly unknown[];
}

export interface MdnsLike {
  publish(config: MdnsPublishConfig): unknown;
  find(config: { readonly type: string; readonly protocol: 'tcp' }): MdnsBrowserLike;
  /** Sends goodbyes for everything published; calls back once they are sent. */
  unpublishAll(callback: () => void): void;
  /** Closes the socket and stops its timers; calls back once closed. */
  destroy(callback: () => void): void;
}

export interface MdnsFactoryOptions {
  /** IPv4 address of the interface to use; the socket then binds 0.0.0.0. */
  readonly interfaceAddress?: string;
  /** A send failed (e.g. the link is down): not fatal. */
  readonly onSendError: (err: unknown) => void;
  /** The socket cannot work (bind refused): the run fails and the supervisor restarts it. */
  readonly onFatal: (err: Error) => void;
}

export type MdnsFactory = (options: MdnsFactoryOptions) => MdnsLike;

/** The real mDNS stack: bonjour-service on a multicast-dns socket. */
export const bonjourFactory: MdnsFactory = (options) => {
  const mdnsOptions: Record<string, unknown> = {};
  if (options.interfaceAddress !== undefined) {
    mdnsOptions['interface'] = options.interfaceAddress;
    mdnsOptions['bind'] = '0.0.0.0';
  }
  // bonjour-service's default error callback throws (from inside a socket callback): replace it.
  const bonjour = new Bonjour(mdnsOptions, (err: unknown) => {
    options.onSendError(err);
  });
  // multicast-dns emits 'error' (EADDRINUSE, EACCES) on its emitter; unheard, it would crash us.
  const socketEvents = (bonjour as unknown as { server?: { mdns?: EventEmitter } }).server?.mdns;
  socketEvents?.on('error', (err: unknown) => {
    options.onFatal(err instanceof Error ? err : new Error(String(err)));
  });
  return {
    publish: (config) => bonjour.publish({ ...config, txt: { ...config.txt } }),
    find: (config) => bonjour.find(config),
    unpublishAll: (callback) => {
      bonjour.unpublishAll(callback);
    },
    destroy: (callback) => {
      bonjour.destroy(callback);
    },
  };
};

export interface DiscoveryWorkerOptions {
  readonly deviceId: string;
  readonly deviceName: string;
  /** The TCP port our sync listener is bound to (the real one, never 0). */
  readonly port: number;
  readonly protocolVersion: number;
  /** mDNS host name for our A/AAAA records (default `twinspace-<short id>.local`). */
  readonly host?: string;
  /** IPv4 address of the interface to announce and browse on (default: all). */
  readonly interfaceAddress?: string;
  readonly onPeerFound: (peer: DiscoveredPeer) => void;
  readonly onPeerLost: (deviceId: string) => void;
  /** Probe for name conflicts before announcing (RFC 6762; about 1 s). Default true. */
  readonly probe?: boolean;
  /** Re-query the network this often (default 10 s). */
  readonly refreshIntervalMs?: number;
  /** Report a peer lost when not heard from for this long (default 35 s). */
  readonly staleAfterMs?: number;
  /** Most peers kept (default 256). */
  readonly capacity?: number;
  /** Bound on each shutdown step (goodbye, socket close); default 1500 ms. */
  readonly shutdownStepTimeoutMs?: number;
  /** Worker name for the supervisor (default 'discovery'). */
  readonly name?: string;
  readonly mdnsFactory?: MdnsFactory;
}

export interface DiscoveryStats {
  /** Announcements ignored as malformed or hostile. */
  readonly ignored: number;
  readonly lastIgnoredReason?: string;
  /** New peers refused because the table was full. */
  readonly refusedFull: number;
  /** mDNS sends that failed (not fatal). */
  readonly sendErrors: number;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 10_000;
export const DEFAULT_STALE_AFTER_MS = 35_000;

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function checkUint(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TwinspaceError('validation', `${name} must be an integer in [${min}, ${max}]`);
  }
}

export class DiscoveryWorker implements WorkerSpec {
  readonly name: string;
  readonly restart = 'on-failure' as const;
  private readonly options: DiscoveryWorkerOptions;
  private readonly refreshIntervalMs: number;
  private readonly staleAfterMs: number;
  private readonly capacity: number | undefined;
  private table: DiscoveredPeerTable | undefined;
  private ignored = 0;
  private lastIgnoredReason: string | undefined;
  private refusedFull = 0;
  private sendErrors = 0;

  constructor(options: DiscoveryWorkerOptions) {
    if (!isValidDeviceId(options.deviceId)) {
      throw new TwinspaceError('validation', 'deviceId is not a valid device id');
    }
    checkUint('port', options.port, 1, 65535);
    checkUint('protocolVersion', options.protocolVersion, 1, 65535);
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    checkUint('refreshIntervalMs', this.refreshIntervalMs, 10, 3_600_000);
    if (!(this.staleAfterMs > this.refreshIntervalMs)) {
      throw new TwinspaceError('validation', 'staleAfterMs must exceed refreshIntervalMs');
    }
    this.capacity = options.capacity;
    this.options = options;
    this.name = options.name ?? 'discovery';
  }

  /** The mDNS service instance name we publish. */
  get instanceName(): string {
    return serviceInstanceName(this.options.deviceId);
  }

  /** Peers currently known (empty when not running), ordered by device id. */
  peers(): DiscoveredPeer[] {
    return this.table?.list() ?? [];
  }

  stats(): DiscoveryStats {
    return {
      ignored: this.ignored,
      refusedFull: this.refusedFull,
      sendErrors: this.sendErrors,
      ...(this.lastIgnoredReason !== undefined
        ? { lastIgnoredReason: this.lastIgnoredReason }
        : {}),
    };
  }

  async run(signal: AbortSignal, ctx: WorkerContext): Promise<void> {
    if (signal.aborted) return;
    const o = this.options;
    const table = new DiscoveredPeerTable({
      staleAfterMs: this.staleAfterMs,
      ...(this.capacity !== undefined ? { capacity: this.capacity } : {}),
    });
    this.table = table;
    let failure: Error | undefined;
    let wake: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const onAbort = (): void => {
      wake();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const fail = (err: Error): void => {
      failure ??= err;
      wake();
    };
    const mdns = (o.mdnsFactory ?? bonjourFactory)({
      ...(o.interfaceAddress !== undefined ? { interfaceAddress: o.interfaceAddress } : {}),
      onSendError: () => {
        this.sendErrors += 1;
      },
      onFatal: fail,
    });

    let stopped = false;
    let browser: MdnsBrowserLike | undefined;
    let timer: { readonly handle: TimerHandle } | undefined;

    const lost = (peer: DiscoveredPeer, why: string, emit: boolean): void => {
      if (emit) {
        ctx.diagnostics.emit('sync.discovery.peer_lost', `lost ${peer.name} (${why})`, {
          deviceId: peer.deviceId,
          reason: why,
        });
      }
      o.onPeerLost(peer.deviceId);
    };
    const ignore = (reason: string): void => {
      this.ignored += 1;
      this.lastIgnoredReason = reason;
    };
    /** Callbacks run inside socket handlers: a throw must fail the run, not the process. */
    const guarded =
      (handler: (service: unknown) => void) =>
      (service: unknown): void => {
        if (stopped) return;
        try {
          handler(service);
        } catch (err) {
          fail(err instanceof Error ? err : new TwinspaceError('internal', describeError(err)));
        }
      };

    const onUp = (service: unknown): void => {
      const found = parseAnnouncement(service, o.deviceId, ctx.clock.now());
      if (found.kind === 'self') return;
      if (found.kind === 'invalid') {
        ignore(found.reason);
        return;
      }
      const { peer, instance } = found;
      const owner = table.instanceOwner(instance);
      if (owner !== undefined && owner !== peer.deviceId) {
        const previous = table.remove(owner);
        if (previous) lost(previous, 'its service now announces another device', true);
      }
      const outcome = table.upsert(peer, instance);
      if (outcome === 'full') {
        this.refusedFull += 1;
        ignore(`peer table full (${table.capacity})`);
        return;
      }
      if (outcome === 'refreshed') return;
      const current = table.get(peer.deviceId) ?? peer;
      ctx.diagnostics.emit(
        'sync.discovery.peer_found',
        `${outcome === 'added' ? 'found' : 'updated'} ${current.name} at ${current.host}:${current.port}`,
        {
          deviceId: current.deviceId,
          host: current.host,
          port: current.port,
          protocolVersion: current.protocolVersion,
        },
      );
      o.onPeerFound(current);
    };
    const onUpBounded = (service: unknown): void => {
      onUp(service);
      // bonjour-service's browser keeps every service it ever saw: a flood must not grow it.
      if (browser !== undefined && browser.services.length > 2 * table.capacity) openBrowser();
    };
    const onDown = (service: unknown): void => {
      const fqdn = (service as { fqdn?: unknown } | null)?.fqdn;
      if (typeof fqdn !== 'string') return;
      const peer = table.removeInstance(fqdn);
      if (peer) lost(peer, 'goodbye', true);
    };
    const openBrowser = (): void => {
      browser?.stop();
      const next = mdns.find({ type: TWINSPACE_SERVICE_TYPE, protocol: 'tcp' });
      browser = next;
      next.on('up', guarded(onUpBounded));
      next.on('srv-update', guarded(onUp));
      next.on('txt-update', guarded(onUp));
      next.on('down', guarded(onDown));
    };
    const refresh = (): void => {
      timer = undefined;
      if (stopped) return;
      try {
        openBrowser();
        for (const peer of table.expire(ctx.clock.now())) lost(peer, 'not heard from', true);
      } catch (err) {
        fail(err instanceof Error ? err : new TwinspaceError('internal', describeError(err)));
        return;
      }
      timer = { handle: ctx.clock.setTimeout(refresh, this.refreshIntervalMs) };
    };

    try {
      const host = o.host ?? defaultMdnsHost(o.deviceId);
      mdns.publish({
        name: this.instanceName,
        type: TWINSPACE_SERVICE_TYPE,
        protocol: 'tcp',
        port: o.port,
        host,
        txt: buildTxtRecord(o),
        probe: o.probe ?? true,
      });
      openBrowser();
      timer = { handle: ctx.clock.setTimeout(refresh, this.refreshIntervalMs) };
      ctx.diagnostics.emit(
        'sync.discovery.started',
        `publishing ${this.instanceName}._${TWINSPACE_SERVICE_TYPE}._tcp on port ${o.port}`,
        { deviceId: o.deviceId, host, port: o.port, protocolVersion: o.protocolVersion },
      );
      await finished;
    } finally {
      stopped = true;
      signal.removeEventListener('abort', onAbort);
      if (timer !== undefined) ctx.clock.clearTimeout(timer.handle);
      browser?.stop();
      const step = this.options.shutdownStepTimeoutMs ?? 1500;
      await this.bounded(ctx, step, (done) => {
        mdns.unpublishAll(done);
      });
      await this.bounded(ctx, step, (done) => {
        mdns.destroy(done);
      });
      for (const peer of table.clear()) lost(peer, 'discovery stopped', false);
    }
    if (failure !== undefined && !isAborted(signal)) {
      throw failure instanceof TwinspaceError
        ? failure
        : new TwinspaceError('internal', `mDNS discovery failed: ${failure.message}`, {
            cause: failure,
          });
    }
  }

  /** Runs a callback-style step, giving up after `ms` (a step that throws counts as done). */
  private bounded(ctx: WorkerContext, ms: number, step: (done: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        ctx.clock.clearTimeout(handle);
        resolve();
      };
      const handle = ctx.clock.setTimeout(finish, ms);
      try {
        step(finish);
      } catch {
        finish();
      }
    });
  }
}
