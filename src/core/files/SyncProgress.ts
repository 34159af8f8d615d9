import type { FileEntry } from '../workspaceDoc';

/**
 * Which files of the replicated index this device still lacks, kept up to date path by path, so
 * that "syncing N%", "in sync" and the retry pass cost O(1) and O(missing) instead of a walk over
 * the whole index every time they are asked (a 10,000-file folder asked four times a second).
 *
 * A file counts when its index entry is a file (not a folder), not deleted, and not ignored here;
 * it is missing while this device's content hash differs from the entry's.
 */
export class SyncProgress {
  private readonly counted = new Set<string>();
  private readonly missing = new Set<string>();

  /** Records what is known now of `path`: its index entry, the hash this device has, the rules. */
  update(
    path: string,
    entry: FileEntry | undefined,
    localHash: string | undefined,
    ignored: boolean,
  ): void {
    const counts =
      entry !== undefined && entry.deleted !== true && entry.kind !== 'dir' && !ignored;
    if (!counts) {
      this.counted.delete(path);
      this.missing.delete(path);
      return;
    }
    this.counted.add(path);
    if (localHash === entry.hash) this.missing.delete(path);
    else this.missing.add(path);
  }

  /** Forgets everything (before a full pass, when the ignore rules changed). */
  clear(): void {
    this.counted.clear();
    this.missing.clear();
  }

  /** Files of the index that count. */
  get files(): number {
    return this.counted.size;
  }

  /** Files this device still lacks. */
  get pending(): number {
    return this.missing.size;
  }

  /** 0..100, rounded down (100 for an empty index). */
  get percent(): number {
    const files = this.counted.size;
    return files === 0 ? 100 : Math.floor(((files - this.missing.size) * 100) / files);
  }

  /** The paths still missing (a snapshot: safe to update while iterating it). */
  missingPaths(): string[] {
    return [...this.missing];
  }
}
