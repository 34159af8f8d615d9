/**
 * Reads the branch and HEAD of the git work tree at a folder straight from `.git` (no git
 * binary): `.git` as a directory or as a `gitdir:` file (worktrees, submodules), a symbolic HEAD
 * resolved through a loose ref or `packed-refs`. Undefined when the folder is not a work tree or
 * the files cannot be read.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { GitHead } from '../../core/files/fileSyncStatus';

const OBJECT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

async function gitDirOf(folder: string): Promise<string | undefined> {
  const dotGit = path.join(folder, '.git');
  const stat = await fs.stat(dotGit).catch(() => undefined);
  if (stat?.isDirectory()) return dotGit;
  if (!stat?.isFile()) return undefined;
  const text = await fs.readFile(dotGit, 'utf8').catch(() => '');
  const match = /^gitdir:\s*(.+)\s*$/m.exec(text);
  return match?.[1] !== undefined ? path.resolve(folder, match[1].trim()) : undefined;
}

async function resolveRef(gitDir: string, ref: string): Promise<string> {
  // Linked worktrees keep refs in the common dir.
  const common = (await fs.readFile(path.join(gitDir, 'commondir'), 'utf8').catch(() => '')).trim();
  const dirs = common === '' ? [gitDir] : [gitDir, path.resolve(gitDir, common)];
  for (const dir of dirs) {
    const loose = (await fs.readFile(path.join(dir, ref), 'utf8').catch(() => '')).trim();
    if (OBJECT_ID.test(loose)) return loose;
    const packed = await fs.readFile(path.join(dir, 'packed-refs'), 'utf8').catch(() => '');
    for (const line of packed.split('\n')) {
      const [id, name] = line.trim().split(' ');
      if (name === ref && id !== undefined && OBJECT_ID.test(id)) return id;
    }
  }
  return ''; // an unborn branch (no commit yet)
}

export async function readGitHead(folder: string): Promise<GitHead | undefined> {
  const gitDir = await gitDirOf(folder);
  if (gitDir === undefined) return undefined;
  const head = (
    await fs.readFile(path.join(gitDir, 'HEAD'), 'utf8').catch(() => undefined)
  )?.trim();
  if (head === undefined) return undefined;
  if (OBJECT_ID.test(head)) return { branch: '', head }; // detached
  const match = /^ref:\s*(refs\/\S+)$/.exec(head);
  if (!match?.[1]) return undefined;
  const ref = match[1];
  return {
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref,
    head: await resolveRef(gitDir, ref),
  };
}
