/**
 * What a device offers for a local folder (WorkspaceOffers): its name, its git remote read from
 * `.git/config` (no git binary needed; `origin` first, else the first remote; credentials removed
 * by normalization) and a cheap, bounded file count (skips `.git`, `node_modules`, `.twinspace`).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { normalizeGitRemote, type WorkspaceOffer } from '../../core/workspaceLinks';

export const DEFAULT_MAX_COUNTED_FILES = 100_000;
const SKIPPED_DIRS = new Set(['.git', 'node_modules', '.twinspace']);

/** The git remote URL of `folder` as written in its git config, or undefined. */
export async function readGitRemoteUrl(folder: string): Promise<string | undefined> {
  let gitDir = path.join(folder, '.git');
  const stat = await fs.stat(gitDir).catch(() => undefined);
  if (stat === undefined) return undefined;
  if (stat.isFile()) {
    // A worktree or submodule: ".git" is a file "gitdir: <path>".
    const text = await fs.readFile(gitDir, 'utf8').catch(() => '');
    const m = /^gitdir:\s*(.+)$/m.exec(text);
    if (m?.[1] === undefined) return undefined;
    gitDir = path.resolve(folder, m[1].trim());
    const common = await fs.readFile(path.join(gitDir, 'commondir'), 'utf8').catch(() => undefined);
    if (common !== undefined) gitDir = path.resolve(gitDir, common.trim());
  }
  const config = await fs.readFile(path.join(gitDir, 'config'), 'utf8').catch(() => undefined);
  return config === undefined ? undefined : remoteFromGitConfig(config);
}

/** The `url` of remote "origin" in a git config text, else of the first remote with a url. */
export function remoteFromGitConfig(config: string): string | undefined {
  let section: string | undefined;
  const urls = new Map<string, string>();
  for (const rawLine of config.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line.startsWith('#') || line.startsWith(';') || line.length === 0) continue;
    const header = /^\[\s*remote\s+"([^"]*)"\s*\]$/i.exec(line);
    if (header !== null) {
      section = header[1];
      continue;
    }
    if (line.startsWith('[')) {
      section = undefined;
      continue;
    }
    const kv = /^url\s*=\s*(.*)$/i.exec(line);
    if (section !== undefined && kv?.[1] !== undefined && !urls.has(section)) {
      urls.set(section, kv[1].replace(/^"(.*)"$/, '$1').trim());
    }
  }
  return urls.get('origin') ?? urls.values().next().value;
}

/** Counts regular files under `folder` (not following symlinks), stopping at `max`. */
export async function countFiles(folder: string, max = DEFAULT_MAX_COUNTED_FILES): Promise<number> {
  let count = 0;
  const stack = [folder];
  while (stack.length > 0 && count < max) {
    const dir = stack.pop();
    if (dir === undefined) break;
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) stack.push(path.join(dir, entry.name));
      } else if (entry.isFile()) {
        count += 1;
        if (count >= max) break;
      }
    }
  }
  return count;
}

/** The offer of `folder` under `workspaceId`. */
export async function describeFolder(
  folder: string,
  workspaceId: string,
  name = path.basename(path.resolve(folder)),
): Promise<WorkspaceOffer> {
  const remote = normalizeGitRemote(await readGitRemoteUrl(folder));
  return {
    workspaceId,
    name: truncateUtf8(name, 255),
    ...(remote !== undefined && Buffer.byteLength(remote) <= 2048 ? { gitRemote: remote } : {}),
    fileCount: await countFiles(folder),
  };
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = text;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}
