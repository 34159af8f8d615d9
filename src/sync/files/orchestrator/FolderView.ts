/**
 * The synced folder as the executors see it: absolute paths from plan paths, entries by `lstat`
 * (never following a symbolic link), and the symlink-aware containment check.
 *
 * Containment: before an action touches `a/b/c`, every directory on the way (`a`, `a/b`) is
 * looked at with `lstat`. A symbolic link there is refused: 'outside_folder' when it resolves
 * outside the folder's real path, 'symlink' otherwise (we neither write through nor replace
 * links). Finally the parent's `realpath` must lie inside the folder's real path (this also
 * catches a folder moved or remounted under us). A check-then-act window remains (Node has no
 * openat): a local process that swaps a directory for a link between the check and the write can
 * still redirect one write; the paths in the plan themselves never can.
 *
 * Symbolic links as entries (policy): a link is never followed, written through, replaced or
 * deleted by the orchestrator. An action whose target is a link halts with 'symlink', and the
 * reason is reported. (Syncing a link as a link when its target stays inside is future work.)
 */
import { promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { ancestorPaths, parentPath } from '../../../core/files/pathSafety';
import type { ExecutionHaltCode } from '../../../core/files/plan';
import type { HashFunction } from './contentHash';

export type DiskEntry =
  | { readonly kind: 'absent' }
  | { readonly kind: 'file'; readonly stat: Stats }
  | { readonly kind: 'dir'; readonly stat: Stats }
  | { readonly kind: 'symlink' }
  | { readonly kind: 'other' };

export interface Halt {
  readonly code: ExecutionHaltCode;
  readonly message: string;
}

export class FolderView {
  constructor(
    /** The folder's real path (`fs.realpath`). */
    readonly folderReal: string,
    readonly hash: HashFunction,
  ) {}

  /** Absolute path of a canonical plan path. */
  abs(rel: string): string {
    return rel === '' ? this.folderReal : path.join(this.folderReal, ...rel.split('/'));
  }

  async entry(rel: string): Promise<DiskEntry> {
    let stat: Stats;
    try {
      stat = await fs.lstat(this.abs(rel));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
      throw error;
    }
    if (stat.isSymbolicLink()) return { kind: 'symlink' };
    if (stat.isFile()) return { kind: 'file', stat };
    if (stat.isDirectory()) return { kind: 'dir', stat };
    return { kind: 'other' };
  }

  /** Hash of the regular file at `rel`, or undefined when there is none. */
  async fileHash(rel: string): Promise<string | undefined> {
    const entry = await this.entry(rel);
    if (entry.kind !== 'file') return undefined;
    try {
      return this.hash(await fs.readFile(this.abs(rel)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Checks the directories leading to `rel` (not `rel` itself): each exists, is a directory, is
   * not a symbolic link, and the parent's real path is inside the folder. Returns why not.
   * `assumeDir(dir)` lets a dry run treat a directory it would have created as present.
   */
  async checkParents(
    rel: string,
    assumeDir: (dir: string) => boolean = () => false,
  ): Promise<Halt | undefined> {
    // Lexically first, in this platform's own path semantics (defence in depth: plans are
    // validated before they get here, but an executor must not trust that).
    const lexical = path.relative(this.folderReal, this.abs(rel));
    if (rel === '' || !this.contains(this.abs(rel)) || lexical === '') {
      return {
        code: 'outside_folder',
        message: `${JSON.stringify(rel)} is not a path inside the folder`,
      };
    }
    // Fast path, one system call: a parent whose real path is its own path has no link on the
    // way and exists as a directory. Otherwise the walk below finds the exact reason.
    const parentAbs = this.abs(parentPath(rel));
    if ((await fs.realpath(parentAbs).catch(() => undefined)) === parentAbs) return undefined;
    for (const dir of ancestorPaths(rel)) {
      const entry = await this.entry(dir);
      if (entry.kind === 'dir') continue;
      if (entry.kind === 'symlink') return this.linkHalt(dir);
      if (entry.kind === 'absent') {
        if (assumeDir(dir)) return undefined; // everything below it would be new too
        return { code: 'parent_missing', message: `directory ${dir} does not exist` };
      }
      return { code: 'not_directory', message: `${dir} is not a directory` };
    }
    let real: string;
    try {
      real = await fs.realpath(parentAbs);
    } catch (error) {
      return {
        code: 'parent_missing',
        message: `cannot resolve ${parentPath(rel) || '.'}: ${(error as Error).message}`,
      };
    }
    if (!this.contains(real)) {
      return {
        code: 'outside_folder',
        message: `${parentPath(rel) || '.'} resolves to ${real}, outside the folder`,
      };
    }
    return undefined;
  }

  /** True when the absolute real path `real` is the folder or inside it. */
  contains(real: string): boolean {
    const relative = path.relative(this.folderReal, real);
    return (
      relative === '' ||
      (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative))
    );
  }

  private async linkHalt(dir: string): Promise<Halt> {
    let real: string | undefined;
    try {
      real = await fs.realpath(this.abs(dir));
    } catch {
      real = undefined; // dangling link: refuse it as a link
    }
    if (real !== undefined && !this.contains(real)) {
      return {
        code: 'outside_folder',
        message: `${dir} is a symbolic link to ${real}, outside the folder: not written through`,
      };
    }
    return {
      code: 'symlink',
      message: `${dir} is a symbolic link: links are not followed (skipped)`,
    };
  }
}
