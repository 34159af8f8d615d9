/**
 * src/sync/files: the files of a linked folder, kept in sync with the other devices.
 *
 * FolderSync is one supervised worker per folder. It joins four parts built and tested on their
 * own: the scan and watcher (scan/), the per-file text documents (FileReplicas, core/files/fileDoc),
 * content fetched in chunks and verified by hash (BlobRequest/BlobChunk messages), and the
 * orchestrator that writes remote changes to disk (orchestrator/: plan, validators, journal).
 *
 * The model (docs/protocol.md, "Files"):
 *  - The replicated file index (workspace document, `files`) holds one entry per path: kind, hash,
 *    size, executable bit, tombstone, the hash it replaced (`base`), author and time. Entries go
 *    through the Engine as IndexFile intents, so they are in the WAL and reach every device.
 *  - Text files: the content is a Y.Doc per file (id = hash of the path), exchanged with
 *    FileStep1/FileUpdate. A local change is a minimal diff applied as Yjs operations, so
 *    concurrent edits merge. Two devices that created the same path with different content hold
 *    two seeds: the device whose seed loses (larger seed id) keeps its version as a conflict copy
 *    and removes its seed from the text; the other waits meanwhile (never writes both).
 *  - Binary files: fetched from a peer in chunks of at most 1 MiB, verified by SHA-256 before use.
 *    A remote version whose `base` is not what this device has is concurrent with a local change:
 *    this device's version becomes a conflict copy (named with device and time) and the remote one
 *    takes the path. Only the device whose entry lost the index merge sees that, so there is
 *    exactly one copy.
 *  - A tombstone removes the file only if the file still has the deleted content; a concurrent
 *    edit wins and is published again (nothing lost).
 *  - Renames sync as a delete plus a create (a text file's merge history restarts).
 *  - Symbolic links are not synced (the scan reports them; the orchestrator never writes through
 *    one). Empty directories are synced as `dir` entries.
 *  - Our own writes are registered with ExpectedWrites first, so the watcher never echoes them.
 *
 * Everything that touches the folder or the state runs in one serial task chain; messages and
 * index changes only record work and schedule it.
 */
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import * as Y from 'yjs';
import { describeError } from '../../core/errors';
import {
  concurrentSeeds,
  applyLocalFileChange,
  fileDocGuid,
  isSeeded,
  readTextFile,
  seedClientId,
  seedTextFileDoc,
  seedUpdate,
  textFileBytes,
  fileText,
} from '../../core/files/fileDoc';
import {
  MAX_PLAN_ITEMS,
  type ConflictChoice,
  type FileConflict,
  type FileSyncState,
  type FileSyncStatus,
  type DeviceGitHead,
  type FolderPlanSummary,
  type GitHead,
  type LinkChoice,
  type PlanItem,
} from '../../core/files/fileSyncStatus';
import { ancestorPaths, isSafeRelativePath } from '../../core/files/pathSafety';
import { buildPlan, type IndexEntry, type RemoteChange } from '../../core/files/plan';
import { decodeText } from '../../core/files/textCodec';
import { SyncProgress } from '../../core/files/SyncProgress';
import type { FolderRules } from '../../core/files/validators';
import type { Intent } from '../../core/intents';
import type { FileEntry } from '../../core/workspaceDoc';
import { atomicWriteFile } from '../../runtime/atomicWriteFile';
import type { Clock } from '../../runtime/Clock';
import { forEachConcurrently } from '../../runtime/forEachConcurrently';
import type { WorkerContext, WorkerSpec } from '../../runtime/Worker';
import type { FileMessage } from '../session/syncMessages';
import { validateYjsUpdate } from '../session/validateYjsUpdate';
import { gitMismatches } from '../../core/gitHeads';
import { FileReplicas, fileIdOf } from './FileReplicas';
import { readGitHead } from './readGitHead';
import { contentHash } from './orchestrator/contentHash';
import { FileOrchestrator } from './orchestrator/FileOrchestrator';
import { ExpectedWrites } from './scan/ExpectedWrites';
import { FolderWatcher } from './scan/FolderWatcher';
import { IgnoreRules } from './scan/IgnoreRules';
import {
  DEFAULT_MAX_FILE_BYTES,
  scanFolder,
  scanPaths,
  type ScanEntry,
  type ScanSnapshot,
} from './scan/scanFolder';

/** What FolderSync reads of the replicated file index (the Engine implements it). */
export interface FolderSyncIndex {
  fileEntry(path: string): FileEntry | undefined;
  fileEntries(): { entries: Map<string, FileEntry>; malformed: string[] };
  onFilesChanged(listener: (paths: readonly string[], remote: boolean) => void): () => void;
}

/** How FolderSync talks to peers (the SyncWorker implements it). */
export interface FolderSyncPeers {
  setFileHandler(handler: FolderSyncHandler | undefined): void;
  filePeers(): string[];
  sendFile(peerId: string, message: FileMessage): boolean;
  whenWritable(peerId: string): Promise<void>;
}

export interface FolderSyncHandler {
  onFileMessage(peerId: string, message: FileMessage): void;
  onFilePeerUp(peerId: string): void;
  onFilePeerDown(peerId: string): void;
}

export interface FolderSyncOptions {
  readonly folder: string;
  /** Where this folder's file state goes (documents, known state, journal). Not inside `folder`. */
  readonly stateDir: string;
  readonly deviceId: string;
  readonly index: FolderSyncIndex;
  readonly peers: FolderSyncPeers;
  readonly name?: string;
  readonly maxFileBytes?: number;
  /** More ignore patterns (settings), .gitignore syntax. */
  readonly ignorePatterns?: readonly string[];
  /** Watch the folder with a Node watcher (the CLI); the host reports changes itself. Default true. */
  readonly watch?: boolean;
  /** Files open in an editor with unsaved changes (never written over). */
  readonly dirtyPaths?: () => ReadonlySet<string>;
  /**
   * A remote change to a file whose editor has unsaved changes: the host applies `content` (the
   * merged text, which holds the buffer's own edits when they sync live) to the buffer as edits.
   * Returns whether it did.
   */
  readonly applyToBuffer?: (path: string, content: Uint8Array) => Promise<boolean>;
  /** How long index changes and received text are gathered into one plan. Default 2 ms. */
  readonly batchMs?: number;
  /** Told after every status change. */
  readonly onStatus?: (status: FileSyncStatus) => void;
  /**
   * The first sync of a folder (no known state yet) when a peer already has files: 'ask' shows
   * the dry-run plan (`status().plan`) and waits for `confirmLink(choice)`; a choice runs it at
   * once. Default 'merge'.
   */
  readonly firstSync?: 'ask' | LinkChoice;
  /** Every device's reported git branch/HEAD (the Engine's `readDoc(readGitHeads)`). */
  readonly gitHeads?: () => readonly DeviceGitHead[];
  /** How often the folder's git HEAD is read. Default 3 s. */
  readonly gitPollMs?: number;
  /** Wall clock for entries and conflict names (default Date.now). */
  readonly now?: () => number;
}

/** Chunk size of blob requests. */
export const BLOB_CHUNK_BYTES = 256 * 1024;
/** Chunk requests in flight at once, over all blobs. */
const MAX_INFLIGHT_CHUNKS = 8;
/**
 * Most bytes of binary content held in memory at once: fetched blobs waiting to be written plus
 * fetches under way. A new fetch waits while it would go over (one larger blob still goes alone).
 */
const BLOB_MEMORY_BYTES = 8 * 1024 * 1024;
/** Peer requests answered at once. */
const MAX_ANSWERS = 16;
/**
 * Text documents asked for, or received and not yet being written, at once. With those being
 * written by the current batch, at most twice this many are in use: within FileReplicas' 256
 * documents in memory, so none is saved and loaded again before it is written.
 */
const MAX_TEXT_REQUESTS = 128;
/**
 * While many requested documents are arriving (a first sync), a batch waits this long to gather
 * them into one plan, whose writes then run side by side instead of one plan per document.
 */
const BURST_BATCH_MS = 25;
/** Index entries of a large local batch sent to the Engine together. */
const INDEX_GROUP = 64;
/** Local files read and recorded at once when a batch has many. */
const PUBLISH_CONCURRENCY = 8;
/** Local text changes sent to peers unasked when a batch has at most this many. */
const MAX_PUSHED_TEXTS = 64;
/** A burst: at least this many documents asked for and not answered yet. */
const BURST_OUTSTANDING = 16;
/** A text document asked for and not answered is asked for again after this long. */
const REQUEST_RETRY_MS = 3_000;
/** A blob whose chunks stop coming for this long is asked for again. */
const CHUNK_TIMEOUT_MS = 15_000;
/** How often what is still missing is looked at again (answers lost, blobs nobody had). */
const RETRY_MS = 3_000;
const KNOWN_FILE = 'known.json';
/** Longest time the known state waits to be saved while the folder is busy. */
const KNOWN_SAVE_MS = 2_000;
/** What `fileIdOf` produces: the only file ids this side uses. */
const FILE_ID = /^[0-9a-f]{32}$/;
const CONFLICTS_FILE = 'conflicts.json';
const KNOWN_VERSION = 1;
const LOCAL_ORIGIN = 'twinspace.local';

interface BlobFetch {
  readonly hash: string;
  readonly size: number;
  /** Allocated when the fetch starts (a thousand waiting fetches hold no memory). */
  buffer: Buffer | undefined;
  nextOffset: number;
  received: number;
  inflight: number;
  /** When a chunk was last asked for or received (ms, Date.now). */
  requestedAt: number;
  peer: string | undefined;
  readonly triedPeers: Set<string>;
}

/** The hash of file contents everywhere in the files code (the orchestrator's). */
const sha256 = contentHash;

const EMPTY_HASH = sha256(new Uint8Array());
const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc());

export class FolderSync implements WorkerSpec, FolderSyncHandler {
  readonly name: string;
  readonly restart = 'on-failure' as const;

  private ctx: WorkerContext | undefined;
  private orchestrator: FileOrchestrator | undefined;
  private replicas: FileReplicas | undefined;
  private rules = new IgnoreRules();
  private known = new KnownMap(() => undefined);
  /** Missing files of the index; live once the start-up scan has loaded the ignore rules. */
  private readonly progress = new SyncProgress();
  private progressLive = false;
  private knownDirs = new Set<string>();
  private scannedAt = 0;
  private expected: ExpectedWrites | undefined;
  private watcher: FolderWatcher | undefined;
  private chain: Promise<void> = Promise.resolve();
  private fatal: ((error: unknown) => void) | undefined;
  private state: FileSyncState = 'off';

  // Work recorded by messages and index changes, run by the next batch.
  private readonly dirtyIndexPaths = new Set<string>();
  private readonly dirtyTextIds = new Set<string>();
  private readonly localPaths = new Set<string>();
  private localOverflow = false;
  private batchTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly requested = new Map<string, number>();
  private readonly fetches = new Map<string, BlobFetch>();
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly waitingForBlob = new Map<string, Set<string>>();
  private readonly pathsById = new Map<string, string>();
  private inflightChunks = 0;
  private conflicts: FileConflict[] = [];
  private knownDirty = false;
  private running = 0;
  private readonly idleWaiters = new Set<() => void>();

  constructor(private readonly options: FolderSyncOptions) {
    this.name = options.name ?? 'files.sync';
  }

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private get maxFileBytes(): number {
    return this.options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  // ---- lifecycle ----

  async run(signal: AbortSignal, ctx: WorkerContext): Promise<void> {
    this.ctx = ctx;
    const { options } = this;
    const clock: Clock = ctx.clock;
    this.expected = new ExpectedWrites(clock, 30_000);
    let offIndex: (() => void) | undefined;
    let offProgress: (() => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      this.fatal = reject;
    });
    failed.catch(() => undefined);
    try {
      this.setState('scanning');
      await fs.mkdir(options.stateDir, { recursive: true, mode: 0o700 });
      const orchestrator = await FileOrchestrator.open({
        folder: options.folder,
        stateDir: options.stateDir,
        now: () => this.now,
      });
      this.orchestrator = orchestrator;
      this.replicas = await FileReplicas.open(nodePath.join(options.stateDir, 'docs'));
      const firstRun = !(await this.loadKnown());
      // Peers may ask for files from now on: their messages wait in the task chain until the
      // start-up scan below (itself the chain's first task) has published what is here.
      options.peers.setFileHandler(this);
      offProgress = options.index.onFilesChanged((paths) => {
        for (const p of paths) this.refreshProgress(p);
      });
      await this.enqueue(async () => {
        const previous: ScanSnapshot = {
          entries: this.known,
          dirs: this.knownDirs,
          scannedAt: this.scannedAt,
        };
        const scan = await scanFolder(orchestrator.folderReal, {
          previous,
          maxFileBytes: this.maxFileBytes,
          rules: new IgnoreRules({
            ...(options.ignorePatterns ? { extraPatterns: options.ignorePatterns } : {}),
          }),
          signal,
        });
        this.rules = scan.rules;
        this.rulesChanged();
        for (const link of scan.symlinks) {
          ctx.diagnostics.emit(
            'files.sync.rejected',
            `symbolic link ${link.path} is not synced (${link.reason})`,
          );
        }
        ctx.diagnostics.emit(
          'files.sync.started',
          `file sync of ${orchestrator.folderReal}: ${scan.entries.size} files, ${scan.dirs.size} folders`,
          { files: scan.entries.size, hashed: scan.stats.hashed, ignored: scan.stats.ignored },
        );
        // What changed while we were not running becomes local changes.
        const upserted: ScanEntry[] = [];
        for (const entry of scan.entries.values()) {
          const before = this.known.get(entry.path);
          if (
            before?.hash !== entry.hash ||
            before.executable !== entry.executable ||
            this.options.index.fileEntry(entry.path) === undefined
          )
            upserted.push(entry);
        }
        const removed = [...this.known.keys()].filter((p) => !scan.entries.has(p));
        const newDirs = [...scan.dirs].filter(
          (d) => !this.knownDirs.has(d) || this.options.index.fileEntry(d) === undefined,
        );
        const goneDirs = [...this.knownDirs].filter((d) => !scan.dirs.has(d));
        const choice = options.firstSync ?? 'merge';
        if (firstRun && choice !== 'merge') {
          // Nothing is published or written until the plan against the peer's files is settled.
          this.held = { entries: new Map(scan.entries), dirs: [...scan.dirs], choice };
          this.knownDirty = false;
        } else {
          await this.publishLocal(upserted, removed, newDirs, goneDirs, signal);
          this.knownDirty = true;
        }
        await this.saveKnown();
      });

      if (options.watch ?? true) {
        this.watcher = new FolderWatcher(this.orchestrator.folderReal, {
          clock,
          // Short: a save is one or two events; the chain batches whatever piles up meanwhile.
          debounceMs: 15,
          isIgnored: (p, isDir) => this.rules.isIgnored(p, isDir),
          onBatch: (batch) => {
            if (batch.overflow) this.localOverflow = true;
            for (const p of batch.paths) this.localPaths.add(p);
            this.schedule();
          },
          onError: (error) => {
            ctx.diagnostics.emit('files.sync.rejected', `watcher: ${error.message}`);
          },
        });
        await this.watcher.start();
      }
      offIndex = options.index.onFilesChanged((paths, remote) => {
        if (!remote) return;
        for (const p of paths) this.dirtyIndexPaths.add(p);
        this.schedule();
      });
      // Everything in the index may need work (entries that arrived while we were not running).
      for (const p of options.index.fileEntries().entries.keys()) this.dirtyIndexPaths.add(p);
      await this.pollGitHead();
      this.gitTimer = setInterval(() => {
        this.pollGitHead().catch(() => undefined);
      }, options.gitPollMs ?? 3_000);
      this.maintenanceTimer = setInterval(() => {
        this.maintain();
      }, 1_000);
      this.setState('syncing');
      this.schedule();
      await Promise.race([
        failed,
        new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else
            signal.addEventListener(
              'abort',
              () => {
                resolve();
              },
              { once: true },
            );
        }),
      ]);
    } finally {
      options.peers.setFileHandler(undefined);
      offIndex?.();
      offProgress?.();
      this.progressLive = false;
      this.progress.clear();
      if (this.gitTimer) clearInterval(this.gitTimer);
      this.gitTimer = undefined;
      if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
      this.maintenanceTimer = undefined;
      if (this.batchTimer) clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      if (this.knownTimer) clearTimeout(this.knownTimer);
      this.knownTimer = undefined;
      this.watcher?.close();
      this.watcher = undefined;
      await this.chain.catch(() => undefined);
      await this.flushing;
      await this.saveKnown().catch(() => undefined);
      await this.replicas?.close().catch(() => undefined);
      await this.orchestrator?.close().catch(() => undefined);
      this.replicas = undefined;
      this.orchestrator = undefined;
      this.fetches.clear();
      this.blobs.clear();
      this.inflightChunks = 0;
      this.setState('off');
    }
  }

  /**
   * The text of an editor buffer changed (unsaved edits, synced live): recorded in the file's
   * document as a minimal diff and sent to peers. The file index is not touched (the disk has not
   * changed); peers without the file open write the merged text to disk.
   */
  bufferChanged(path: string, text: string): void {
    this.enqueueDetached(async () => {
      const replicas = this.replicas;
      if (!replicas || !isSafeRelativePath(path) || this.isIgnored(path)) return;
      if (this.options.index.fileEntry(path)?.kind !== 'text') return;
      const fileId = fileIdOf(path);
      const doc = await replicas.get(fileId);
      const format = readTextFile(doc);
      if (format === undefined) return;
      if (text === format.text) {
        // Already the document's text (a remote change we just put in the buffer).
        this.bufferText.set(path, text);
        return;
      }
      const oldText = this.bufferText.get(path) ?? format.text;
      const update = captureUpdate(doc, () => {
        applyLocalFileChange(
          doc,
          oldText,
          { text, encoding: format.encoding, bom: format.bom },
          LOCAL_ORIGIN,
        );
      });
      this.bufferText.set(path, text);
      if (update === undefined) return;
      for (const peer of this.options.peers.filePeers()) {
        this.options.peers.sendFile(peer, { type: 'FileUpdate', fileId, update });
      }
    });
  }

  /** The editor of `path` was closed or saved: its buffer is the disk again. */
  bufferClosed(path: string): void {
    this.bufferText.delete(path);
  }

  private readonly bufferText = new Map<string, string>();

  /** Host file watchers report changed folder-relative paths here. */
  notifyChanged(paths: readonly string[]): void {
    for (const p of paths) this.localPaths.add(p);
    this.schedule();
  }

  /** The status for the user's view (counts kept up to date path by path: cheap to poll). */
  status(): FileSyncStatus {
    const { pending, files, percent } = this.progress;
    return {
      state: this.state === 'in-sync' && pending > 0 ? 'syncing' : this.state,
      files,
      pending,
      percent,
      conflicts: [...this.conflicts],
      ...(this.plan ? { plan: this.plan } : {}),
      ...(this.gitHead ? { git: this.gitHead } : {}),
      gitMismatches: this.currentGitMismatches(),
    };
  }

  /** Whether every file of the index is on disk as the index says and nothing is in flight. */
  isInSync(): boolean {
    if (this.state === 'off' || this.state === 'scanning') return false;
    if (this.hasWork()) return false;
    return this.progressLive && this.progress.pending === 0;
  }

  /** Resolves once the task chain is idle (tests and wait-synced use it). */
  whenIdle(): Promise<void> {
    if (!this.hasWork()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  /** Resolves a conflict: keep the file as it is, or put the copy's content back in its place. */
  async resolveConflict(conflictId: string, choice: ConflictChoice): Promise<void> {
    await this.enqueue(async () => {
      const conflict = this.conflicts.find((c) => c.id === conflictId);
      if (!conflict) return;
      const folder = this.folderReal();
      const copyFile = nodePath.join(folder, conflict.copyPath);
      if (choice === 'keepCopy') {
        const bytes = await fs.readFile(copyFile);
        await fs.writeFile(nodePath.join(folder, conflict.path), bytes);
        this.localPaths.add(conflict.path);
      }
      await fs.rm(copyFile, { force: true });
      this.localPaths.add(conflict.copyPath);
      this.conflicts = this.conflicts.filter((c) => c.id !== conflictId);
      await this.saveConflicts();
      await this.processLocal();
    });
  }

  // ---- peers ----

  onFilePeerUp(peerId: string): void {
    // The peer may hold what we still miss: everything unsatisfied is looked at again.
    for (const [p] of this.options.index.fileEntries().entries) this.dirtyIndexPaths.add(p);
    this.requested.clear();
    for (const fetch of this.fetches.values()) {
      if (fetch.peer === undefined) fetch.triedPeers.delete(peerId);
    }
    this.schedule();
  }

  onFilePeerDown(peerId: string): void {
    for (const fetch of this.fetches.values()) {
      if (fetch.peer === peerId) this.restartFetch(fetch);
    }
    this.pumpFetches();
  }

  onFileMessage(peerId: string, message: FileMessage): void {
    if (
      (message.type === 'FileStep1' || message.type === 'FileUpdate') &&
      !FILE_ID.test(message.fileId)
    ) {
      this.reject(peerId, `${message.type} for an unknown kind of file id ${message.fileId}`);
      return;
    }
    switch (message.type) {
      case 'FileStep1':
        this.answer(() => this.answerStep1(peerId, message.fileId, message.stateVector));
        return;
      case 'FileUpdate':
        // Applied at once, outside the chain: it only changes the document in memory (and a
        // first sync waits on documents inside the chain). The chain writes the result to disk.
        this.applyRemoteText(peerId, message.fileId, message.update).catch((error: unknown) => {
          this.reject(peerId, `file update: ${describeError(error)}`);
        });
        return;
      case 'BlobRequest':
        this.answer(() =>
          this.answerBlobRequest(peerId, message.hash, message.offset, message.length),
        );
        return;
      case 'BlobChunk':
        this.receiveChunk(peerId, message.hash, message.offset, message.total, message.bytes);
        return;
      case 'BlobMissing': {
        const fetch = this.fetches.get(message.hash);
        if (fetch && fetch.peer === peerId) this.restartFetch(fetch);
        this.pumpFetches();
        return;
      }
    }
  }

  // ---- answers to peers (read-only, several at once) ----

  private answering = 0;
  private readonly answerQueue: (() => Promise<void>)[] = [];

  /**
   * Answers (FileStep1, BlobRequest) only read documents and files, so they run outside the
   * serial chain, up to MAX_ANSWERS at once: one device serving many requests is bound by disk
   * latency, not CPU. They do not wait for the start-up scan: peers ask only for what the index
   * names, and a file enters the index after its document and known state are in place, so a
   * large folder is served while it is still being scanned.
   */
  private answer(task: () => Promise<void>): void {
    this.answerQueue.push(task);
    this.pumpAnswers();
  }

  private pumpAnswers(): void {
    while (this.answering < MAX_ANSWERS && this.answerQueue.length > 0) {
      const task = this.answerQueue.shift();
      if (task === undefined) return;
      this.answering++;
      Promise.resolve()
        .then(task)
        .catch((error: unknown) => {
          this.ctx?.diagnostics.emit(
            'files.sync.rejected',
            `answering a peer failed: ${describeError(error)}`,
          );
        })
        .finally(() => {
          this.answering--;
          this.pumpAnswers();
        });
    }
  }

  // ---- the serial chain ----

  private hasWork(): boolean {
    return (
      this.running > 0 ||
      this.flushing !== undefined ||
      this.batchTimer !== undefined ||
      this.dirtyIndexPaths.size > 0 ||
      this.dirtyTextIds.size > 0 ||
      this.localPaths.size > 0 ||
      this.fetches.size > 0 ||
      this.blobs.size > 0
    );
  }

  private schedule(): void {
    if (this.batchTimer !== undefined) return;
    const batchMs = this.options.batchMs ?? 2;
    const burst = this.outstandingText.size >= BURST_OUTSTANDING;
    this.batchTimer = setTimeout(
      () => {
        this.batchTimer = undefined;
        this.enqueueDetached(() => this.runBatch());
      },
      burst ? Math.max(batchMs, BURST_BATCH_MS) : batchMs,
    );
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.running++;
    const next = this.chain.then(task).finally(() => {
      this.running--;
      this.checkIdle();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Nothing left to do: "in sync", and whoever waits for idle is told. */
  private checkIdle(): void {
    if (this.hasWork()) return;
    if (this.state === 'syncing') this.setState('in-sync');
    for (const waiter of [...this.idleWaiters]) waiter();
    this.idleWaiters.clear();
  }

  private enqueueDetached(task: () => Promise<void>): void {
    this.enqueue(task).catch((error: unknown) => {
      this.ctx?.diagnostics.emit('files.sync.failed', `file sync failed: ${describeError(error)}`);
      this.fatal?.(error);
    });
  }

  private async runBatch(): Promise<void> {
    if (!this.orchestrator) return;
    if (this.held) {
      await this.preparePlan();
      return;
    }
    this.setState('syncing');
    if (this.localPaths.size > 0 || this.localOverflow) await this.processLocal();
    if (this.dirtyIndexPaths.size > 0 || this.dirtyTextIds.size > 0) await this.reconcile();
    // The known state is one file for the whole folder: saved at most every KNOWN_SAVE_MS
    // (losing it only costs a rescan), within KNOWN_SAVE_MS of a change, and always at stop.
    if (Date.now() - this.knownSavedAt >= KNOWN_SAVE_MS) await this.saveKnown();
    else if (this.knownDirty && this.knownTimer === undefined) {
      this.knownTimer = setTimeout(
        () => {
          this.knownTimer = undefined;
          this.enqueueDetached(() => this.saveKnown());
        },
        KNOWN_SAVE_MS - (Date.now() - this.knownSavedAt),
      );
    }
    this.flushDocs();
  }

  private flushing: Promise<void> | undefined;
  private flushAgain = false;

  /**
   * Saves changed documents outside the chain (one flush at a time; a request meanwhile runs one
   * more after it): the next batch's writes need not wait for them. Saves are not ordered with
   * the folder's writes: a document lost to a crash is rebuilt from the file (see FileReplicas).
   */
  private flushDocs(): void {
    const replicas = this.replicas;
    if (!replicas) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = replicas
      .flush()
      .catch((error: unknown) => {
        this.ctx?.diagnostics.emit(
          'files.sync.rejected',
          `saving documents: ${describeError(error)}`,
        );
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.flushAgain) {
          this.flushAgain = false;
          this.flushDocs();
        } else {
          this.checkIdle();
        }
      });
  }

  private knownTimer: ReturnType<typeof setTimeout> | undefined;

  private knownSavedAt = 0;

  // ---- retries ----

  private maintenanceTimer: ReturnType<typeof setInterval> | undefined;
  private lastRetryAt = 0;

  /**
   * Once a second: blobs whose chunks stopped coming are asked for again, and every few seconds
   * what the index names but this device still lacks is looked at again (a request lost with a
   * session, a blob no peer had at the time). Bounded work: one pass over the missing files.
   */
  private maintain(): void {
    if (!this.orchestrator || this.held) return;
    const now = Date.now();
    for (const fetch of this.fetches.values()) {
      if (fetch.inflight > 0 && now - fetch.requestedAt > CHUNK_TIMEOUT_MS) {
        this.inflightChunks -= fetch.inflight;
        fetch.inflight = 0;
        fetch.nextOffset = 0;
        fetch.received = 0;
        fetch.peer = undefined;
      }
    }
    this.pumpFetches();
    this.pumpTextRequests();
    if (now - this.lastRetryAt < RETRY_MS) return;
    if (this.running > 0 || this.batchTimer !== undefined) return;
    if (this.options.peers.filePeers().length === 0) return;
    this.lastRetryAt = now;
    let added = 0;
    for (const p of this.progress.missingPaths()) {
      const entry = this.options.index.fileEntry(p);
      if (entry === undefined || entry.by === this.options.deviceId) continue;
      this.dirtyIndexPaths.add(p);
      added++;
    }
    if (added > 0) this.schedule();
  }

  // ---- git branch / HEAD ----

  private gitHead: GitHead | undefined;
  private gitTimer: ReturnType<typeof setInterval> | undefined;
  private readonly reportedMismatches = new Set<string>();

  private currentGitMismatches(): DeviceGitHead[] {
    const heads = this.options.gitHeads?.() ?? [];
    return gitMismatches(this.gitHead, heads, new Set(this.options.peers.filePeers()));
  }

  /** Reads this folder's branch/HEAD; a change is reported to the other devices. */
  private async pollGitHead(): Promise<void> {
    const head = await readGitHead(this.folderReal());
    const changed = head?.branch !== this.gitHead?.branch || head?.head !== this.gitHead?.head;
    this.gitHead = head;
    if (changed && head) {
      await this.send({
        type: 'ReportGitHead',
        deviceId: this.options.deviceId,
        branch: head.branch,
        head: head.head,
      });
    }
    const mismatches = this.currentGitMismatches();
    for (const m of mismatches) {
      const key = `${m.deviceId}:${m.branch}:${m.head}`;
      if (this.reportedMismatches.has(key)) continue;
      this.reportedMismatches.add(key);
      this.ctx?.diagnostics.emit(
        'files.sync.git_mismatch',
        `device ${m.deviceId.slice(0, 8)} is on ${m.branch || '(detached)'} ${m.head.slice(0, 10)}, ` +
          `this one on ${head?.branch || '(detached)'} ${head?.head.slice(0, 10) ?? ''}: ` +
          'files still sync; switch branches on both devices together',
      );
    }
    this.options.onStatus?.(this.status());
  }

  // ---- the first sync of a folder ----

  /** What the first run holds back until the plan is settled. */
  private held:
    | {
        readonly entries: Map<string, ScanEntry>;
        readonly dirs: readonly string[];
        readonly choice: 'ask' | LinkChoice;
      }
    | undefined;
  private plan: FolderPlanSummary | undefined;

  /** Paths whose local version the first sync replaces with the peer's (backed up first). */
  private readonly overwrite = new Set<string>();

  /** Once a peer is up (its index is here), computes the plan; runs it for a preset choice. */
  private async preparePlan(): Promise<void> {
    const held = this.held;
    if (!held || this.options.peers.filePeers().length === 0) return;
    const items: PlanItem[] = [];
    let creates = 0;
    let updates = 0;
    let conflicts = 0;
    const { entries } = this.options.index.fileEntries();
    for (const [p, entry] of [...entries].sort(([x], [y]) => (x < y ? -1 : 1))) {
      if (entry.deleted || entry.kind === 'dir' || entry.by === this.options.deviceId) continue;
      if (!isSafeRelativePath(p) || this.isIgnored(p)) continue;
      const local = held.entries.get(p);
      if (local?.hash === entry.hash) continue;
      let action: PlanItem['action'];
      if (!local) {
        action = 'create';
        creates++;
      } else if (held.choice === 'takePeer') {
        action = 'update';
        updates++;
      } else {
        action = 'conflict';
        conflicts++;
      }
      if (items.length < MAX_PLAN_ITEMS) items.push({ action, path: p });
    }
    if (creates + updates + conflicts === 0 || held.choice !== 'ask') {
      await this.runFirstSync(held.choice === 'ask' ? 'merge' : held.choice);
      return;
    }
    this.plan = { creates, updates, deletes: 0, conflicts, items };
    this.setState('awaiting-confirmation');
    this.options.onStatus?.(this.status());
  }

  /** Answers the dry-run plan of the first sync. */
  async confirmLink(choice: LinkChoice): Promise<void> {
    await this.enqueue(async () => {
      if (!this.held) return;
      await this.runFirstSync(choice);
    });
  }

  private async runFirstSync(choice: LinkChoice): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    this.plan = undefined;
    const folder = this.folderReal();
    const upserted: ScanEntry[] = [];
    const keepMineTexts: ScanEntry[] = [];
    for (const local of held.entries.values()) {
      const entry = this.options.index.fileEntry(local.path);
      const differs =
        entry !== undefined && !entry.deleted && entry.kind !== 'dir' && entry.hash !== local.hash;
      if (differs && choice === 'takePeer') {
        // Backed up outside the folder, then replaced by the peer's version.
        const backup = nodePath.join(
          this.options.stateDir,
          'replaced',
          String(this.now),
          ...local.path.split('/'),
        );
        await fs.mkdir(nodePath.dirname(backup), { recursive: true });
        await fs.copyFile(nodePath.join(folder, local.path), backup);
        this.known.set(local.path, local);
        this.overwrite.add(local.path);
        continue;
      }
      if (differs && choice === 'keepMine' && entry.kind === 'text' && local.kind === 'text') {
        keepMineTexts.push(local);
        continue;
      }
      upserted.push(local);
    }
    const newDirs = held.dirs.filter((d) => this.options.index.fileEntry(d)?.kind !== 'dir');
    for (const d of held.dirs) this.knownDirs.add(d);
    await this.publishLocal(upserted, [], newDirs, []);
    for (const local of keepMineTexts) {
      // Our content goes on top of the peer's document (an edit, not a second seed).
      await this.fetchDoc(fileIdOf(local.path), 10_000);
      await this.publishLocal([local], [], [], []);
    }
    this.knownDirty = true;
    this.localOverflow = true; // what changed on disk meanwhile
    this.ctx?.diagnostics.emit('files.sync.started', `first sync of the folder: ${choice}`);
    this.setState('syncing');
    this.schedule();
  }

  /** Asks peers for a file document and waits (bounded) until it is seeded. */
  private async fetchDoc(fileId: string, timeoutMs: number): Promise<void> {
    const replicas = this.replicas;
    if (!replicas) return;
    const doc = await replicas.get(fileId);
    if (isSeeded(doc)) return;
    const seeded = new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        doc.off('update', check);
        resolve();
      }
      function check(): void {
        if (isSeeded(doc)) done();
      }
      doc.on('update', check);
    });
    this.requested.delete(fileId);
    this.requestText(fileId, undefined);
    await seeded;
  }

  // ---- local changes → index and peers ----

  private async processLocal(): Promise<void> {
    const orchestrator = this.orchestrator;
    if (!orchestrator) return;
    const overflow = this.localOverflow;
    const paths = [...this.localPaths];
    this.localPaths.clear();
    this.localOverflow = false;
    const previous: ScanSnapshot = {
      entries: this.known,
      dirs: this.knownDirs,
      scannedAt: this.scannedAt,
    };
    let upserted: ScanEntry[];
    let removed: string[];
    let newDirs: string[];
    let goneDirs: string[];
    if (overflow) {
      const scan = await scanFolder(orchestrator.folderReal, {
        previous,
        maxFileBytes: this.maxFileBytes,
        rules: this.rules,
      });
      this.rules = scan.rules;
      this.rulesChanged();
      upserted = [...scan.entries.values()].filter((e) => this.known.get(e.path)?.hash !== e.hash);
      removed = [...this.known.keys()].filter((p) => !scan.entries.has(p));
      newDirs = [...scan.dirs].filter((d) => !this.knownDirs.has(d));
      goneDirs = [...this.knownDirs].filter((d) => !scan.dirs.has(d));
    } else {
      // Our own writes come back from the watcher: a file still exactly as we wrote it (size and
      // nanosecond mtime recorded right after the write) is not read and hashed again.
      const toScan: string[] = [];
      for (const p of paths) {
        const known = this.known.get(p);
        if (known !== undefined && this.expected !== undefined) {
          const stat = await fs
            .lstat(nodePath.join(orchestrator.folderReal, p))
            .catch(() => undefined);
          if (
            stat?.isFile() === true &&
            stat.size === known.size &&
            stat.mtimeMs === known.mtimeMs &&
            this.expected.isEcho(p, known.hash)
          ) {
            continue;
          }
        }
        toScan.push(p);
      }
      if (toScan.length === 0) return;
      const delta = await scanPaths(orchestrator.folderReal, toScan, previous, {
        maxFileBytes: this.maxFileBytes,
        rules: this.rules,
      });
      upserted = [...delta.upserted];
      removed = [...delta.removed];
      newDirs = [...delta.dirsAdded];
      goneDirs = [...delta.dirsRemoved];
      if (delta.rulesChanged) {
        this.rulesChanged();
        this.localOverflow = true;
      }
    }
    const expected = this.expected;
    upserted = upserted.filter((e) => {
      if (expected?.isEcho(e.path, e.hash)) {
        this.known.set(e.path, e);
        this.knownDirty = true;
        return false;
      }
      return true;
    });
    removed = removed.filter((p) => {
      if (expected?.isEcho(p, null)) {
        this.known.delete(p);
        this.knownDirty = true;
        return false;
      }
      return true;
    });
    await this.publishLocal(upserted, removed, newDirs, goneDirs);
  }

  private async publishLocal(
    upserted: readonly ScanEntry[],
    removed: readonly string[],
    newDirs: readonly string[],
    goneDirs: readonly string[],
    signal?: AbortSignal,
  ): Promise<void> {
    const me = this.options.deviceId;
    const at = this.now;
    for (const dir of newDirs) {
      this.knownDirs.add(dir);
      const current = this.options.index.fileEntry(dir);
      if (current?.kind === 'dir' && !current.deleted) continue;
      await this.send(
        { type: 'IndexFile', path: dir, kind: 'dir', size: 0, hash: 'dir', by: me, at },
        signal,
      );
    }
    // A few edited files are pushed to peers at once (the fast path of a save); many (a scan, a
    // branch switch) are only indexed, and peers pull them in bounded windows (FileStep1), so
    // that a receiver never queues thousands of documents it did not ask for.
    const push = upserted.filter((e) => e.kind === 'text').length <= MAX_PUSHED_TEXTS;
    // Files are independent (one document each): a large batch is read and recorded several at
    // once, so a first scan is bound by neither one file's disk latency nor one core.
    // Their index entries go to the Engine in groups: one tick (one WAL group, one signed unit
    // for peers) per group instead of one per file, and peers still hear of the first files early.
    const entries: Intent[] = [];
    const sendEntries = async (): Promise<void> => {
      for (const intent of entries.splice(0)) await this.send(intent, signal);
    };
    await forEachConcurrently(upserted, PUBLISH_CONCURRENCY, async (entry) => {
      const before = this.known.get(entry.path);
      let kind = entry.kind;
      if (kind === 'text') {
        const published = await this.publishText(entry, push);
        if (!published) kind = 'binary';
      }
      this.known.set(entry.path, kind === entry.kind ? entry : { ...entry, kind });
      this.knownDirty = true;
      const current = this.options.index.fileEntry(entry.path);
      if (
        current &&
        !current.deleted &&
        current.hash === entry.hash &&
        current.executable === entry.executable
      )
        return;
      entries.push({
        type: 'IndexFile',
        path: entry.path,
        kind,
        size: entry.size,
        hash: entry.hash,
        executable: entry.executable,
        base: before?.hash ?? current?.hash ?? '',
        by: me,
        at,
      });
      if (entries.length >= INDEX_GROUP) await sendEntries();
    });
    await sendEntries();
    for (const p of removed) {
      const before = this.known.get(p);
      this.known.delete(p);
      this.knownDirty = true;
      if (!before) continue;
      const current = this.options.index.fileEntry(p);
      if (current?.deleted || current === undefined) continue;
      await this.send(
        {
          type: 'IndexFile',
          path: p,
          kind: before.kind,
          size: 0,
          hash: before.hash,
          deleted: true,
          base: before.hash,
          by: me,
          at,
        },
        signal,
      );
    }
    for (const dir of goneDirs) {
      this.knownDirs.delete(dir);
      const current = this.options.index.fileEntry(dir);
      if (current?.kind !== 'dir' || current.deleted) continue;
      await this.send(
        {
          type: 'IndexFile',
          path: dir,
          kind: 'dir',
          size: 0,
          hash: 'dir',
          deleted: true,
          by: me,
          at,
        },
        signal,
      );
    }
  }

  /**
   * Publishes what this device has at `paths` over the index's entry: merged text that differs
   * from the entry, or an edit that a concurrent delete did not see.
   */
  private async republish(paths: readonly string[]): Promise<void> {
    for (const p of paths) {
      const known = this.known.get(p);
      const current = this.options.index.fileEntry(p);
      if (!known || (current && !current.deleted && current.hash === known.hash)) continue;
      await this.send({
        type: 'IndexFile',
        path: p,
        kind: known.kind,
        size: known.size,
        hash: known.hash,
        executable: known.executable,
        base: current?.hash ?? '',
        by: this.options.deviceId,
        at: this.now,
      });
    }
  }

  /** Records a local text file in its document and sends the change to peers. */
  private async publishText(entry: ScanEntry, push: boolean): Promise<boolean> {
    const replicas = this.replicas;
    if (!replicas) return false;
    const bytes = await fs
      .readFile(nodePath.join(this.folderReal(), entry.path))
      .catch(() => undefined);
    if (bytes === undefined) return false;
    const decoded = decodeText(bytes);
    if (decoded === undefined) return false;
    const fileId = fileIdOf(entry.path);
    this.pathsById.set(fileId, entry.path);
    const content = { text: decoded.text, encoding: decoded.encoding, bom: decoded.bom };
    let update: Uint8Array | undefined;
    if (!replicas.has(fileId)) {
      // No document yet (a first scan): the seed is the whole document, saved without building
      // it here.
      update = seedUpdate(fileDocGuid(fileId), content);
      await replicas.create(fileId, update);
    } else {
      const doc = await replicas.get(fileId);
      update = captureUpdate(doc, () => {
        if (!isSeeded(doc)) {
          seedTextFileDoc(doc, content, LOCAL_ORIGIN);
        } else {
          const oldText = this.diskText(entry.path, doc);
          applyLocalFileChange(doc, oldText, content, LOCAL_ORIGIN);
        }
      });
    }
    this.lastDiskText.delete(entry.path);
    if (update !== undefined && push) {
      for (const peer of this.options.peers.filePeers()) {
        this.options.peers.sendFile(peer, { type: 'FileUpdate', fileId, update });
      }
    }
    return true;
  }

  /** What this device last had on disk for `path` while its document moved on. */
  private readonly lastDiskText = new Map<string, string>();

  private diskText(path: string, doc: Y.Doc): string {
    return this.lastDiskText.get(path) ?? readTextFile(doc)?.text ?? '';
  }

  private async send(intent: Intent, signal?: AbortSignal): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    await ctx.send(intent, 'FileWatcher', signal);
  }

  // ---- remote changes → disk ----

  private async reconcile(): Promise<void> {
    const changes: RemoteChange[] = [];
    const publishAfter: string[] = [];
    const paths = [...this.dirtyIndexPaths].sort();
    this.dirtyIndexPaths.clear();
    const textIds = [...this.dirtyTextIds];
    this.dirtyTextIds.clear();
    this.pumpTextRequests(); // room for more while these are written
    const textPaths = new Set<string>();
    for (const id of textIds) {
      const p = this.pathsById.get(id);
      if (p !== undefined) textPaths.add(p);
    }
    for (const p of paths) {
      const entry = this.options.index.fileEntry(p);
      if (!entry) continue;
      if (!isSafeRelativePath(p) || this.isIgnored(p)) continue;
      if (entry.kind === 'text' && !entry.deleted) {
        this.pathsById.set(fileIdOf(p), p);
        // Our own entry for what is on our disk, and no update to its document since: nothing to
        // do (a peer coming up marks every path; this spares loading every document to see it).
        if (entry.by === this.options.deviceId && this.known.get(p)?.hash === entry.hash) continue;
        textPaths.add(p);
        continue;
      }
      await this.reconcileEntry(p, entry, changes, publishAfter);
    }
    for (const p of [...textPaths].sort()) {
      const entry = this.options.index.fileEntry(p);
      if (!entry || entry.deleted || entry.kind !== 'text') continue;
      if (!isSafeRelativePath(p) || this.isIgnored(p)) continue;
      await this.reconcileText(p, entry, changes, publishAfter);
    }
    if (changes.length > 0) await this.applyChanges(changes);
    await this.republish(publishAfter);
    this.dropUnneededBlobs();
    this.pumpFetches();
  }

  private async reconcileEntry(
    p: string,
    entry: FileEntry,
    changes: RemoteChange[],
    publishAfter: string[],
  ): Promise<void> {
    const known = this.known.get(p);
    if (entry.kind === 'dir') {
      if (entry.deleted) {
        if (this.knownDirs.has(p)) changes.push({ type: 'remove', path: p });
      } else if (!this.knownDirs.has(p)) {
        changes.push({ type: 'mkdir', path: p });
      }
      return;
    }
    if (entry.deleted) {
      if (!known) return;
      if (known.hash === entry.hash) changes.push({ type: 'remove', path: p });
      // A delete that did not see our version: ours is kept and published again.
      else if (entry.by !== this.options.deviceId) publishAfter.push(p);
      return;
    }
    if (known?.hash === entry.hash) return;
    if (entry.by === this.options.deviceId) return;
    const content = await this.blobFor(entry, p);
    if (content === undefined) return;
    const mode = entry.executable ? 0o755 : 0o644;
    if (known && entry.base !== known.hash && !this.overwrite.delete(p)) {
      // Concurrent with our version: ours goes to a conflict copy, the index's version wins.
      const mine = await fs.readFile(nodePath.join(this.folderReal(), p)).catch(() => undefined);
      if (mine !== undefined && sha256(mine) === known.hash) {
        changes.push({
          type: 'conflict',
          path: p,
          content: mine,
          deviceShortId: this.options.deviceId.slice(0, 8),
          at: this.now,
          mode: known.executable ? 0o755 : 0o644,
        });
      }
    }
    changes.push({ type: 'put', path: p, content, hash: entry.hash, mode });
  }

  private async reconcileText(
    p: string,
    entry: FileEntry,
    changes: RemoteChange[],
    publishAfter: string[],
  ): Promise<void> {
    const replicas = this.replicas;
    if (!replicas) return;
    const fileId = fileIdOf(p);
    // A document this device has never had: ask for it without loading an empty one (which
    // would push a received document out of memory before it is written).
    if (!replicas.has(fileId)) {
      this.requestText(fileId, entry.by);
      return;
    }
    const doc = await replicas.get(fileId);
    const known = this.known.get(p);
    if (!isSeeded(doc)) {
      this.requestText(fileId, entry.by);
      return;
    }
    const seeds = concurrentSeeds(doc);
    if (seeds.length > 1) {
      await this.resolveSeeds(p, doc, seeds, changes, publishAfter);
      return;
    }
    const bytes = textFileBytes(doc);
    if (bytes === undefined) return;
    const hash = sha256(bytes);
    if (hash !== entry.hash) this.requestText(fileId, entry.by);
    else this.requested.delete(fileId);
    if (known?.hash === hash) return;
    if (!known && hash !== entry.hash) return; // wait for the content the index names
    changes.push({
      type: 'put',
      path: p,
      content: bytes,
      hash,
      mode: entry.executable ? 0o755 : 0o644,
    });
    // The merged content differs from the index's: publish it once written.
    if (hash !== entry.hash) publishAfter.push(p);
  }

  /** Two devices created the file with different content: the larger seed's owner keeps a copy. */
  private async resolveSeeds(
    p: string,
    doc: Y.Doc,
    seeds: readonly string[],
    changes: RemoteChange[],
    publishAfter: string[],
  ): Promise<void> {
    const known = this.known.get(p);
    if (!known) return; // not ours: wait for the owner to resolve it
    const mine = await fs.readFile(nodePath.join(this.folderReal(), p)).catch(() => undefined);
    if (mine === undefined) return;
    const decoded = decodeText(mine);
    if (decoded === undefined) return;
    const mySeed = String(
      seedClientId(doc.guid, { text: decoded.text, encoding: decoded.encoding, bom: decoded.bom }),
    );
    const winner = seeds[0];
    if (!seeds.includes(mySeed) || mySeed === winner) return;
    const update = captureUpdate(doc, () => {
      removeSeed(doc, Number(mySeed));
    });
    if (update !== undefined) {
      for (const peer of this.options.peers.filePeers()) {
        this.options.peers.sendFile(peer, { type: 'FileUpdate', fileId: fileIdOf(p), update });
      }
    }
    changes.push({
      type: 'conflict',
      path: p,
      content: mine,
      deviceShortId: this.options.deviceId.slice(0, 8),
      at: this.now,
      mode: known.executable ? 0o755 : 0o644,
    });
    const bytes = textFileBytes(doc);
    if (bytes !== undefined) {
      changes.push({ type: 'put', path: p, content: bytes, hash: sha256(bytes) });
      // The index may still name this device's version: it names the winner's once written.
      publishAfter.push(p);
    }
  }

  private requestText(fileId: string, preferred: string | undefined): void {
    const last = this.requested.get(fileId);
    const now = Date.now();
    if (last !== undefined && now - last < REQUEST_RETRY_MS) return;
    const replicas = this.replicas;
    if (!replicas) return;
    const peers = this.options.peers.filePeers();
    if (peers.length === 0) return;
    this.requested.set(fileId, now);
    const targets = preferred !== undefined && peers.includes(preferred) ? [preferred] : peers;
    this.textRequests.set(fileId, targets);
    this.pumpTextRequests();
  }

  /** Text documents waiting to be asked for, and those asked for and not answered yet. */
  private readonly textRequests = new Map<string, readonly string[]>();
  private readonly outstandingText = new Map<string, number>();

  /** Asks for at most MAX_TEXT_REQUESTS documents at once (memory stays bounded). */
  private pumpTextRequests(): void {
    const replicas = this.replicas;
    if (!replicas) return;
    const now = Date.now();
    // Oldest first (a request is re-inserted when made): stop at the first one still waited for.
    for (const [fileId, at] of this.outstandingText) {
      if (now - at <= REQUEST_RETRY_MS) break;
      this.outstandingText.delete(fileId);
    }
    for (const [fileId, targets] of this.textRequests) {
      // Asked for, or received and not yet written: documents are held in memory until written.
      if (this.outstandingText.size + this.dirtyTextIds.size >= MAX_TEXT_REQUESTS) return;
      this.textRequests.delete(fileId);
      this.outstandingText.delete(fileId);
      this.outstandingText.set(fileId, now);
      (async () => {
        // A document never had here: the empty state vector, without loading an empty document.
        const stateVector = replicas.has(fileId)
          ? Y.encodeStateVector(await replicas.get(fileId))
          : EMPTY_STATE_VECTOR;
        for (const peer of targets) {
          this.options.peers.sendFile(peer, { type: 'FileStep1', fileId, stateVector });
        }
      })().catch((error: unknown) => {
        this.ctx?.diagnostics.emit(
          'files.sync.rejected',
          `asking for file ${fileId}: ${describeError(error)}`,
        );
      });
    }
  }

  /** An answer (or any update) for `fileId` arrived: its slot is free. */
  private textAnswered(fileId: string): void {
    if (this.outstandingText.delete(fileId)) this.pumpTextRequests();
  }

  private async answerStep1(
    peerId: string,
    fileId: string,
    stateVector: Uint8Array,
  ): Promise<void> {
    const replicas = this.replicas;
    if (!replicas) return;
    if (!replicas.has(fileId)) {
      // Nothing here yet: ask for what the asker has (it may be the only copy).
      if (Y.decodeStateVector(stateVector).size > 0) {
        this.options.peers.sendFile(peerId, {
          type: 'FileStep1',
          fileId,
          stateVector: EMPTY_STATE_VECTOR,
        });
      }
      return;
    }
    let theirs: Map<number, number>;
    try {
      theirs = Y.decodeStateVector(stateVector);
    } catch (error) {
      this.reject(peerId, `bad state vector for file ${fileId}: ${describeError(error)}`);
      return;
    }
    const update = await replicas.missingFor(fileId, stateVector);
    await this.options.peers.whenWritable(peerId);
    this.options.peers.sendFile(peerId, { type: 'FileUpdate', fileId, update });
    // Like y-protocols' sync step 1 in both directions: when the asker holds something this
    // device lacks (its own seed, say), ask for it too. (An asker with nothing has nothing.)
    if (theirs.size === 0) return;
    const oursVector = await replicas.stateVectorOf(fileId);
    const ours = Y.decodeStateVector(oursVector);
    for (const [client, clock] of theirs) {
      if (clock > (ours.get(client) ?? 0)) {
        this.options.peers.sendFile(peerId, { type: 'FileStep1', fileId, stateVector: oursVector });
        break;
      }
    }
  }

  private async applyRemoteText(peerId: string, fileId: string, update: Uint8Array): Promise<void> {
    const replicas = this.replicas;
    if (!replicas) return;
    if (validateYjsUpdate(update) === undefined) {
      this.reject(peerId, `malformed update for file ${fileId}`);
      return;
    }
    this.textAnswered(fileId);
    const doc = await replicas.get(fileId);
    const path = this.pathsById.get(fileId);
    const textBefore = isSeeded(doc) ? readTextFile(doc)?.text : undefined;
    let changed: Uint8Array | undefined;
    try {
      changed = captureUpdate(doc, () => {
        Y.applyUpdate(doc, update, peerId);
      });
    } catch (error) {
      this.reject(peerId, `update for file ${fileId} does not apply: ${describeError(error)}`);
      return;
    }
    // Nothing new (deletions count: a state vector alone would miss them).
    if (changed === undefined) return;
    // Remember what the disk holds until the new content is written there.
    if (path !== undefined && textBefore !== undefined && !this.lastDiskText.has(path)) {
      const known = this.known.get(path);
      if (known && sha256(textFileBytes(doc) ?? new Uint8Array()) !== known.hash) {
        this.lastDiskText.set(path, textBefore);
      }
    }
    this.requested.delete(fileId);
    for (const peer of this.options.peers.filePeers()) {
      if (peer !== peerId)
        this.options.peers.sendFile(peer, { type: 'FileUpdate', fileId, update });
    }
    this.dirtyTextIds.add(fileId);
    this.schedule();
  }

  private async applyChanges(changes: readonly RemoteChange[]): Promise<void> {
    const orchestrator = this.orchestrator;
    const expected = this.expected;
    if (!orchestrator || !expected) return;
    // The part of the folder the changes touch (their paths and parent folders): building the
    // whole index for every batch made large trees quadratic. A name clash outside it (a conflict
    // copy name taken meanwhile) is still caught by the executor (target_exists).
    const current = new Map<string, IndexEntry>();
    const note = (p: string): void => {
      const e = this.known.get(p);
      if (e) current.set(p, { kind: 'file', hash: e.hash, mode: e.mode });
      else if (this.knownDirs.has(p)) current.set(p, { kind: 'dir' });
      for (const a of ancestorPaths(p)) {
        if (this.knownDirs.has(a)) current.set(a, { kind: 'dir' });
        else if (this.known.has(a))
          current.set(a, { kind: 'file', hash: this.known.get(a)?.hash ?? '' });
      }
    };
    for (const c of changes) {
      if (c.type === 'rename') {
        note(c.from);
        note(c.to);
      } else {
        note(c.path);
      }
    }
    const plan = buildPlan(changes, current);
    for (const { action } of plan.actions) {
      if (action.type === 'write') {
        expected.expect(action.path, action.contentHash ?? sha256(action.content));
      } else if (action.type === 'delete') expected.expect(action.path, null);
      else if (action.type === 'conflictCopy')
        expected.expect(action.copyPath, sha256(action.content));
    }
    const rules: FolderRules = {
      pathStyle: 'posix',
      caseInsensitive: false,
      isIgnored: (p) => this.isIgnored(p),
      dirtyPaths: this.options.dirtyPaths?.() ?? new Set(),
      maxFileBytes: this.maxFileBytes,
    };
    const report = await orchestrator.apply(plan, rules);
    const folder = orchestrator.folderReal;
    for (const result of report.results) {
      const planned = plan.actions.find((a) => a.id === result.id);
      if (!planned) continue;
      const action = planned.action;
      if (result.status !== 'completed') {
        this.ctx?.diagnostics.emit(
          'files.sync.rejected',
          `${action.type} ${'path' in action ? action.path : action.from} halted: ${result.code ?? ''} ${result.message ?? ''}`,
        );
        if (action.type === 'write') {
          expected.cancel(action.path, action.contentHash ?? sha256(action.content));
          if (result.code === 'dirty_editor' && this.options.applyToBuffer) {
            await this.options.applyToBuffer(action.path, action.content).catch(() => false);
          } else {
            this.localPaths.add(action.path);
            this.schedule();
          }
        }
        continue;
      }
      switch (action.type) {
        case 'write': {
          const hash = action.contentHash ?? result.hash ?? sha256(action.content);
          const entry = await this.entryAfterWrite(folder, action.path, action.content, hash);
          if (entry) this.known.set(action.path, entry);
          this.lastDiskText.delete(action.path);
          this.releaseBlob(hash, action.path);
          break;
        }
        case 'delete':
          this.known.delete(action.path);
          this.knownDirs.delete(action.path);
          break;
        case 'mkdir':
          this.knownDirs.add(action.path);
          break;
        case 'conflictCopy': {
          const conflict: FileConflict = {
            id: action.copyPath,
            path: action.path,
            copyPath: action.copyPath,
            kind: this.options.index.fileEntry(action.path)?.kind === 'text' ? 'text' : 'binary',
            device: this.options.deviceId,
            at: this.now,
          };
          this.conflicts = [...this.conflicts.filter((c) => c.id !== conflict.id), conflict];
          this.ctx?.diagnostics.emit(
            'files.sync.conflict',
            `${action.path} changed on two devices: this device's version is kept as ${action.copyPath}`,
          );
          // The copy is a new file of this device: it syncs like any other.
          expected.cancel(action.copyPath, sha256(action.content));
          this.localPaths.add(action.copyPath);
          this.schedule();
          await this.saveConflicts();
          break;
        }
        case 'rename':
          break;
      }
      this.knownDirty = true;
    }
  }

  private async entryAfterWrite(
    folder: string,
    p: string,
    content: Uint8Array,
    hash: string,
  ): Promise<ScanEntry | undefined> {
    const stat = await fs.stat(nodePath.join(folder, p)).catch(() => undefined);
    if (!stat) return undefined;
    const indexKind = this.options.index.fileEntry(p)?.kind;
    const kind =
      indexKind === 'text' || indexKind === 'binary'
        ? indexKind
        : decodeText(content) !== undefined
          ? 'text'
          : 'binary';
    return {
      path: p,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      mode: stat.mode & 0o777,
      executable: (stat.mode & 0o100) !== 0,
      kind,
      hash,
    };
  }

  // ---- blobs ----

  /** The content of a binary entry when it is here (fetched or local), else starts fetching it. */
  private async blobFor(entry: FileEntry, p: string): Promise<Uint8Array | undefined> {
    if (entry.hash === EMPTY_HASH) return new Uint8Array();
    const cached = this.blobs.get(entry.hash);
    if (cached) return cached;
    if (entry.size > this.maxFileBytes) {
      this.ctx?.diagnostics.emit('files.sync.rejected', `${p} is over the size limit: not synced`);
      return undefined;
    }
    // Another local file with the same content: copy it.
    for (const other of this.known.pathsWithHash(entry.hash)) {
      const bytes = await fs
        .readFile(nodePath.join(this.folderReal(), other))
        .catch(() => undefined);
      if (bytes !== undefined && sha256(bytes) === entry.hash) return bytes;
    }
    let waiting = this.waitingForBlob.get(entry.hash);
    if (!waiting) {
      waiting = new Set();
      this.waitingForBlob.set(entry.hash, waiting);
    }
    waiting.add(p);
    if (!this.fetches.has(entry.hash)) {
      this.fetches.set(entry.hash, {
        hash: entry.hash,
        size: entry.size,
        buffer: undefined,
        nextOffset: 0,
        received: 0,
        inflight: 0,
        requestedAt: 0,
        peer: undefined,
        triedPeers: new Set(),
      });
    }
    return undefined;
  }

  /** Fetched or fetching content that no path waits for any more (the index moved on). */
  private dropUnneededBlobs(): void {
    for (const [hash, waiting] of [...this.waitingForBlob]) {
      for (const p of [...waiting]) {
        const entry = this.options.index.fileEntry(p);
        if (entry?.hash !== hash || entry.deleted || this.known.get(p)?.hash === hash) {
          waiting.delete(p);
        }
      }
      if (waiting.size > 0) continue;
      this.waitingForBlob.delete(hash);
      this.blobs.delete(hash);
      const fetch = this.fetches.get(hash);
      if (fetch) this.dropFetch(fetch);
    }
  }

  private releaseBlob(hash: string, p: string): void {
    const waiting = this.waitingForBlob.get(hash);
    waiting?.delete(p);
    if (!waiting || waiting.size === 0) {
      this.waitingForBlob.delete(hash);
      // Room in the memory budget: the next fetches may start.
      if (this.blobs.delete(hash)) this.pumpFetches();
    }
  }

  private restartFetch(fetch: BlobFetch): void {
    if (fetch.peer !== undefined) fetch.triedPeers.add(fetch.peer);
    this.inflightChunks -= fetch.inflight;
    fetch.inflight = 0;
    fetch.peer = undefined;
    fetch.nextOffset = 0;
    fetch.received = 0;
  }

  private pumpFetches(): void {
    const peers = this.options.peers.filePeers();
    let held = 0;
    for (const blob of this.blobs.values()) held += blob.length;
    for (const fetch of this.fetches.values()) if (fetch.nextOffset > 0) held += fetch.size;
    for (const fetch of this.fetches.values()) {
      if (this.inflightChunks >= MAX_INFLIGHT_CHUNKS) return;
      if (fetch.nextOffset === 0) {
        // Not started: only within the memory budget (what is held is written first).
        if (held > 0 && held + fetch.size > BLOB_MEMORY_BYTES) continue;
        held += fetch.size;
      }
      if (fetch.peer === undefined || !peers.includes(fetch.peer)) {
        const candidates = peers.filter((p) => !fetch.triedPeers.has(p));
        if (candidates.length === 0) {
          if (peers.length > 0 && fetch.triedPeers.size > 0) {
            // Nobody has it now: forget the fetch; the next index change or peer asks again.
            this.dropFetch(fetch);
          }
          continue;
        }
        fetch.peer = candidates[0];
        fetch.nextOffset = 0;
        fetch.received = 0;
      }
      const peer = fetch.peer;
      if (peer === undefined) continue;
      while (fetch.nextOffset < fetch.size && this.inflightChunks < MAX_INFLIGHT_CHUNKS) {
        const length = Math.min(BLOB_CHUNK_BYTES, fetch.size - fetch.nextOffset);
        const sent = this.options.peers.sendFile(peer, {
          type: 'BlobRequest',
          hash: fetch.hash,
          offset: fetch.nextOffset,
          length,
        });
        if (!sent) break;
        fetch.nextOffset += length;
        fetch.requestedAt = Date.now();
        fetch.inflight++;
        this.inflightChunks++;
      }
    }
  }

  private dropFetch(fetch: BlobFetch): void {
    this.inflightChunks -= fetch.inflight;
    this.fetches.delete(fetch.hash);
    this.waitingForBlob.delete(fetch.hash);
  }

  private receiveChunk(
    peerId: string,
    hash: string,
    offset: number,
    total: number,
    bytes: Uint8Array,
  ): void {
    const fetch = this.fetches.get(hash);
    if (!fetch || fetch.peer !== peerId) return; // late or unasked: ignored
    if (total !== fetch.size || offset + bytes.length > fetch.size || bytes.length === 0) {
      this.reject(peerId, `blob chunk for ${hash.slice(0, 12)} does not fit (offset ${offset})`);
      this.restartFetch(fetch);
      this.pumpFetches();
      return;
    }
    fetch.buffer ??= Buffer.alloc(fetch.size);
    fetch.buffer.set(bytes, offset);
    fetch.requestedAt = Date.now();
    fetch.received += bytes.length;
    fetch.inflight--;
    this.inflightChunks--;
    if (fetch.received >= fetch.size) {
      this.fetches.delete(hash);
      const complete = fetch.buffer;
      fetch.buffer = undefined;
      if (sha256(complete) !== hash) {
        this.reject(peerId, `blob ${hash.slice(0, 12)} from ${peerId} failed verification`);
        fetch.triedPeers.add(peerId);
        fetch.peer = undefined;
        fetch.received = 0;
        fetch.nextOffset = 0;
        this.fetches.set(hash, fetch);
      } else {
        this.blobs.set(hash, complete);
        for (const p of this.waitingForBlob.get(hash) ?? []) this.dirtyIndexPaths.add(p);
        this.schedule();
      }
    }
    this.pumpFetches();
  }

  private async answerBlobRequest(
    peerId: string,
    hash: string,
    offset: number,
    length: number,
  ): Promise<void> {
    const cached = this.blobs.get(hash);
    let source: { bytes: Uint8Array; total: number } | undefined;
    if (cached) {
      source = { bytes: cached.subarray(offset, offset + length), total: cached.length };
    } else {
      for (const p of this.known.pathsWithHash(hash)) {
        const handle = await fs
          .open(nodePath.join(this.folderReal(), p), 'r')
          .catch(() => undefined);
        if (!handle) continue;
        try {
          const total = (await handle.stat()).size;
          const buffer = Buffer.alloc(Math.max(0, Math.min(length, total - offset)));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
          source = { bytes: buffer.subarray(0, bytesRead), total };
        } finally {
          await handle.close();
        }
        break;
      }
    }
    await this.options.peers.whenWritable(peerId);
    if (!source || source.bytes.length === 0) {
      this.options.peers.sendFile(peerId, { type: 'BlobMissing', hash });
      return;
    }
    this.options.peers.sendFile(peerId, {
      type: 'BlobChunk',
      hash,
      offset,
      total: source.total,
      bytes: source.bytes,
    });
  }

  // ---- state ----

  /** Ignored by the rules, or not a safe folder-relative path at all (never synced). */
  private isIgnored(p: string): boolean {
    // Memoised: status and retries ask for every path of the index; the rules change only with a
    // local change (the memo is cleared then).
    let verdict = this.ignoredMemo.get(p);
    if (verdict === undefined) {
      verdict = !isSafeRelativePath(p) || this.rules.isIgnored(p);
      if (this.ignoredMemo.size > 200_000) this.ignoredMemo.clear();
      this.ignoredMemo.set(p, verdict);
    }
    return verdict;
  }

  private readonly ignoredMemo = new Map<string, boolean>();

  /** The ignore rules changed (loaded, or a rule file edited): verdicts and counts start over. */
  private rulesChanged(): void {
    this.ignoredMemo.clear();
    this.progress.clear();
    for (const [p, entry] of this.options.index.fileEntries().entries) {
      this.progress.update(p, entry, this.known.get(p)?.hash, this.isIgnored(p));
    }
    this.progressLive = true;
  }

  private refreshProgress(p: string): void {
    if (!this.progressLive) return;
    this.progress.update(
      p,
      this.options.index.fileEntry(p),
      this.known.get(p)?.hash,
      this.isIgnored(p),
    );
  }

  private folderReal(): string {
    return this.orchestrator?.folderReal ?? this.options.folder;
  }

  private reject(peerId: string, message: string): void {
    this.ctx?.diagnostics.emit('files.sync.rejected', message, { peerId });
  }

  private setState(state: FileSyncState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onStatus?.(this.status());
  }

  /** Loads what this device knew of the folder; false on the first run. */
  private async loadKnown(): Promise<boolean> {
    const file = nodePath.join(this.options.stateDir, KNOWN_FILE);
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    this.known = new KnownMap((p) => {
      this.refreshProgress(p);
    });
    this.knownDirs = new Set();
    if (text !== undefined) {
      try {
        const parsed = JSON.parse(text) as {
          version?: unknown;
          entries?: unknown;
          dirs?: unknown;
          scannedAt?: unknown;
        };
        if (parsed.version === KNOWN_VERSION && Array.isArray(parsed.entries)) {
          for (const e of parsed.entries as ScanEntry[]) {
            if (typeof e.path === 'string' && typeof e.hash === 'string') this.known.set(e.path, e);
          }
          if (Array.isArray(parsed.dirs)) {
            for (const d of parsed.dirs) if (typeof d === 'string') this.knownDirs.add(d);
          }
          if (typeof parsed.scannedAt === 'number') this.scannedAt = parsed.scannedAt;
        }
      } catch {
        this.ctx?.diagnostics.emit('files.sync.rejected', `${file} is unreadable: rescanning`);
      }
    }
    const found = text !== undefined;
    const conflicts = await fs
      .readFile(nodePath.join(this.options.stateDir, CONFLICTS_FILE), 'utf8')
      .catch(() => undefined);
    if (conflicts !== undefined) {
      try {
        const parsed = JSON.parse(conflicts) as unknown;
        if (Array.isArray(parsed)) this.conflicts = parsed as FileConflict[];
      } catch {
        this.conflicts = [];
      }
    }
    return found;
  }

  private async saveKnown(): Promise<void> {
    if (!this.knownDirty) return;
    this.knownDirty = false;
    this.knownSavedAt = Date.now();
    const file = nodePath.join(this.options.stateDir, KNOWN_FILE);
    const temp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(
      temp,
      JSON.stringify({
        version: KNOWN_VERSION,
        scannedAt: this.scannedAt,
        entries: [...this.known.values()],
        dirs: [...this.knownDirs],
      }),
    );
    await fs.rename(temp, file);
  }

  private async saveConflicts(): Promise<void> {
    // The conflict list is the user's record of copies to resolve: written durably.
    await atomicWriteFile(
      nodePath.join(this.options.stateDir, CONFLICTS_FILE),
      JSON.stringify(this.conflicts),
    );
    this.options.onStatus?.(this.status());
  }
}

/**
 * Runs `change` and returns the Yjs update it produced, or undefined when it changed nothing
 * (from the document's update events: a state vector comparison would miss deletions).
 */
function captureUpdate(doc: Y.Doc, change: () => void): Uint8Array | undefined {
  const updates: Uint8Array[] = [];
  const listener = (update: Uint8Array): void => {
    updates.push(update);
  };
  doc.on('update', listener);
  try {
    change();
  } finally {
    doc.off('update', listener);
  }
  if (updates.length === 0) return undefined;
  return updates.length === 1 ? updates[0] : Y.mergeUpdates(updates);
}

/** Deletes every live character that client `seed` inserted, and its seed key. */
function removeSeed(doc: Y.Doc, seed: number): void {
  const text = fileText(doc);
  const ranges: [number, number][] = [];
  let index = 0;
  let item = text._start;
  while (item !== null) {
    if (!item.deleted && item.countable) {
      if (item.id.client === seed) ranges.push([index, item.length]);
      index += item.length;
    }
    item = item.right;
  }
  doc.transact(() => {
    for (let i = ranges.length - 1; i >= 0; i--) {
      const range = ranges[i];
      if (range) text.delete(range[0], range[1]);
    }
    doc.getMap('seeds').delete(String(seed));
  }, LOCAL_ORIGIN);
}

/**
 * The known-state map: tells `onChange` about every path set or deleted (progress counts) and
 * finds the paths holding a content hash (a peer asking for a blob) without a walk.
 */
class KnownMap extends Map<string, ScanEntry> {
  private readonly byHash = new Map<string, Set<string>>();

  constructor(private readonly onChange: (path: string) => void) {
    super();
  }

  override set(path: string, entry: ScanEntry): this {
    this.unindex(path);
    super.set(path, entry);
    let paths = this.byHash.get(entry.hash);
    if (paths === undefined) this.byHash.set(entry.hash, (paths = new Set()));
    paths.add(path);
    this.onChange(path);
    return this;
  }

  override delete(path: string): boolean {
    this.unindex(path);
    const had = super.delete(path);
    if (had) this.onChange(path);
    return had;
  }

  override clear(): void {
    const paths = [...this.keys()];
    super.clear();
    this.byHash.clear();
    for (const path of paths) this.onChange(path);
  }

  pathsWithHash(hash: string): string[] {
    return [...(this.byHash.get(hash) ?? [])];
  }

  private unindex(path: string): void {
    const before = super.get(path);
    if (before === undefined) return;
    const paths = this.byHash.get(before.hash);
    paths?.delete(path);
    if (paths?.size === 0) this.byHash.delete(before.hash);
  }
}
