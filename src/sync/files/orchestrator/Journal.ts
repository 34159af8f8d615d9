/**
 * The orchestrator's journal: `events.jsonl` in the folder's Twinspace state directory (never in
 * the synced folder). Append-only, one JSON object per line, each record fsynced (fdatasync)
 * before its append resolves; records appended together share one fsync (group commit):
 *
 *   {"v":1,"seq":7,"at":1718000000000,"type":"ActionStarted","actionId":"k3f9…/4",
 *    "action":{"type":"write","path":"src/a.ts","size":120,"expectedHash":"…"},
 *    "temp":"src/.twinspace-0123456789ab.tmp","intendedHash":"…"}
 *   {"v":1,"seq":8,"at":…,"type":"ActionCompleted","actionId":"k3f9…/4","action":{…}}
 *   {"v":1,"seq":9,"at":…,"type":"ActionHalted","actionId":"k3f9…/5","action":{…},
 *    "reason":{"code":"stale","message":"…"}}
 *
 * `ActionStarted` is durable before the action touches the disk; `ActionCompleted` or
 * `ActionHalted` follows it. An action refused by validation has only an `ActionHalted`. Records
 * written by recovery carry `"recovered":true`. `seq` increases by one per record.
 *
 * Reading: the last line, if it is not a valid record (a write cut short by a crash), is a torn
 * tail: it is dropped with a warning in the result, and `Journal.open` truncates it away. An
 * invalid line anywhere before the last is corruption: a {@link JournalCorruptError} naming the
 * line, never guessed around.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { TwinspaceError } from '../../../core/errors';
import type { FileAction } from '../../../core/files/plan';
import { syncDirectory } from '../../../runtime/atomicWriteFile';

export const JOURNAL_FILE = 'events.jsonl';
export const JOURNAL_VERSION = 1;

export type JournalEventType = 'ActionStarted' | 'ActionCompleted' | 'ActionHalted';
const EVENT_TYPES: ReadonlySet<string> = new Set<JournalEventType>([
  'ActionStarted',
  'ActionCompleted',
  'ActionHalted',
]);

/** An action without its content: what the journal and the reports show. */
export interface ActionSummary {
  readonly type: FileAction['type'];
  readonly path?: string;
  readonly from?: string;
  readonly to?: string;
  readonly copyPath?: string;
  readonly size?: number;
  readonly mode?: number;
  readonly expectedHash?: string | null;
}

export interface JournalReason {
  readonly code: string;
  readonly message: string;
}

export interface JournalEntry {
  readonly type: JournalEventType;
  readonly actionId: string;
  readonly action: ActionSummary;
  readonly temp?: string;
  readonly intendedHash?: string;
  readonly reason?: JournalReason;
  readonly recovered?: true;
}

export interface JournalRecord extends JournalEntry {
  readonly v: typeof JOURNAL_VERSION;
  readonly seq: number;
  readonly at: number;
}

export interface JournalTornTail {
  /** 1-based line number of the dropped line. */
  readonly line: number;
  readonly bytes: number;
}

export interface JournalReadResult {
  readonly records: JournalRecord[];
  /** Set when a torn last line was dropped (a warning, not an error). */
  readonly tornTail?: JournalTornTail;
  /** Length in bytes of the valid prefix. */
  readonly validBytes: number;
}

export class JournalCorruptError extends TwinspaceError {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super('internal', `journal ${file} is corrupt at line ${line}: ${detail}`);
    this.name = 'JournalCorruptError';
  }
}

export function summarizeAction(action: FileAction): ActionSummary {
  switch (action.type) {
    case 'write':
      return {
        type: 'write',
        path: action.path,
        size: action.content.byteLength,
        ...(action.mode !== undefined ? { mode: action.mode } : {}),
        ...(action.expectedHash !== undefined ? { expectedHash: action.expectedHash } : {}),
      };
    case 'conflictCopy':
      return {
        type: 'conflictCopy',
        path: action.path,
        copyPath: action.copyPath,
        size: action.content.byteLength,
        ...(action.mode !== undefined ? { mode: action.mode } : {}),
      };
    case 'delete':
      return {
        type: 'delete',
        path: action.path,
        ...(action.expectedHash !== undefined ? { expectedHash: action.expectedHash } : {}),
      };
    case 'mkdir':
      return { type: 'mkdir', path: action.path };
    case 'rename':
      return {
        type: 'rename',
        from: action.from,
        to: action.to,
        ...(action.expectedHash !== undefined ? { expectedHash: action.expectedHash } : {}),
      };
  }
}

/** Why `value` is not a valid record following `prevSeq`, or undefined when it is. */
function invalidity(value: unknown, prevSeq: number): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const r = value as Record<string, unknown>;
  if (r.v !== JOURNAL_VERSION) return `unknown schema version ${JSON.stringify(r.v)}`;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq)) return 'seq is not an integer';
  if (r.seq <= prevSeq) return `seq ${r.seq} does not follow ${prevSeq}`;
  if (typeof r.at !== 'number' || !Number.isFinite(r.at)) return 'at is not a time';
  if (typeof r.type !== 'string' || !EVENT_TYPES.has(r.type)) return 'unknown event type';
  if (typeof r.actionId !== 'string' || r.actionId.length === 0) return 'actionId is missing';
  const action = r.action as Record<string, unknown> | null | undefined;
  if (typeof action !== 'object' || action === null || typeof action.type !== 'string') {
    return 'action is missing';
  }
  if (r.temp !== undefined && typeof r.temp !== 'string') return 'temp is not a string';
  if (r.intendedHash !== undefined && typeof r.intendedHash !== 'string') {
    return 'intendedHash is not a string';
  }
  if (r.type === 'ActionHalted') {
    const reason = r.reason as Record<string, unknown> | null | undefined;
    if (typeof reason !== 'object' || reason === null || typeof reason.code !== 'string') {
      return 'a halted record has no reason';
    }
  }
  return undefined;
}

/** Parses journal bytes (see the file comment for the torn-tail and corruption rules). */
export function parseJournal(data: Uint8Array | string, file = JOURNAL_FILE): JournalReadResult {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  const lines = text.split('\n');
  // The element after the last '\n' is '' for a clean file, or an unterminated fragment.
  const lastIndex = lines[lines.length - 1] === '' ? lines.length - 2 : lines.length - 1;
  const records: JournalRecord[] = [];
  let validBytes = 0;
  let prevSeq = 0;
  for (let i = 0; i <= lastIndex; i++) {
    const line = lines[i] ?? '';
    const terminated = i < lines.length - 1;
    let problem: string | undefined;
    let value: unknown;
    try {
      value = JSON.parse(line);
      problem = invalidity(value, prevSeq);
    } catch {
      problem = 'not valid JSON';
    }
    if (problem === undefined && !terminated) problem = 'no line end';
    if (problem !== undefined) {
      if (i === lastIndex) {
        return {
          records,
          tornTail: { line: i + 1, bytes: Buffer.byteLength(text) - validBytes },
          validBytes,
        };
      }
      throw new JournalCorruptError(file, i + 1, problem);
    }
    const record = value as JournalRecord;
    records.push(record);
    prevSeq = record.seq;
    validBytes += Buffer.byteLength(line) + 1;
  }
  return { records, validBytes };
}

/** Reads a journal file; a missing file is an empty journal. */
export async function readJournal(file: string): Promise<JournalReadResult> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], validBytes: 0 };
    throw error;
  }
  return parseJournal(data, file);
}

export class Journal {
  private readonly queue: {
    entry: JournalEntry;
    resolve: (record: JournalRecord) => void;
    reject: (error: Error) => void;
  }[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private failure: Error | undefined = undefined;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private seq: number,
    private readonly now: () => number,
  ) {}

  /**
   * Opens (creating) the journal in `dir`, reads it, truncates a torn tail, and positions for
   * appending. Throws {@link JournalCorruptError} on corruption before the last line.
   */
  static async open(
    dir: string,
    now: () => number,
  ): Promise<{ journal: Journal; read: JournalReadResult }> {
    const file = path.join(dir, JOURNAL_FILE);
    const read = await readJournal(file);
    const handle = await fs.open(file, 'a', 0o600);
    try {
      if (read.tornTail !== undefined) {
        await handle.truncate(read.validBytes);
        await handle.sync();
      }
      if (read.validBytes === 0) await syncDirectory(dir); // a new file: make its name durable
    } catch (error) {
      await handle.close();
      throw error;
    }
    const last = read.records[read.records.length - 1];
    return { journal: new Journal(file, handle, last?.seq ?? 0, now), read };
  }

  /**
   * Appends one record and resolves once it is durable. Records appended while an earlier write
   * is being synced go out together as one group: one write and one fdatasync cover all of them
   * (group commit), so concurrent actions do not queue behind each other's syncs. No record's
   * promise resolves before the fdatasync that covers it has returned.
   */
  append(entry: JournalEntry): Promise<JournalRecord> {
    if (this.closed) {
      return Promise.reject(new TwinspaceError('closed', `journal ${this.file} is closed`));
    }
    // After a failed write the file may end in a partial line: nothing more goes after it (the
    // next open drops that line as a torn tail).
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const appended = new Promise<JournalRecord>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
    });
    // The first write below always awaits, so `flushing` is set before flushQueue can end.
    this.flushing ??= this.flushQueue();
    return appended;
  }

  private async flushQueue(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0);
        const refusal = this.closed
          ? new TwinspaceError('closed', `journal ${this.file} is closed`)
          : this.failure;
        if (refusal !== undefined) {
          for (const waiter of group) waiter.reject(refusal);
          continue;
        }
        const records = group.map(({ entry }, i): JournalRecord => ({
          v: JOURNAL_VERSION,
          seq: this.seq + 1 + i,
          at: this.now(),
          ...entry,
        }));
        try {
          await this.handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
          await this.handle.datasync();
        } catch (error) {
          this.failure = error instanceof Error ? error : new Error(String(error));
          for (const waiter of group) waiter.reject(this.failure);
          continue;
        }
        this.seq += records.length;
        group.forEach((waiter, i) => {
          const record = records[i];
          if (record !== undefined) waiter.resolve(record);
        });
      }
    } finally {
      // Synchronously after the last look at the queue: an append from now on starts a new flush.
      this.flushing = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing;
    this.closed = true;
    await this.handle.close();
  }
}
