import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import {
  JOURNAL_FILE,
  Journal,
  JournalCorruptError,
  parseJournal,
  readJournal,
} from '../../../../../src/sync/files/orchestrator/Journal';
import type { JournalEntry } from '../../../../../src/sync/files/orchestrator/Journal';
import { cleanupSandboxes, sandbox } from './fixtures';

const line = (seq: number, type = 'ActionStarted', extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    v: 1,
    seq,
    at: 1000 + seq,
    type,
    actionId: `r/${seq}`,
    action: { type: 'write', path: `f${seq}`, size: 1 },
    ...(type === 'ActionHalted' ? { reason: { code: 'stale', message: 'm' } } : {}),
    ...extra,
  });

const started: JournalEntry = {
  type: 'ActionStarted',
  actionId: 'run/1',
  action: { type: 'write', path: 'a.txt', size: 3 },
  temp: '.twinspace-0123456789ab.tmp',
  intendedHash: 'abc',
};

describe('Journal', () => {
  after(cleanupSandboxes);

  describe('parseJournal', () => {
    it('reads a clean journal', () => {
      const text = `${line(1)}\n${line(2, 'ActionCompleted')}\n${line(3, 'ActionHalted')}\n`;
      const read = parseJournal(text);
      assert.deepEqual(
        read.records.map((r) => [r.seq, r.type]),
        [
          [1, 'ActionStarted'],
          [2, 'ActionCompleted'],
          [3, 'ActionHalted'],
        ],
      );
      assert.equal(read.tornTail, undefined);
      assert.equal(read.validBytes, Buffer.byteLength(text));
    });

    it('an empty file is an empty journal', () => {
      assert.deepEqual(parseJournal(''), { records: [], validBytes: 0 });
    });

    it('drops a torn last line (cut short, no line end) with a warning', () => {
      const good = `${line(1)}\n${line(2, 'ActionCompleted')}\n`;
      const torn = line(3).slice(0, 25);
      const read = parseJournal(good + torn);
      assert.equal(read.records.length, 2);
      assert.deepEqual(read.tornTail, { line: 3, bytes: Buffer.byteLength(torn) });
      assert.equal(read.validBytes, Buffer.byteLength(good));
    });

    it('a complete last record without its line end is torn too', () => {
      const read = parseJournal(`${line(1)}\n${line(2)}`);
      assert.equal(read.records.length, 1);
      assert.equal(read.tornTail?.line, 2);
    });

    it('drops a garbage last line (zeros from a lost write)', () => {
      const read = parseJournal(`${line(1)}\n\u0000\u0000\u0000\u0000\n`);
      assert.equal(read.records.length, 1);
      assert.equal(read.tornTail?.line, 2);
    });

    it('corruption before the last line is a hard error naming the line', () => {
      const cases: [string, number, RegExp][] = [
        [`${line(1)}\n{"v":1,"seq":2,broken\n${line(3)}\n`, 2, /not valid JSON/],
        [`${line(1)}\n${line(1)}\n${line(3)}\n`, 2, /seq 1 does not follow 1/],
        [`${line(1)}\n${line(2, 'ActionStarted', { v: 2 })}\n${line(3)}\n`, 2, /schema version/],
        [`${line(1)}\n${line(2, 'Nonsense')}\n${line(3)}\n`, 2, /unknown event type/],
        [`\n${line(2)}\n`, 1, /not valid JSON/],
        [`${line(1)}\n${line(2, 'ActionHalted', { reason: null })}\n${line(3)}\n`, 2, /no reason/],
      ];
      for (const [text, at, message] of cases) {
        assert.throws(
          () => parseJournal(text, 'events.jsonl'),
          (e: unknown) =>
            e instanceof JournalCorruptError &&
            e.line === at &&
            e.code === 'internal' &&
            message.test(e.message) &&
            e.message.includes(`line ${at}`),
          text,
        );
      }
    });
  });

  describe('Journal file', () => {
    it('appends one durable line per record with v, seq and at', async () => {
      const box = await sandbox();
      await fs.mkdir(box.stateDir, { recursive: true });
      const clock = FakeTimers.createClock(5000);
      const { journal, read } = await Journal.open(box.stateDir, () => clock.now);
      assert.equal(read.records.length, 0);
      const r1 = await journal.append(started);
      clock.tick(7);
      const r2 = await journal.append({
        type: 'ActionCompleted',
        actionId: 'run/1',
        action: started.action,
      });
      await journal.close();
      assert.deepEqual([r1.seq, r1.at, r2.seq, r2.at], [1, 5000, 2, 5007]);
      const text = await fs.readFile(path.join(box.stateDir, JOURNAL_FILE), 'utf8');
      const lines = text.split('\n');
      assert.equal(lines.length, 3);
      assert.equal(lines[2], '');
      assert.deepEqual(JSON.parse(lines[0]!), { v: 1, seq: 1, at: 5000, ...started });
      // Reopening continues the sequence.
      const again = await Journal.open(box.stateDir, () => clock.now);
      assert.equal((await again.journal.append(started)).seq, 3);
      await again.journal.close();
      await assert.rejects(again.journal.append(started), /closed/);
    });

    it('concurrent appends share group commits: every record lands once, in seq order', async () => {
      const box = await sandbox();
      await fs.mkdir(box.stateDir, { recursive: true });
      const { journal } = await Journal.open(box.stateDir, () => 1);
      const ids = Array.from({ length: 40 }, (_, i) => `run/${i}`);
      const records = await Promise.all(
        ids.map((actionId) => journal.append({ ...started, actionId })),
      );
      // Appended in call order, one seq each.
      assert.deepEqual(
        records.map((r) => [r.seq, r.actionId]),
        ids.map((id, i) => [i + 1, id]),
      );
      // One more after the burst (the flush loop has ended) still goes out.
      assert.equal((await journal.append(started)).seq, 41);
      await journal.close();
      const read = await readJournal(path.join(box.stateDir, JOURNAL_FILE));
      assert.equal(read.tornTail, undefined);
      assert.deepEqual(
        read.records.map((r) => r.seq),
        Array.from({ length: 41 }, (_, i) => i + 1),
      );
    });

    it('open truncates a torn tail so the next record starts on a clean line', async () => {
      const box = await sandbox();
      await fs.mkdir(box.stateDir, { recursive: true });
      const file = path.join(box.stateDir, JOURNAL_FILE);
      await fs.writeFile(file, `${line(1)}\n${line(2).slice(0, 30)}`);
      const { journal, read } = await Journal.open(box.stateDir, () => 0);
      assert.equal(read.tornTail?.line, 2);
      await journal.append(started);
      await journal.close();
      const reread = await readJournal(file);
      assert.equal(reread.tornTail, undefined);
      assert.deepEqual(
        reread.records.map((r) => r.seq),
        [1, 2],
      );
    });

    it('open refuses a corrupt journal', async () => {
      const box = await sandbox();
      await fs.mkdir(box.stateDir, { recursive: true });
      await fs.writeFile(path.join(box.stateDir, JOURNAL_FILE), `${line(1)}\nxx\n${line(3)}\n`);
      await assert.rejects(
        Journal.open(box.stateDir, () => 0),
        (e: unknown) => e instanceof JournalCorruptError && e.line === 2,
      );
    });
  });
});
