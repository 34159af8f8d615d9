/**
 * The CLI's file watcher (VS Code's host uses the editor's watcher instead): reports the paths
 * that changed under a folder, coalesced into batches ({@link ChangeCoalescer}), without the
 * ignored ones. The consumer rescans the reported paths (`scanPaths`), drops the echoes of its
 * own writes (`ExpectedWrites`) and turns the rest into local-change intents.
 *
 * Two strategies, both on node:fs.watch:
 *  - 'recursive': one `fs.watch(root, { recursive: true })`. Native and cheap on macOS (FSEvents)
 *    and Windows; the default there.
 *  - 'per-directory': one non-recursive watch per synced directory, added as directories appear
 *    and closed as they go. The default on Linux: Node 20 does support `recursive` there, but
 *    emulates it by watching every directory of the tree, ignored ones included (a large
 *    `node_modules/` would use up inotify watches for nothing). This strategy never enters an
 *    ignored directory.
 * Events carry no reliable kind or content, so a batch only says "look at these paths again";
 * when events may have been lost (a watch failed, too many paths) the batch says `overflow`:
 * rescan everything.
 */
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import * as nodePath from 'node:path';
import { systemClock, type Clock } from '../../../runtime/Clock';
import { ChangeCoalescer, type ChangeBatch } from './ChangeCoalescer';

export type WatchStrategy = 'recursive' | 'per-directory';

export interface FolderWatcherOptions {
  readonly onBatch: (batch: ChangeBatch) => void;
  /**
   * Paths to drop (folder-relative): true also for anything inside an ignored directory, as
   * `IgnoreRules.isIgnored` says. Ignored directories are not watched at all.
   */
  readonly isIgnored?: (path: string, isDirectory: boolean) => boolean;
  /** Called when a watch fails; the next batch then has `overflow` set. */
  readonly onError?: (error: Error) => void;
  readonly strategy?: WatchStrategy | 'auto';
  readonly clock?: Clock;
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  readonly maxPaths?: number;
  /** Most directories watched with 'per-directory'. Default 100,000. */
  readonly maxWatchedDirs?: number;
}

export class FolderWatcher {
  /** The strategy 'auto' picks on `platform`. */
  static defaultStrategy(platform: NodeJS.Platform = process.platform): WatchStrategy {
    return platform === 'darwin' || platform === 'win32' ? 'recursive' : 'per-directory';
  }

  readonly strategy: WatchStrategy;
  private readonly coalescer: ChangeCoalescer;
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly isIgnored: (path: string, isDirectory: boolean) => boolean;
  private readonly maxWatchedDirs: number;
  private closed = false;
  private limitReported = false;

  constructor(
    readonly root: string,
    private readonly options: FolderWatcherOptions,
  ) {
    this.strategy =
      options.strategy === undefined || options.strategy === 'auto'
        ? FolderWatcher.defaultStrategy()
        : options.strategy;
    this.isIgnored = options.isIgnored ?? (() => false);
    this.maxWatchedDirs = options.maxWatchedDirs ?? 100_000;
    this.coalescer = new ChangeCoalescer({
      clock: options.clock ?? systemClock,
      onBatch: options.onBatch,
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      ...(options.maxDelayMs !== undefined ? { maxDelayMs: options.maxDelayMs } : {}),
      ...(options.maxPaths !== undefined ? { maxPaths: options.maxPaths } : {}),
    });
  }

  /** Directories watched (1 with 'recursive'). */
  get watchedDirs(): number {
    return this.watchers.size;
  }

  /** Starts watching; resolves once every existing synced directory is watched. */
  async start(): Promise<void> {
    if (this.strategy === 'recursive') {
      const watcher = watch(this.root, { recursive: true, persistent: false });
      watcher.on('change', (_event, filename) => {
        this.onEvent('', filename);
      });
      watcher.on('error', (error) => {
        this.fail(error);
      });
      this.watchers.set('', watcher);
      return;
    }
    await this.watchTree('');
  }

  /** Emits what is pending now (tests, shutdown). */
  flush(): void {
    this.coalescer.flush();
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.coalescer.close();
  }

  private onEvent(dir: string, filename: string | Buffer | null, event = 'rename'): void {
    if (this.closed) return;
    if (filename === null) {
      // The platform did not say which entry changed: look at the whole directory again.
      if (dir === '') this.coalescer.markOverflow();
      else this.coalescer.add(dir);
      return;
    }
    const name = typeof filename === 'string' ? filename : filename.toString('utf8');
    const relative = name.split(nodePath.sep).join('/');
    const path = dir === '' ? relative : `${dir}/${relative}`;
    if (this.isIgnored(path, false)) return;
    this.coalescer.add(path);
    // Only an entry that appeared or went ('rename') can be a directory to start or stop
    // watching; a content change ('change') never is.
    if (this.strategy === 'per-directory' && event === 'rename') this.follow(path);
  }

  /** One followDirectory per path at a time; an event meanwhile makes it look once more. */
  private follow(path: string): void {
    if (this.following.has(path)) {
      this.followAgain.add(path);
      return;
    }
    this.following.add(path);
    void this.followDirectory(path).finally(() => {
      this.following.delete(path);
      if (this.followAgain.delete(path)) this.follow(path);
    });
  }

  private readonly followAgain = new Set<string>();
  /** Paths whose followDirectory is under way. */
  private readonly following = new Set<string>();

  /** After an event on `path`: watch it if it is a new directory, unwatch it if it is gone. */
  private async followDirectory(path: string): Promise<void> {
    let isDir: boolean;
    try {
      isDir = (await fs.lstat(this.abs(path))).isDirectory();
    } catch {
      isDir = false;
    }
    if (this.closed) return;
    if (!isDir) {
      this.unwatchTree(path);
      return;
    }
    if (this.watchers.has(path) || this.isIgnored(path, true)) return;
    await this.watchTree(path);
    // Files may have been created before the watch was in place: look again once it is.
    this.coalescer.add(path);
  }

  private async watchTree(dir: string): Promise<void> {
    const stack = [dir];
    while (stack.length > 0 && !this.closed) {
      const current = stack.pop() ?? '';
      if (!this.watchDir(current)) return;
      let entries;
      try {
        entries = await fs.readdir(this.abs(current), { withFileTypes: true });
      } catch {
        this.unwatchTree(current);
        continue;
      }
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const child = current === '' ? entry.name : `${current}/${entry.name}`;
        if (!this.isIgnored(child, true) && !this.watchers.has(child)) stack.push(child);
      }
    }
  }

  /** Watches one directory; false when the limit is reached. */
  private watchDir(dir: string): boolean {
    if (this.closed || this.watchers.has(dir)) return true;
    if (this.watchers.size >= this.maxWatchedDirs) {
      if (!this.limitReported) {
        this.limitReported = true;
        this.fail(new Error(`more than ${this.maxWatchedDirs} directories: not all are watched`));
      }
      return false;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(this.abs(dir), { persistent: false });
    } catch (error) {
      // Gone already, or not readable: the event that made us look will be rescanned.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.fail(error as Error);
      return true;
    }
    watcher.on('change', (event, filename) => {
      this.onEvent(dir, filename, event);
    });
    watcher.on('error', (error) => {
      this.unwatchTree(dir);
      if (dir === '') this.fail(error);
    });
    this.watchers.set(dir, watcher);
    return true;
  }

  private unwatchTree(dir: string): void {
    // A directory below is watched only once this one is (watchTree goes top down): a path that
    // is not watched (a file, most events) has nothing to close, without a pass over the watches.
    const watcher = this.watchers.get(dir);
    if (watcher === undefined) return;
    watcher.close();
    this.watchers.delete(dir);
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const [path, below] of this.watchers) {
      if (path.startsWith(prefix)) {
        below.close();
        this.watchers.delete(path);
      }
    }
  }

  private fail(error: Error): void {
    this.coalescer.markOverflow();
    this.options.onError?.(error);
  }

  private abs(path: string): string {
    return path === '' ? this.root : nodePath.join(this.root, ...path.split('/'));
  }
}
