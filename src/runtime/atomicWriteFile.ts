/**
 * Crash-safe replacement of a small file: write a temp file in the same folder, fsync it, rename it
 * over the target, then fsync the folder so the rename itself is durable. A crash at any point
 * leaves either the old content or the new one under the target name, never a torn file; at worst
 * a stray temp file stays behind (see {@link removeStaleTempFiles}).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface AtomicWriteOptions {
  /** Permissions of the new file (default 0o600). */
  readonly mode?: number;
}

/** The temp name used for `file`: hidden, in the same folder, unique per write. */
export function tempFileName(file: string): string {
  const dir = path.dirname(file);
  return path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}

function isTempFileOf(file: string, candidate: string): boolean {
  const prefix = `.${path.basename(file)}.`;
  return (
    candidate.startsWith(prefix) &&
    candidate.endsWith('.tmp') &&
    /^[0-9a-f]{12}$/.test(candidate.slice(prefix.length, -'.tmp'.length))
  );
}

export async function atomicWriteFile(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = path.dirname(file);
  const temp = tempFileName(file);
  let renamed = false;
  try {
    const handle = await fs.open(temp, 'wx', options.mode ?? 0o600);
    try {
      if (options.mode !== undefined) await handle.chmod(options.mode); // umask or ACLs may differ
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
    renamed = true;
  } finally {
    if (!renamed) await fs.rm(temp, { force: true }).catch(() => undefined);
  }
  await syncDirectory(dir);
}

/** fsync of a folder, so that a rename in it survives a power loss. A no-op where unsupported. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Windows cannot open or fsync a directory; some file systems refuse it. The rename is still
    // atomic there, only its durability across a power loss is up to the OS.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') {
      throw error;
    }
  } finally {
    await handle?.close();
  }
}

/**
 * Removes temp files that an interrupted {@link atomicWriteFile} of `file` left behind, if they are
 * older than `olderThanMs` (a younger one may belong to a write still in progress). Best effort:
 * errors are ignored. Returns the names removed.
 */
export async function removeStaleTempFiles(
  file: string,
  olderThanMs: number,
  now: number = Date.now(),
): Promise<string[]> {
  const dir = path.dirname(file);
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!isTempFileOf(file, name)) continue;
    const full = path.join(dir, name);
    try {
      const stat = await fs.stat(full);
      if (now - stat.mtimeMs < olderThanMs) continue;
      await fs.rm(full, { force: true });
      removed.push(name);
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
  return removed;
}
