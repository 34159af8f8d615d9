/**
 * An in-process harness for FolderSync: N devices, each with a real temp folder and state dir and
 * a real FolderSync, joined by a mesh that stands in for the Engine (the workspace index as a
 * Y.Doc per device) and the SyncWorker (file messages between devices).
 *
 *  - Index: `ctx.send(IndexFile)` applies the intent to the device's doc with a local (symbol)
 *    origin, like the Engine; the resulting Yjs update travels to every other participant's doc,
 *    applied with origin = the sender's device id (a string), so `onFilesChanged` reports it as
 *    remote. Updates are never relayed (a full mesh).
 *  - Files: messages go through the real codec (encodeFileMessage / decodeSyncMessage), so a
 *    message FolderSync could not put on the wire fails here too, and are delivered
 *    asynchronously (setImmediate), in order per directed link.
 *  - Links: `pause(a, b)` stalls both directions (everything queued, peers stay up; `resume`
 *    delivers the queue in order). `cut(a, b)` is a partition: the file peers go down on both
 *    sides and file messages in flight are lost, index updates are queued; `heal(a, b)` delivers
 *    the index updates in order (the state-vector exchange of a reconnect), then brings the file
 *    peers up again.
 *  - Raw peers (no FolderSync, a test-written handler) play hostile or scripted devices.
 */
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as Y from 'yjs';
import type { FileSyncStatus } from '../../../../src/core/files/fileSyncStatus';
import type { Intent } from '../../../../src/core/intents';
import {
  applyReplicatedIntent,
  fileIndex,
  parseFileEntry,
  type FileEntry,
  type IntentRejection,
} from '../../../../src/core/workspaceDoc';
import { systemClock } from '../../../../src/runtime/Clock';
import {
  Diagnostics,
  type DiagnosticChannel,
  type DiagnosticEvent,
} from '../../../../src/runtime/Diagnostics';
import type { WorkerContext } from '../../../../src/runtime/Worker';
import {
  FolderSync,
  type FolderSyncHandler,
  type FolderSyncIndex,
  type FolderSyncOptions,
  type FolderSyncPeers,
} from '../../../../src/sync/files/FolderSync';
import {
  decodeSyncMessage,
  encodeFileMessage,
  isFileMessage,
  type FileMessage,
} from '../../../../src/sync/session/syncMessages';

/** The origin of a participant's own transactions (the Engine's LOCAL_ORIGIN is a symbol too). */
export const HARNESS_LOCAL_ORIGIN: unique symbol = Symbol('harness.local');

/** Polls `cond` every 20 ms until it holds; throws after `ms` with `what` (and `detail()`). */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
  detail?: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One logged file message. */
export interface LoggedMessage {
  readonly from: string;
  readonly to: string;
  readonly message: FileMessage;
}

type Wire =
  | { readonly kind: 'index'; readonly update: Uint8Array }
  | { readonly kind: 'file'; readonly bytes: Uint8Array };

interface Link {
  readonly from: string;
  readonly to: string;
  paused: boolean;
  /** A partition: file peers down, file messages dropped. */
  cut: boolean;
  readonly queue: Wire[];
  scheduled: boolean;
}

/** A member of the mesh: a device with FolderSync, or a raw peer. */
export abstract class Participant {
  readonly doc = new Y.Doc();
  /** The file handler now set (FolderSync while running, or the raw peer's). */
  handler: FolderSyncHandler | undefined;
  /** Errors thrown by this participant's handler while a message was delivered. */
  readonly handlerErrors: unknown[] = [];

  constructor(
    readonly mesh: FileSyncMesh,
    readonly id: string,
  ) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === HARNESS_LOCAL_ORIGIN) mesh.broadcastIndex(id, update);
    });
  }

  /** The index entry at `path` as FolderSync reads it. */
  fileEntry(path: string): FileEntry | undefined {
    return parseFileEntry(fileIndex(this.doc).get(path));
  }

  /** Writes a raw value into this participant's index (published to the others like its own). */
  writeIndexRaw(path: string, value: unknown): void {
    this.doc.transact(() => {
      (fileIndex(this.doc) as Y.Map<unknown>).set(path, value);
    }, HARNESS_LOCAL_ORIGIN);
  }

  /** Sends a file message to `to` as this participant (through the codec). */
  sendFile(to: string, message: FileMessage): boolean {
    return this.mesh.sendFile(this.id, to, message);
  }
}

/** A peer whose file handler the test writes (scripted or hostile). */
export class RawPeer extends Participant {
  setHandler(handler: FolderSyncHandler | undefined): void {
    this.mesh.setHandler(this, handler);
  }
}

export type HarnessDeviceOptions = Partial<
  Omit<FolderSyncOptions, 'folder' | 'stateDir' | 'deviceId' | 'index' | 'peers'>
> & {
  /** Listen to status changes like the host and the CLI do (default true). */
  readonly statusListener?: boolean;
};

/** A device: a folder, a state dir, an index doc and a FolderSync that can be stopped and restarted. */
export class HarnessDevice extends Participant {
  readonly folder: string;
  readonly stateDir: string;
  readonly diagnostics = new Diagnostics({ clock: systemClock, capacity: 2000 });
  /** Every intent this device's FolderSync sent, in order, over all its runs. */
  readonly intents: Intent[] = [];
  readonly rejections: IntentRejection[] = [];
  sync: FolderSync | undefined;
  /** The last status FolderSync reported through onStatus, and how many it reported. */
  lastStatus: FileSyncStatus | undefined;
  statusCount = 0;
  /** The error the last run rejected with, if any. */
  runError: unknown;
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;
  readonly index: FolderSyncIndex;
  readonly peers: FolderSyncPeers;

  constructor(
    mesh: FileSyncMesh,
    id: string,
    root: string,
    readonly options: HarnessDeviceOptions,
  ) {
    super(mesh, id);
    this.folder = nodePath.join(root, id, 'folder');
    this.stateDir = nodePath.join(root, id, 'state');
    const doc = this.doc;
    this.index = {
      fileEntry: (p) => this.fileEntry(p),
      fileEntries: () => {
        const entries = new Map<string, FileEntry>();
        const malformed: string[] = [];
        for (const [p, value] of fileIndex(doc) as Y.Map<unknown>) {
          const entry = parseFileEntry(value);
          if (entry === undefined) malformed.push(p);
          else entries.set(p, entry);
        }
        return { entries, malformed };
      },
      onFilesChanged: (listener) => {
        const files = fileIndex(doc) as Y.Map<unknown>;
        const observer = (event: Y.YMapEvent<unknown>, transaction: Y.Transaction): void => {
          listener([...event.keysChanged], typeof transaction.origin === 'string');
        };
        files.observe(observer);
        return () => {
          files.unobserve(observer);
        };
      },
    };
    this.peers = {
      setFileHandler: (handler) => {
        mesh.setHandler(this, handler);
      },
      filePeers: () => mesh.filePeersOf(this.id),
      sendFile: (peerId, message) => mesh.sendFile(this.id, peerId, message),
      whenWritable: () => Promise.resolve(),
    };
  }

  /** Started and its run has not returned. */
  get isRunning(): boolean {
    return this.running !== undefined && !this.ended;
  }

  private ended = false;

  /** Starts a fresh FolderSync (a process start: state comes from the state dir). */
  async start(extra: HarnessDeviceOptions = {}): Promise<FolderSync> {
    if (this.running) throw new Error(`${this.id} is already running`);
    await fs.mkdir(this.folder, { recursive: true });
    const { statusListener, ...options } = { ...this.options, ...extra };
    const sync = new FolderSync({
      watch: false,
      // Like the host and the CLI: every status change is read.
      ...(statusListener === false
        ? {}
        : {
            onStatus: (status: FileSyncStatus) => {
              this.lastStatus = status;
              this.statusCount++;
            },
          }),
      ...options,
      folder: this.folder,
      stateDir: this.stateDir,
      deviceId: this.id,
      index: this.index,
      peers: this.peers,
    });
    this.sync = sync;
    this.runError = undefined;
    const controller = new AbortController();
    this.controller = controller;
    const ctx: WorkerContext = {
      name: sync.name,
      clock: systemClock,
      diagnostics: this.diagnostics,
      send: (intent) => {
        this.intents.push(intent);
        const rejection = applyReplicatedIntent(this.doc, intent, HARNESS_LOCAL_ORIGIN);
        if (rejection) this.rejections.push(rejection);
        return Promise.resolve();
      },
      trySend: (intent) => {
        this.intents.push(intent);
        const rejection = applyReplicatedIntent(this.doc, intent, HARNESS_LOCAL_ORIGIN);
        if (rejection) this.rejections.push(rejection);
        return true;
      },
    };
    this.ended = false;
    this.running = sync.run(controller.signal, ctx).then(
      () => {
        this.ended = true;
      },
      (error: unknown) => {
        this.runError = error;
        this.ended = true;
      },
    );
    // Started once the handler is set (the initial scan is published by then) or run ended.
    await waitUntil(() => !this.isRunning || this.handler === sync, `${this.id} started`, 10_000);
    if (!this.isRunning) {
      throw new Error(`${this.id} stopped while starting: ${String(this.runError)}`);
    }
    return sync;
  }

  /** Aborts the FolderSync and waits for its run to return. */
  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.controller?.abort();
    await withTimeout(running, 10_000, `${this.id} to stop`);
    this.running = undefined;
    this.controller = undefined;
  }

  /** Whether the device runs and nothing failed (no rejected run, no files.sync.failed). */
  healthy(): boolean {
    return (
      this.isRunning &&
      this.runError === undefined &&
      this.handlerErrors.length === 0 &&
      this.diag('files.sync.failed').length === 0
    );
  }

  diag(channel: DiagnosticChannel): DiagnosticEvent[] {
    return this.diagnostics.recent().filter((e) => e.channel === channel);
  }

  /** The IndexFile intents this device sent for `path`. */
  indexIntents(path: string): Intent[] {
    return this.intents.filter((i) => i.type === 'IndexFile' && i.path === path);
  }

  abs(rel: string): string {
    return nodePath.join(this.folder, rel);
  }

  /** Writes a file (creating its folder) and tells FolderSync, like a host watcher would. */
  async write(rel: string, content: string | Uint8Array, mode?: number): Promise<void> {
    const file = this.abs(rel);
    await fs.mkdir(nodePath.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
    if (mode !== undefined) await fs.chmod(file, mode);
    this.sync?.notifyChanged([rel]);
  }

  async remove(rel: string): Promise<void> {
    await fs.rm(this.abs(rel), { recursive: true, force: true });
    this.sync?.notifyChanged([rel]);
  }

  async read(rel: string): Promise<Buffer | undefined> {
    return fs.readFile(this.abs(rel)).catch(() => undefined);
  }

  async readText(rel: string): Promise<string | undefined> {
    return (await this.read(rel))?.toString('utf8');
  }

  /** Every path in the folder: files as `path`, folders as `path/`. */
  async tree(): Promise<Map<string, Buffer | 'dir'>> {
    return readTree(this.folder);
  }

  /** The conflict copies in the folder (files whose name has `.twinspace-conflict-`). */
  async conflictCopies(): Promise<string[]> {
    return [...(await this.tree()).keys()].filter((p) => p.includes('.twinspace-conflict-')).sort();
  }
}

export async function readTree(root: string, dir = ''): Promise<Map<string, Buffer | 'dir'>> {
  const out = new Map<string, Buffer | 'dir'>();
  if (!existsSync(nodePath.join(root, dir))) return out;
  const entries = await fs.readdir(nodePath.join(root, dir), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      out.set(`${rel}/`, 'dir');
      for (const [k, v] of await readTree(root, rel)) out.set(k, v);
    } else if (entry.isFile() && !/^\.twinspace-[0-9a-f]+\.tmp$/.test(entry.name)) {
      // A file may be renamed away between the listing and the read (the orchestrator's temp
      // files, `.twinspace-*.tmp`, live for one write): only what is still there counts.
      const bytes = await fs.readFile(nodePath.join(root, rel)).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      });
      if (bytes !== undefined) out.set(rel, bytes);
    }
  }
  return out;
}

export class FileSyncMesh {
  readonly participants = new Map<string, Participant>();
  /** Every file message delivered (after decoding), in delivery order. */
  readonly delivered: LoggedMessage[] = [];
  /** File messages that failed to encode (FolderSync built something the wire refuses). */
  readonly encodeErrors: { from: string; to: string; error: unknown }[] = [];
  /** Deliveries that threw (a decode failure, or an index update that did not apply). */
  readonly deliveryErrors: { from: string; to: string; error: unknown }[] = [];
  private readonly links = new Map<string, Link>();

  private constructor(readonly root: string) {}

  static async create(): Promise<FileSyncMesh> {
    const root = await fs.mkdtemp(nodePath.join(os.tmpdir(), 'twinspace-foldersync-'));
    return new FileSyncMesh(root);
  }

  addDevice(id: string, options: HarnessDeviceOptions = {}): HarnessDevice {
    const device = new HarnessDevice(this, id, this.root, options);
    this.join(device);
    return device;
  }

  addRawPeer(id: string): RawPeer {
    const peer = new RawPeer(this, id);
    this.join(peer);
    return peer;
  }

  get devices(): HarnessDevice[] {
    return [...this.participants.values()].filter((p) => p instanceof HarnessDevice);
  }

  private join(participant: Participant): void {
    if (this.participants.has(participant.id)) throw new Error(`duplicate id ${participant.id}`);
    // The newcomer catches up with the index (what a first SyncStep1/2 does).
    for (const other of this.participants.values()) {
      Y.applyUpdate(participant.doc, Y.encodeStateAsUpdate(other.doc), other.id);
    }
    this.participants.set(participant.id, participant);
  }

  private link(from: string, to: string): Link {
    const key = `${from}\u0000${to}`;
    let link = this.links.get(key);
    if (!link) {
      link = { from, to, paused: false, cut: false, queue: [], scheduled: false };
      this.links.set(key, link);
    }
    return link;
  }

  /** Whether `a` and `b` are file peers now (both have a handler, no partition between them). */
  private up(a: string, b: string): boolean {
    if (a === b) return false;
    const pa = this.participants.get(a);
    const pb = this.participants.get(b);
    if (!pa?.handler || !pb?.handler) return false;
    return !this.link(a, b).cut && !this.link(b, a).cut;
  }

  filePeersOf(id: string): string[] {
    return [...this.participants.keys()].filter((other) => this.up(id, other)).sort();
  }

  setHandler(participant: Participant, handler: FolderSyncHandler | undefined): void {
    const before = participant.handler;
    if (before === handler) return;
    const peersBefore = this.filePeersOf(participant.id);
    participant.handler = handler;
    if (handler) {
      for (const other of this.filePeersOf(participant.id)) {
        // Like the SyncWorker's router: a new handler hears of every peer already up.
        this.call(participant, (h) => {
          h.onFilePeerUp(other);
        });
        if (!peersBefore.includes(other)) {
          const o = this.participants.get(other);
          if (o) {
            this.call(o, (h) => {
              h.onFilePeerUp(participant.id);
            });
          }
        }
      }
    } else {
      for (const other of peersBefore) {
        const o = this.participants.get(other);
        if (o) {
          this.call(o, (h) => {
            h.onFilePeerDown(participant.id);
          });
        }
        // The session is gone: file messages queued either way are lost.
        this.dropFileMessages(this.link(participant.id, other));
        this.dropFileMessages(this.link(other, participant.id));
      }
    }
  }

  private call(participant: Participant, fn: (handler: FolderSyncHandler) => void): void {
    const handler = participant.handler;
    if (!handler) return;
    try {
      fn(handler);
    } catch (error) {
      participant.handlerErrors.push(error);
    }
  }

  broadcastIndex(from: string, update: Uint8Array): void {
    for (const to of this.participants.keys()) {
      if (to === from) continue;
      this.enqueue(this.link(from, to), { kind: 'index', update: Uint8Array.from(update) });
    }
  }

  sendFile(from: string, to: string, message: FileMessage): boolean {
    if (!this.up(from, to)) return false;
    let bytes: Uint8Array;
    try {
      bytes = encodeFileMessage(message);
    } catch (error) {
      this.encodeErrors.push({ from, to, error });
      throw error;
    }
    this.enqueue(this.link(from, to), { kind: 'file', bytes });
    return true;
  }

  private enqueue(link: Link, wire: Wire): void {
    link.queue.push(wire);
    this.scheduleFlush(link);
  }

  private scheduleFlush(link: Link): void {
    if (link.scheduled || link.paused || link.queue.length === 0) return;
    link.scheduled = true;
    setImmediate(() => {
      link.scheduled = false;
      this.flush(link);
    });
  }

  private flush(link: Link): void {
    // A cut link keeps its index updates for heal().
    while (!link.paused && !link.cut && link.queue.length > 0) {
      const wire = link.queue.shift();
      if (!wire) return;
      try {
        this.deliver(link, wire);
      } catch (error) {
        this.deliveryErrors.push({ from: link.from, to: link.to, error });
      }
    }
  }

  private deliver(link: Link, wire: Wire): void {
    const to = this.participants.get(link.to);
    if (!to) return;
    if (wire.kind === 'index') {
      Y.applyUpdate(to.doc, wire.update, link.from);
      return;
    }
    const message = decodeSyncMessage(wire.bytes);
    if (!isFileMessage(message)) throw new Error(`not a file message: ${message.type}`);
    if (!this.up(link.from, link.to)) return;
    this.delivered.push({ from: link.from, to: link.to, message });
    this.call(to, (h) => {
      h.onFileMessage(link.from, message);
    });
  }

  private dropFileMessages(link: Link): void {
    const kept = link.queue.filter((w) => w.kind === 'index');
    link.queue.length = 0;
    link.queue.push(...kept);
  }

  /** Stalls both directions between `a` and `b`: everything is queued, peers stay up. */
  pause(a: string, b: string): void {
    this.link(a, b).paused = true;
    this.link(b, a).paused = true;
  }

  /** Delivers what `pause` queued, in order. */
  resume(a: string, b: string): void {
    for (const link of [this.link(a, b), this.link(b, a)]) {
      link.paused = false;
      this.scheduleFlush(link);
    }
  }

  /** A partition between `a` and `b`: file peers go down, file messages are lost, index waits. */
  cut(a: string, b: string): void {
    const wasUp = this.up(a, b);
    this.link(a, b).cut = true;
    this.link(b, a).cut = true;
    this.dropFileMessages(this.link(a, b));
    this.dropFileMessages(this.link(b, a));
    if (!wasUp) return;
    const pa = this.participants.get(a);
    const pb = this.participants.get(b);
    if (pa) {
      this.call(pa, (h) => {
        h.onFilePeerDown(b);
      });
    }
    if (pb) {
      this.call(pb, (h) => {
        h.onFilePeerDown(a);
      });
    }
  }

  /** Ends a partition: queued index updates are delivered in order, then the file peers come up. */
  heal(a: string, b: string): void {
    const links = [this.link(a, b), this.link(b, a)];
    for (const link of links) {
      link.cut = false;
      const to = this.participants.get(link.to);
      const queued = link.queue.splice(0, link.queue.length);
      for (const wire of queued) {
        if (wire.kind === 'index' && to) Y.applyUpdate(to.doc, wire.update, link.from);
      }
    }
    if (this.up(a, b)) {
      const pa = this.participants.get(a);
      const pb = this.participants.get(b);
      if (pa) {
        this.call(pa, (h) => {
          h.onFilePeerUp(b);
        });
      }
      if (pb) {
        this.call(pb, (h) => {
          h.onFilePeerUp(a);
        });
      }
    }
    for (const link of links) this.scheduleFlush(link);
  }

  /** Messages waiting on links that will deliver them (not paused, not cut). */
  private inFlight(): number {
    let n = 0;
    for (const link of this.links.values()) {
      if (!link.paused && !link.cut) n += link.queue.length;
    }
    return n;
  }

  private activity(): number {
    let n = this.delivered.length;
    for (const d of this.devices) n += d.intents.length;
    return n;
  }

  /**
   * Waits (bounded) until the mesh is quiet: every running device's FolderSync idle, nothing in
   * flight on open links, and no new message or intent over two consecutive checks.
   */
  async allIdle(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    let stable = 0;
    let last = -1;
    while (stable < 2) {
      if (Date.now() > deadline) throw new Error(`mesh not idle after ${ms} ms`);
      for (const d of this.devices) {
        if (d.sync && d.isRunning) {
          await withTimeout(d.sync.whenIdle(), Math.max(1, deadline - Date.now()), `${d.id} idle`);
        }
      }
      await macrotask();
      await new Promise((resolve) => setTimeout(resolve, 30));
      const now = this.activity();
      if (this.inFlight() === 0 && now === last) stable++;
      else stable = 0;
      last = now;
    }
  }

  /** Stops every device and removes the temp root. */
  async dispose(): Promise<void> {
    for (const d of this.devices) await d.stop().catch(() => undefined);
    await fs.rm(this.root, { recursive: true, force: true });
  }
}
