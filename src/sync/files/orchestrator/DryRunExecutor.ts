/**
 * The dry-run executor: reads the folder and says, for each action, what it would do or why it
 * would halt, and changes nothing (no file, no directory, no journal, no lock). It keeps an
 * overlay of the actions it has "run", so a write into a directory the plan creates earlier, or a
 * delete of a file the plan renamed, is judged against the folder as it would be by then.
 */
import { promises as fs } from 'node:fs';
import { isSameOrInside, parentPath } from '../../../core/files/pathSafety';
import type { ExecutionHaltCode, FileAction } from '../../../core/files/plan';
import { describeError } from '../../../core/errors';
import type { ActionExecutor, ActionOutcome, PreparedAction } from './ActionExecutor';
import type { FolderView } from './FolderView';

type Virtual =
  { readonly kind: 'file'; readonly hash: string } | { readonly kind: 'dir' } | 'absent';

function halted(code: ExecutionHaltCode, message: string): ActionOutcome {
  return { status: 'halted', code, message };
}

function would(message: string): ActionOutcome {
  return { status: 'would_apply', message };
}

export class DryRunExecutor implements ActionExecutor {
  readonly wet = false;
  private readonly overlay = new Map<string, Virtual>();

  constructor(private readonly view: FolderView) {}

  prepare(_action: FileAction): PreparedAction {
    return {};
  }

  async execute(action: FileAction, _prepared: PreparedAction): Promise<ActionOutcome> {
    try {
      return await this.judge(action);
    } catch (error) {
      return halted('io_error', describeError(error));
    }
  }

  private async judge(action: FileAction): Promise<ActionOutcome> {
    switch (action.type) {
      case 'write':
      case 'conflictCopy': {
        const target = action.type === 'write' ? action.path : action.copyPath;
        const parent = await this.checkParents(target);
        if (parent !== undefined) return parent;
        const entry = await this.lookup(target);
        if (entry.kind === 'symlink') return halted('symlink', `${target} is a symbolic link`);
        if (entry.kind === 'dir') return halted('is_directory', `${target} is a directory`);
        if (entry.kind === 'other')
          return halted('not_regular_file', `${target} is not a regular file`);
        const expected = action.type === 'write' ? action.expectedHash : null;
        if (expected === null && entry.kind === 'file') {
          return action.type === 'conflictCopy'
            ? halted('target_exists', `${target} already exists`)
            : halted('stale', `${target} was created here since the plan was made`);
        }
        if (typeof expected === 'string' && (entry.kind !== 'file' || entry.hash !== expected)) {
          return halted('stale', `${target} changed here since the plan was made`);
        }
        this.overlay.set(target, { kind: 'file', hash: this.view.hash(action.content) });
        const verb =
          action.type === 'conflictCopy'
            ? 'keep the other version as'
            : entry.kind === 'file'
              ? 'update'
              : 'create';
        return would(`would ${verb} ${target} (${action.content.byteLength} bytes)`);
      }
      case 'delete': {
        const parent = await this.checkParents(action.path);
        if (parent !== undefined) return parent;
        const entry = await this.lookup(action.path);
        if (entry.kind === 'absent') return would(`${action.path} is already absent`);
        if (entry.kind === 'symlink') return halted('symlink', `${action.path} is a symbolic link`);
        if (entry.kind === 'other')
          return halted('not_regular_file', `${action.path} is not a regular file`);
        if (entry.kind === 'dir') {
          if (!(await this.isEmptyDir(action.path))) {
            return halted('not_empty', `${action.path} is not empty: kept`);
          }
        } else if (action.expectedHash !== undefined && entry.hash !== action.expectedHash) {
          return halted('stale', `${action.path} changed here since the plan was made: kept`);
        }
        this.overlay.set(action.path, 'absent');
        return would(`would delete ${action.path}`);
      }
      case 'mkdir': {
        const parent = await this.checkParents(action.path);
        if (parent !== undefined) return parent;
        const entry = await this.lookup(action.path);
        if (entry.kind === 'dir') return would(`${action.path} already exists`);
        if (entry.kind === 'symlink') return halted('symlink', `${action.path} is a symbolic link`);
        if (entry.kind !== 'absent')
          return halted('not_directory', `${action.path} is not a directory`);
        this.overlay.set(action.path, { kind: 'dir' });
        return would(`would create directory ${action.path}`);
      }
      case 'rename': {
        for (const p of [action.from, action.to]) {
          const parent = await this.checkParents(p);
          if (parent !== undefined) return parent;
        }
        const source = await this.lookup(action.from);
        if (source.kind === 'absent')
          return halted('stale', `${action.from} no longer exists here`);
        if (source.kind === 'symlink')
          return halted('symlink', `${action.from} is a symbolic link`);
        if (source.kind === 'other')
          return halted('not_regular_file', `${action.from} is not a regular file`);
        if (
          source.kind === 'file' &&
          action.expectedHash !== undefined &&
          source.hash !== action.expectedHash
        ) {
          return halted('stale', `${action.from} changed here since the plan was made`);
        }
        const target = await this.lookup(action.to);
        if (target.kind !== 'absent' && action.from.toLowerCase() !== action.to.toLowerCase()) {
          return halted('target_exists', `${action.to} already exists: nothing moved`);
        }
        this.overlay.set(action.from, 'absent');
        this.overlay.set(
          action.to,
          source.kind === 'file' ? { kind: 'file', hash: source.hash } : { kind: 'dir' },
        );
        return would(`would rename ${action.from} to ${action.to}`);
      }
    }
  }

  private async checkParents(rel: string): Promise<ActionOutcome | undefined> {
    // A directory this dry run "removed" or "created" decides first.
    for (let dir = parentPath(rel); dir !== ''; dir = parentPath(dir)) {
      const v = this.overlay.get(dir);
      if (v === 'absent') return halted('parent_missing', `directory ${dir} would not exist`);
      if (v !== undefined && v.kind === 'file')
        return halted('not_directory', `${dir} would be a file`);
    }
    const halt = await this.view.checkParents(rel, (dir) => this.overlay.get(dir) !== undefined);
    return halt === undefined ? undefined : halted(halt.code, halt.message);
  }

  private async lookup(
    rel: string,
  ): Promise<
    | { kind: 'absent' }
    | { kind: 'file'; hash: string }
    | { kind: 'dir' }
    | { kind: 'symlink' }
    | { kind: 'other' }
  > {
    const v = this.overlay.get(rel);
    if (v === 'absent') return { kind: 'absent' };
    if (v !== undefined) return v;
    for (const [path, value] of this.overlay) {
      // Under a directory renamed away or deleted in this run: gone.
      if (value === 'absent' && isSameOrInside(path, rel)) return { kind: 'absent' };
    }
    const entry = await this.view.entry(rel);
    if (entry.kind === 'file') return { kind: 'file', hash: (await this.view.fileHash(rel)) ?? '' };
    return entry.kind === 'dir' ? { kind: 'dir' } : entry;
  }

  private async isEmptyDir(rel: string): Promise<boolean> {
    let names: string[];
    try {
      names = await fs.readdir(this.view.abs(rel));
    } catch {
      names = [];
    }
    const prefix = `${rel}/`;
    const remaining = new Set(names.map((n) => prefix + n));
    for (const [path, value] of this.overlay) {
      if (parentPath(path) !== rel) continue;
      if (value === 'absent') remaining.delete(path);
      else remaining.add(path);
    }
    return remaining.size === 0;
  }
}
