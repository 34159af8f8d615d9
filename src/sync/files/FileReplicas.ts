/**
 * The documents of a folder's text files (one Y.Doc per file, src/core/files/fileDoc.ts), loaded
 * on demand and kept in a bounded LRU; a changed document is saved under
 * `<dir>/<fileId>.ydoc` (temp file + rename) by `flush()`, before it is evicted, and at close.
 *
 * Saving skips the fsync on purpose: the document is the file's merge history, not its content
 * (the content is on disk in the folder, written by the orchestrator with fsync); a document lost
 * to a power cut is rebuilt from the file, at worst turning the next concurrent edit of that file
 * into a seed conflict (kept as a copy), never into a loss.
 *
 * Every document gets a fresh Yjs client id when it is loaded (a client id is never reused across
 * loads, for the same reason as the Engine's: a lost tail would otherwise reuse clocks).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as Y from 'yjs';
import { createFileDoc } from '../../core/files/fileDoc';
import { forEachConcurrently } from '../../runtime/forEachConcurrently';
import { validateYjsUpdate } from '../session/validateYjsUpdate';

/** The id of the file at `filePath`: its document guid suffix, stable across devices. */
export function fileIdOf(filePath: string): string {
  return createHash('sha256').update(filePath).digest('hex').slice(0, 32);
}

/** Documents saved at once by flush. */
const SAVE_CONCURRENCY = 8;
const SAVED_NAME = /^[0-9a-f]{32}\.ydoc$/;

interface Loaded {
  readonly doc: Y.Doc;
  dirty: boolean;
}

export class FileReplicas {
  private readonly loaded = new Map<string, Loaded>();
  /** Saves under way, by file id (a get waits for them before reading the saved state). */
  private readonly saving = new Map<string, Promise<void>>();

  private constructor(
    readonly dir: string,
    private readonly capacity: number,
    /** Ids with a saved state on disk (listed once at open): a new file's get reads nothing. */
    private readonly saved: Set<string>,
  ) {}

  static async open(dir: string, capacity = 256): Promise<FileReplicas> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const saved = new Set<string>();
    for (const name of await fs.readdir(dir)) {
      // Temp files of an interrupted save: the saved document before it is still in place.
      if (name.endsWith('.tmp')) await fs.rm(path.join(dir, name), { force: true });
      else if (SAVED_NAME.test(name)) saved.add(name.slice(0, -'.ydoc'.length));
    }
    return new FileReplicas(dir, capacity, saved);
  }

  /** Documents in memory now. */
  get size(): number {
    return this.loaded.size;
  }

  /** Whether a document exists (in memory, saved, or being saved). */
  has(fileId: string): boolean {
    return this.loaded.has(fileId) || this.saved.has(fileId) || this.saving.has(fileId);
  }

  /**
   * Saves `state` as the document of `fileId`, which has none yet, without building it in memory
   * (a first scan publishes thousands of files; each is loaded only when something needs it).
   */
  async create(fileId: string, state: Uint8Array): Promise<void> {
    if (this.has(fileId)) throw new Error(`file ${fileId} already has a document`);
    await this.write(fileId, state);
  }

  /** The document of `fileId`: from memory, from its saved state, or new and empty. */
  async get(fileId: string): Promise<Y.Doc> {
    const hit = this.loaded.get(fileId);
    if (hit) {
      // Most recently used last.
      this.loaded.delete(fileId);
      this.loaded.set(fileId, hit);
      return hit.doc;
    }
    // A save of this document (evicted just now) finishes before it is read back.
    await this.saving.get(fileId);
    const again = this.loaded.get(fileId);
    if (again) return again.doc;
    const doc = createFileDoc(fileId);
    const file = this.fileFor(fileId);
    const saved = this.saved.has(fileId)
      ? await fs.readFile(file).catch(() => undefined)
      : undefined;
    if (saved !== undefined) {
      try {
        Y.applyUpdate(doc, saved);
      } catch {
        // A damaged save is dropped: the file on disk is the content; the next change reseeds.
        this.saved.delete(fileId);
        await fs.rm(file, { force: true });
      }
    }
    const entry: Loaded = { doc, dirty: false };
    doc.on('update', () => {
      entry.dirty = true;
    });
    // Another caller may have loaded it while we read.
    const raced = this.loaded.get(fileId);
    if (raced) {
      doc.destroy();
      return raced.doc;
    }
    this.loaded.set(fileId, entry);
    await this.evict();
    return doc;
  }

  /**
   * What a peer at `stateVector` lacks of `fileId`'s document. A document that is only saved is
   * not loaded: Yjs computes the difference from the saved update itself, and a peer that has
   * nothing (a first sync) gets the saved update as it is. Throws on a state vector Yjs cannot
   * read.
   */
  async missingFor(fileId: string, stateVector: Uint8Array): Promise<Uint8Array> {
    const saved = await this.savedOnly(fileId);
    if (saved !== undefined) {
      try {
        if (Y.decodeStateVector(stateVector).size === 0) {
          // The same well-formedness check the peer makes (a damaged save is not sent).
          if (validateYjsUpdate(saved) !== undefined) return saved;
          throw new Error('damaged save');
        }
        return Y.diffUpdate(saved, stateVector);
      } catch {
        // A damaged save (get drops it) or a bad state vector (thrown again below).
      }
    }
    return Y.encodeStateAsUpdate(await this.get(fileId), stateVector);
  }

  /** The state vector of `fileId`'s document, read like {@link missingFor}. */
  async stateVectorOf(fileId: string): Promise<Uint8Array> {
    const saved = await this.savedOnly(fileId);
    if (saved !== undefined) {
      try {
        return Y.encodeStateVectorFromUpdate(saved);
      } catch {
        // A damaged save: get drops it.
      }
    }
    return Y.encodeStateVector(await this.get(fileId));
  }

  /** The saved state of a document that is not in memory (undefined when it is, or none). */
  private async savedOnly(fileId: string): Promise<Uint8Array | undefined> {
    if (this.loaded.has(fileId)) return undefined;
    await this.saving.get(fileId);
    if (this.loaded.has(fileId) || !this.saved.has(fileId)) return undefined;
    const saved = await fs.readFile(this.fileFor(fileId)).catch(() => undefined);
    return this.loaded.has(fileId) ? undefined : saved;
  }

  /** Saves every changed document. */
  async flush(): Promise<void> {
    const dirty = [...this.loaded].filter(([, entry]) => entry.dirty);
    // Several at once: a batch of a first sync leaves a hundred documents to save.
    await forEachConcurrently(dirty, SAVE_CONCURRENCY, ([fileId, entry]) =>
      this.save(fileId, entry),
    );
  }

  /** Forgets a file's document (deleted file): memory and saved state. */
  async remove(fileId: string): Promise<void> {
    const entry = this.loaded.get(fileId);
    this.loaded.delete(fileId);
    entry?.doc.destroy();
    await this.saving.get(fileId);
    this.saved.delete(fileId);
    await fs.rm(this.fileFor(fileId), { force: true });
  }

  async close(): Promise<void> {
    await this.flush();
    for (const entry of this.loaded.values()) entry.doc.destroy();
    this.loaded.clear();
  }

  private async evict(): Promise<void> {
    while (this.loaded.size > this.capacity) {
      const oldest = this.loaded.entries().next().value;
      if (oldest === undefined) return;
      const [fileId, entry] = oldest;
      this.loaded.delete(fileId);
      if (entry.dirty) await this.save(fileId, entry);
      entry.doc.destroy();
    }
  }

  private async save(fileId: string, entry: Loaded): Promise<void> {
    entry.dirty = false;
    await this.write(fileId, Y.encodeStateAsUpdate(entry.doc));
  }

  private async write(fileId: string, state: Uint8Array): Promise<void> {
    const file = this.fileFor(fileId);
    const temp = `${file}.${process.pid}.tmp`;
    // Saves of one document run one after the other (they share the temp name).
    const previous = this.saving.get(fileId) ?? Promise.resolve();
    const saving = previous.then(async () => {
      await fs.writeFile(temp, state);
      await fs.rename(temp, file);
      this.saved.add(fileId);
    });
    // Never rejects (the caller below gets the error): the next save and readers only wait.
    const settled: Promise<void> = saving
      .catch(() => undefined)
      .then(() => {
        if (this.saving.get(fileId) === settled) this.saving.delete(fileId);
      });
    this.saving.set(fileId, settled);
    await saving;
  }

  private fileFor(fileId: string): string {
    if (!/^[0-9a-f]{32}$/.test(fileId)) throw new Error(`bad file id ${fileId}`);
    return path.join(this.dir, `${fileId}.ydoc`);
  }
}
