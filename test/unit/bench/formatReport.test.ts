import { strict as assert } from 'node:assert';
import { percentile, summarize, type ToolResult } from '../../../bench/files/BenchContext';
import { formatReport, judgeTargets, type BenchReport } from '../../../bench/files/formatReport';

function row(tool: string, fields: Partial<ToolResult>): ToolResult {
  return { tool, ok: true, verified: true, notes: [], ...fields };
}

const syncthing = row('syncthing', {
  initialMs: 20_000,
  change: summarize([1000, 1010, 1020], 'poll'),
  peakRssMb: { A: 90, B: 100 },
});

describe('bench: report and targets', () => {
  it('percentile takes the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 95), 95);
    assert.equal(percentile([7], 95), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('all three targets MET when Twinspace is faster, under 50 ms and smaller', () => {
    const twin = row('twinspace', {
      initialMs: 5_000,
      change: summarize([10, 12, 14], 'poll'),
      peakRssMb: { A: 60, B: 70 },
    });
    assert.deepEqual(
      judgeTargets([syncthing, twin]).map((t) => t.verdict),
      ['MET', 'MET', 'MET'],
    );
  });

  it('each target can be MISSED on its own; RSS compares the largest peer', () => {
    const twin = row('twinspace', {
      initialMs: 25_000,
      change: summarize([49, 50, 51], 'poll'),
      peakRssMb: { A: 10, B: 101 },
    });
    assert.deepEqual(
      judgeTargets([syncthing, twin]).map((t) => t.verdict),
      ['MISSED', 'MISSED', 'MISSED'],
    );
  });

  it('a failed Twinspace row misses every target; a failed Syncthing row leaves nothing to compare', () => {
    const failed = row('twinspace', { ok: false, verified: false, error: 'stalled' });
    assert.deepEqual(
      judgeTargets([syncthing, failed]).map((t) => t.verdict),
      ['MISSED', 'MISSED', 'MISSED'],
    );
    const stFailed = row('syncthing', { ok: false, verified: false });
    const twin = row('twinspace', {
      initialMs: 1,
      change: summarize([1], 'p'),
      peakRssMb: { A: 1 },
    });
    assert.deepEqual(
      judgeTargets([stFailed, twin]).map((t) => t.verdict),
      ['n/a', 'MET', 'n/a'],
    );
    assert.deepEqual(
      judgeTargets([syncthing]).map((t) => t.verdict),
      ['n/a', 'n/a', 'n/a'],
    );
  });

  it('the printed report has a row per tool, the failure text and the verdicts', () => {
    const report: BenchReport = {
      date: '2026-01-01T00:00:00.000Z',
      machine: { cpus: 2, memGiB: 24, node: 'v20' },
      fileSystem: 'ext4',
      runDir: '/tmp/x',
      networkInterfaces: ['lo'],
      workload: {
        seed: 1,
        files: 10,
        textFiles: 8,
        binaryFiles: 1,
        ignoredFiles: 10,
        textBytes: 1000,
        binaryBytes: 20_000,
        folders: 2,
        bytes: 21_014,
        digest: 'abc',
        generateMs: 5,
      },
      samples: 3,
      results: [
        row('rsync', { initialMs: 100, peakRssMb: { rsync: 7 } }),
        syncthing,
        row('twinspace', { ok: false, verified: false, error: 'stalled: 9 of 10 files' }),
      ],
    };
    const text = formatReport(report);
    assert.match(text, /\| rsync +\| 0\.10 s +\| identical/);
    assert.match(
      text,
      /\| syncthing +\| 20\.0 s +\| identical +\| 1010 ms +\| 1020 ms +\| A 90 \/ B 100 MB/,
    );
    assert.match(text, /\| twinspace +\| FAILED/);
    assert.match(text, /twinspace FAILED: stalled: 9 of 10 files/);
    assert.match(text, /initial sync faster than Syncthing +\| MISSED/);
  });
});
