/**
 * Walks a synced folder and lists what syncs: every regular file and directory that the ignore
 * rules ({@link IgnoreRules}) and the size limit let through, with size, mtime, permission bits,
 * kind (text or binary, by content) and SHA-256.
 *
 * Cheap rescans: given the previous scan, a file whose size and mtime are unchanged keeps its
 * hash and kind without being read. A file modified within `racyWindowMs` before the previous
 * scan is read again anyway (git's "racily clean" problem: a second write in the same timestamp
 * tick would otherwise go unseen).
 *
 * Symbolic links are never followed (neither to directories nor to files) and never synced:
 * each one is reported in `symlinks` with a reason, so the UI can say why it is missing on the
 * other device. Other special files (FIFOs, sockets, devices) are reported in `skipped`.
 *
 * `scanPaths` rescans only some paths (what a watcher reported) against a previous scan.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import * as nodePath from 'node:path';
import { describeError, TwinspaceError } from '../../../core/errors';
import { DEFAULT_MAX_TEXT_BYTES, SNIFF_BYTES, sniffContent } from '../../../core/files/textCodec';
import { isTextBytes } from './isTextBytes';
import { IGNORE_FILE_NAMES, IgnoreRules, type IgnoreFileName } from './IgnoreRules';

/** Files larger than this are not synced by default (50 MiB). */
export const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;
/** Files modified this close to a scan are hashed again on the next one. */
export const DEFAULT_RACY_WINDOW_MS = 2000;
const DEFAULT_CONCURRENCY = 8;
/** O_NONBLOCK and O_NOFOLLOW do not exist on Windows. */
const platformFlags = fsConstants as Partial<typeof fsConstants>;
const OPEN_FLAGS =
  fsConstants.O_RDONLY | (platformFlags.O_NONBLOCK ?? 0) | (platformFlags.O_NOFOLLOW ?? 0);
/** Block size of streamed hashing reads (binaries and large files). */
const READ_BLOCK = 64 * 1024;

export type FileKind = 'text' | 'binary';

export interface ScanEntry {
  /** Folder-relative, `/`-separated. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Permission bits (`mode & 0o777`). */
  readonly mode: number;
  /** Whether the owner's execute bit is set (the bit that syncs, as in git). */
  readonly executable: boolean;
  readonly kind: FileKind;
  /** SHA-256 of the content, lowercase hex. */
  readonly hash: string;
}

export type SymlinkReason =
  /** Points to a directory: not followed, so a tree is never walked twice or out of the folder. */
  | 'symlink_to_directory'
  /** Points to a file: links are not synced (the link or its target may not exist elsewhere). */
  | 'symlink_to_file'
  /** Resolves outside the folder. */
  | 'symlink_outside_folder'
  /** Points nowhere. */
  | 'symlink_dangling';

export interface SkippedSymlink {
  readonly path: string;
  /** What the link says (readlink). */
  readonly target: string;
  readonly reason: SymlinkReason;
}

export type SkipReason = 'too_large' | 'special_file' | 'unreadable';

export interface SkippedPath {
  readonly path: string;
  readonly reason: SkipReason;
  readonly message: string;
}

/** What a scan found: the input of the next cheap rescan. */
export interface ScanSnapshot {
  /** path → entry, every synced file. */
  readonly entries: ReadonlyMap<string, ScanEntry>;
  /** Every synced directory (not the root), so empty ones sync too. */
  readonly dirs: ReadonlySet<string>;
  /** When the scan started (from `now`), for the racy-clean check. */
  readonly scannedAt: number;
}

export interface ScanStats {
  /** Files read and hashed (the rest kept the previous hash). */
  readonly hashed: number;
  readonly reused: number;
  /** Paths left out by ignore rules (an ignored directory counts once). */
  readonly ignored: number;
}

export interface ScanResult extends ScanSnapshot {
  readonly symlinks: readonly SkippedSymlink[];
  readonly skipped: readonly SkippedPath[];
  readonly stats: ScanStats;
  /** The rules as loaded during the walk (pass to `scanPaths` and the watcher). */
  readonly rules: IgnoreRules;
}

export interface ScanOptions {
  /** Rules to use; rule files found during the walk are loaded into it. Default: fresh rules. */
  readonly rules?: IgnoreRules;
  /** Larger files are skipped ('too_large'). Default {@link DEFAULT_MAX_FILE_BYTES}. */
  readonly maxFileBytes?: number;
  /** Larger files are binary whatever they hold. Default {@link DEFAULT_MAX_TEXT_BYTES}. */
  readonly maxTextBytes?: number;
  /** The previous scan: unchanged files are not read again. */
  readonly previous?: ScanSnapshot;
  readonly racyWindowMs?: number;
  /** Files read at once. Default 8. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  /** Time source (epoch ms). Default Date.now. */
  readonly now?: () => number;
  /** Called after each file with the number of files done so far. */
  readonly onProgress?: (filesDone: number) => void;
}

/** Lists what syncs in `root` (see the module comment). */
export async function scanFolder(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  await assertDirectory(root);
  const ctx = new ScanContext(root, options);
  await ctx.walk('');
  await ctx.drain();
  return ctx.result(new Map(ctx.found), new Set(ctx.foundDirs));
}

/** The result of rescanning some paths: apply it to the previous snapshot with `applyDelta`. */
export interface ScanDelta {
  /** New or changed files. */
  readonly upserted: readonly ScanEntry[];
  /** Files that are gone from the disk (deleted, or renamed away). */
  readonly removed: readonly string[];
  /**
   * Files still on disk that no longer sync: now ignored, over the size limit, replaced by a
   * link or a special file, or unreadable. Not a deletion: peers keep their copy.
   */
  readonly excluded: readonly string[];
  readonly dirsAdded: readonly string[];
  readonly dirsRemoved: readonly string[];
  readonly symlinks: readonly SkippedSymlink[];
  readonly skipped: readonly SkippedPath[];
  /**
   * A `.gitignore` or `.twinspaceignore` changed: the rules were reloaded, and other paths may
   * have become ignored or not; run a (cheap) full `scanFolder` with the previous snapshot.
   */
  readonly rulesChanged: boolean;
  readonly stats: ScanStats;
}

/**
 * Rescans `paths` (files or directories, folder-relative) against `previous`: each is looked at
 * again, directories with everything below them. Unchanged files are not reported.
 */
export async function scanPaths(
  root: string,
  paths: readonly string[],
  previous: ScanSnapshot,
  options: Omit<ScanOptions, 'previous'> & { readonly rules: IgnoreRules },
): Promise<ScanDelta> {
  await assertDirectory(root);
  const ctx = new ScanContext(root, { ...options, previous });
  const roots = minimalRoots(paths.map(canonical).filter((p) => p !== undefined));
  let rulesChanged = false;
  const covered: string[] = [];
  for (const path of roots) {
    if (path === '') {
      await ctx.walk('');
      covered.push('');
      continue;
    }
    // Rule files first: they decide what the rest of the walk sees.
    const name = nodePath.posix.basename(path);
    if ((IGNORE_FILE_NAMES as readonly string[]).includes(name)) {
      const dir = nodePath.posix.dirname(path);
      const changed = await ctx.reloadRules(dir === '.' ? '' : dir, name as IgnoreFileName);
      rulesChanged ||= changed;
    }
    covered.push(path);
    if (ctx.ancestorIgnoredOrMissing(path)) continue;
    await ctx.visit(path);
  }
  await ctx.drain();

  const upserted: ScanEntry[] = [];
  for (const entry of ctx.found.values()) {
    const before = previous.entries.get(entry.path);
    if (before === undefined || !sameEntry(before, entry)) upserted.push(entry);
  }
  const removed: string[] = [];
  const excluded: string[] = [];
  const coveredSet = new Set(covered);
  // Entries below a rescanned path: only a directory (or the root) has any, so a rescan of files
  // (most watcher batches) looks at those files, not at every entry of the folder. A path that is
  // neither a known file nor a file now (a directory, or gone) gets the full pass.
  const walkAll = covered.some(
    (c) => c === '' || previous.dirs.has(c) || (!previous.entries.has(c) && !ctx.found.has(c)),
  );
  const candidates = walkAll
    ? [...previous.entries.keys()].filter((path) => isCovered(path, coveredSet))
    : covered.filter((path) => previous.entries.has(path));
  for (const path of candidates) {
    if (ctx.found.has(path)) continue;
    if (ctx.excluded.has(path) || options.rules.isIgnored(path)) excluded.push(path);
    else removed.push(path);
  }
  const dirsAdded = [...ctx.foundDirs].filter((d) => !previous.dirs.has(d));
  const dirsRemoved = [...previous.dirs].filter(
    (d) => isCovered(d, coveredSet) && !ctx.foundDirs.has(d),
  );
  const result = ctx.result(new Map(), new Set());
  return {
    upserted: upserted.sort(byPath),
    removed: removed.sort(),
    excluded: excluded.sort(),
    dirsAdded: dirsAdded.sort(),
    dirsRemoved: dirsRemoved.sort(),
    symlinks: result.symlinks,
    skipped: result.skipped,
    rulesChanged,
    stats: result.stats,
  };
}

/** The snapshot after `delta` (a new object; `previous` is not changed). */
export function applyDelta(
  previous: ScanSnapshot,
  delta: ScanDelta,
  scannedAt: number,
): ScanSnapshot {
  const entries = new Map(previous.entries);
  for (const path of [...delta.removed, ...delta.excluded]) entries.delete(path);
  for (const entry of delta.upserted) entries.set(entry.path, entry);
  const dirs = new Set(previous.dirs);
  for (const dir of delta.dirsRemoved) dirs.delete(dir);
  for (const dir of delta.dirsAdded) dirs.add(dir);
  return { entries, dirs, scannedAt: Math.min(previous.scannedAt, scannedAt) };
}

/** Reads a file's content hash and kind (what the scan records), streaming large files. */
export async function hashFile(
  file: string,
  options: { readonly maxTextBytes?: number } = {},
): Promise<{ hash: string; kind: FileKind; size: number; mtimeMs: number; mode: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const stat = await handle.stat();
    const { hash, kind } = await readHashKind(handle, stat.size, options.maxTextBytes);
    return { hash, kind, size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode & 0o777 };
  } finally {
    await handle.close();
  }
}

// ---- internals ----

class ScanContext {
  readonly found = new Map<string, ScanEntry>();
  readonly foundDirs = new Set<string>();
  /** Paths seen on disk but not synced (ignored files, links, too large, special, unreadable). */
  readonly excluded = new Set<string>();
  private readonly symlinks: SkippedSymlink[] = [];
  private readonly skipped: SkippedPath[] = [];
  private readonly pending: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly idle: (() => void)[] = [];
  private firstError: unknown;
  private hashed = 0;
  private reused = 0;
  private ignored = 0;
  private done = 0;
  readonly rules: IgnoreRules;
  private readonly maxFileBytes: number;
  private readonly maxTextBytes: number;
  private readonly racyWindowMs: number;
  private readonly concurrency: number;
  private readonly startedAt: number;
  private rootReal: string | undefined;

  constructor(
    readonly root: string,
    private readonly options: ScanOptions,
  ) {
    this.rules = options.rules ?? new IgnoreRules();
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxTextBytes = options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
    this.racyWindowMs = options.racyWindowMs ?? DEFAULT_RACY_WINDOW_MS;
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.startedAt = (options.now ?? Date.now)();
  }

  result(entries: Map<string, ScanEntry>, dirs: Set<string>): ScanResult {
    return {
      entries: new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      dirs,
      scannedAt: this.startedAt,
      symlinks: [...this.symlinks].sort(byPath),
      skipped: [...this.skipped].sort(byPath),
      stats: { hashed: this.hashed, reused: this.reused, ignored: this.ignored },
      rules: this.rules,
    };
  }

  /** Walks directory `dir` ('' = root) and everything below it that is not ignored. */
  async walk(dir: string): Promise<void> {
    const stack = [dir];
    while (stack.length > 0) {
      this.checkAbort();
      const current = stack.pop() ?? '';
      const abs = this.abs(current);
      let dirents: Dirent[];
      try {
        dirents = await fs.readdir(abs, { withFileTypes: true });
      } catch (error) {
        if (isNotFound(error)) continue;
        this.skip(current, 'unreadable', error);
        continue;
      }
      const names = new Set(dirents.map((d) => d.name));
      for (const file of IGNORE_FILE_NAMES) {
        if (names.has(file)) await this.reloadRules(current, file);
        else this.rules.setRules(current, file, undefined);
      }
      dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const subdirs: string[] = [];
      for (const dirent of dirents) {
        const path = current === '' ? dirent.name : `${current}/${dirent.name}`;
        if (dirent.isDirectory()) {
          if (this.rules.isIgnored(path, true)) {
            this.ignored += 1;
            continue;
          }
          this.foundDirs.add(path);
          subdirs.push(path);
        } else {
          await this.visitEntry(path, dirent);
        }
      }
      // Depth first, in name order.
      for (let i = subdirs.length - 1; i >= 0; i -= 1) stack.push(subdirs[i] ?? '');
    }
  }

  /** Looks at one path whose ancestors are known not to be ignored. */
  async visit(path: string): Promise<void> {
    let stat: Stats;
    try {
      stat = await fs.lstat(this.abs(path));
    } catch (error) {
      if (isNotFound(error)) return;
      this.skip(path, 'unreadable', error);
      return;
    }
    if (stat.isDirectory()) {
      if (this.rules.isIgnored(path, true)) {
        this.ignored += 1;
        return;
      }
      this.foundDirs.add(path);
      await this.walk(path);
      return;
    }
    await this.visitEntry(path, stat);
  }

  ancestorIgnoredOrMissing(path: string): boolean {
    const parts = path.split('/');
    let dir = '';
    for (let i = 0; i < parts.length - 1; i += 1) {
      dir = dir === '' ? (parts[i] ?? '') : `${dir}/${parts[i] ?? ''}`;
      if (this.rules.isIgnored(dir, true)) return true;
    }
    return false;
  }

  /** Re-reads one rule file; returns whether the rules changed. */
  async reloadRules(dir: string, file: IgnoreFileName): Promise<boolean> {
    const path = dir === '' ? file : `${dir}/${file}`;
    let text: string | undefined;
    try {
      const stat = await fs.lstat(this.abs(path));
      // A rule file that is a link or too large is not read (and not synced).
      if (stat.isFile() && stat.size <= this.maxTextBytes) {
        text = await fs.readFile(this.abs(path), 'utf8');
      }
    } catch (error) {
      if (!isNotFound(error)) this.skip(path, 'unreadable', error);
    }
    return this.rules.setRules(dir, file, text);
  }

  private async visitEntry(path: string, dirent: Dirent | Stats): Promise<void> {
    if (this.rules.isIgnored(path, false)) {
      this.ignored += 1;
      this.excluded.add(path);
      return;
    }
    if (dirent.isSymbolicLink()) {
      this.excluded.add(path);
      await this.reportSymlink(path);
      return;
    }
    if (!dirent.isFile()) {
      this.excluded.add(path);
      this.skipped.push({ path, reason: 'special_file', message: 'not a regular file' });
      return;
    }
    await this.schedule(() => this.hashEntry(path));
  }

  private async hashEntry(path: string): Promise<void> {
    const abs = this.abs(path);
    let handle: fs.FileHandle;
    try {
      // No blocking on a FIFO swapped in meanwhile, no following a link swapped in.
      handle = await fs.open(abs, OPEN_FLAGS);
    } catch (error) {
      if (!isNotFound(error)) this.skip(path, 'unreadable', error);
      return;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        this.excluded.add(path);
        return; // replaced meanwhile
      }
      if (stat.size > this.maxFileBytes) {
        this.excluded.add(path);
        this.skipped.push({
          path,
          reason: 'too_large',
          message: `${stat.size} bytes, over the ${this.maxFileBytes}-byte limit`,
        });
        return;
      }
      const mode = stat.mode & 0o777;
      const before = this.options.previous?.entries.get(path);
      const previousScan = this.options.previous?.scannedAt ?? 0;
      if (
        before !== undefined &&
        before.size === stat.size &&
        before.mtimeMs === stat.mtimeMs &&
        before.mtimeMs < previousScan - this.racyWindowMs
      ) {
        this.reused += 1;
        this.add({ ...before, mode, executable: (mode & 0o100) !== 0 });
        return;
      }
      const { hash, kind } = await readHashKind(handle, stat.size, this.maxTextBytes);
      this.hashed += 1;
      this.add({
        path,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
        mode,
        executable: (mode & 0o100) !== 0,
        kind,
        hash,
      });
    } catch (error) {
      this.skip(path, 'unreadable', error);
    } finally {
      await handle.close();
    }
  }

  private add(entry: ScanEntry): void {
    this.found.set(entry.path, entry);
    this.done += 1;
    this.options.onProgress?.(this.done);
  }

  private async reportSymlink(path: string): Promise<void> {
    const abs = this.abs(path);
    let target = '';
    try {
      target = await fs.readlink(abs);
    } catch (error) {
      if (isNotFound(error)) return;
    }
    let reason: SymlinkReason;
    try {
      const real = await fs.realpath(abs);
      this.rootReal ??= await fs.realpath(this.root);
      const rel = nodePath.relative(this.rootReal, real);
      if (rel === '..' || rel.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(rel)) {
        reason = 'symlink_outside_folder';
      } else {
        const stat = await fs.stat(abs);
        reason = stat.isDirectory() ? 'symlink_to_directory' : 'symlink_to_file';
      }
    } catch {
      reason = 'symlink_dangling';
    }
    this.symlinks.push({ path, target, reason });
  }

  private skip(path: string, reason: SkipReason, error: unknown): void {
    this.excluded.add(path);
    const message = error instanceof Error ? error.message : String(error);
    this.skipped.push({ path, reason, message });
  }

  private schedule(task: () => Promise<void>): Promise<void> {
    this.pending.push(task);
    this.pump();
    // Back-pressure: keep the queue short so a huge tree does not pile up closures.
    if (this.pending.length < this.concurrency * 4) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.pending.length > 0) {
      const task = this.pending.shift();
      if (task === undefined) break;
      this.running += 1;
      task()
        .catch((error: unknown) => {
          this.firstError ??= error;
        })
        .finally(() => {
          this.running -= 1;
          this.pump();
          if (this.pending.length < this.concurrency * 4) {
            for (const resolve of this.idle.splice(0)) resolve();
          }
        });
    }
  }

  /** Waits for every scheduled file. */
  async drain(): Promise<void> {
    while (this.running > 0 || this.pending.length > 0) {
      await new Promise<void>((resolve) => this.idle.push(resolve));
      this.pump();
    }
    if (this.firstError !== undefined) {
      throw this.firstError instanceof Error
        ? this.firstError
        : new TwinspaceError('internal', describeError(this.firstError));
    }
    this.checkAbort();
  }

  private checkAbort(): void {
    if (this.options.signal?.aborted) {
      throw new TwinspaceError('closed', 'scan aborted', { cause: this.options.signal.reason });
    }
  }

  private abs(path: string): string {
    return path === '' ? this.root : nodePath.join(this.root, ...path.split('/'));
  }
}

/** Hash and kind from an open file: text candidates are read whole, the rest streamed. */
async function readHashKind(
  handle: fs.FileHandle,
  size: number,
  maxTextBytes = DEFAULT_MAX_TEXT_BYTES,
): Promise<{ hash: string; kind: FileKind }> {
  const hasher = createHash('sha256');
  if (size <= maxTextBytes) {
    // The head first: a binary (a NUL byte there) is hashed block by block, not read whole.
    const head = new Uint8Array(Math.min(SNIFF_BYTES, Math.max(size, 1)));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (sniffContent(head.subarray(0, bytesRead)) === 'maybe-text') {
      const bytes = await readAll(handle, size);
      hasher.update(bytes);
      const kind: FileKind = isTextBytes(bytes, maxTextBytes) ? 'text' : 'binary';
      return { hash: hasher.digest('hex'), kind };
    }
  }
  const buffer = new Uint8Array(READ_BLOCK);
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    hasher.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return { hash: hasher.digest('hex'), kind: 'binary' };
}

/** Reads the whole file (it may have grown or shrunk since `size` was taken). */
async function readAll(handle: fs.FileHandle, size: number): Promise<Uint8Array> {
  let buffer = new Uint8Array(Math.max(size, 1));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return buffer.subarray(0, length);
}

function sameEntry(a: ScanEntry, b: ScanEntry): boolean {
  return (
    a.hash === b.hash &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.mode === b.mode &&
    a.kind === b.kind
  );
}

/** A folder-relative path in canonical form, `undefined` if it is not one. */
function canonical(path: string): string | undefined {
  const parts = path
    .split(nodePath.sep === '\\' ? /[\\/]/ : '/')
    .filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

/** Drops paths that lie below another one of the list. */
function minimalRoots(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths)].sort();
  const out: string[] = [];
  const kept = new Set<string>();
  for (const path of sorted) {
    if (isCovered(path, kept)) continue;
    out.push(path);
    kept.add(path);
  }
  // Rule files first, so the rest of the rescan sees the new rules.
  const isRuleFile = (p: string): boolean =>
    (IGNORE_FILE_NAMES as readonly string[]).includes(nodePath.posix.basename(p));
  return [...out.filter(isRuleFile), ...out.filter((p) => !isRuleFile(p))];
}

/** Whether `path` is one of `roots` or below one ('' is the whole folder): a walk up its parents. */
function isCovered(path: string, roots: ReadonlySet<string>): boolean {
  if (roots.has('') || roots.has(path)) return true;
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    if (roots.has(path.slice(0, i))) return true;
  }
  return false;
}

function byPath(a: { readonly path: string }, b: { readonly path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

async function assertDirectory(root: string): Promise<void> {
  let stat: Stats;
  try {
    stat = await fs.stat(root);
  } catch (error) {
    throw new TwinspaceError('not_found', `folder not found: ${root}`, { cause: error });
  }
  if (!stat.isDirectory()) throw new TwinspaceError('validation', `not a folder: ${root}`);
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
