/**
 * The VS Code host harness's pass/fail rules (scripts/vscode-host/judgeHostRun.ts): a host-test run
 * passes only when the runner finished, ran tests, all passed and the host exited 0.
 */
import * as assert from 'node:assert/strict';
import type { HostResults } from '../../host/runner/results';
import {
  checkCanary,
  judgeHostRun,
  summaryLine,
  type HostRunVerdict,
} from '../../../scripts/vscode-host/judgeHostRun';

function results(over: Partial<HostResults> = {}): HostResults {
  return {
    suite: '/s',
    files: ['a.test.js'],
    started: '2026-01-01T00:00:00.000Z',
    finished: '2026-01-01T00:00:01.000Z',
    complete: true,
    node: 'v24.21.0',
    vscode: '1.139.1',
    pid: 1,
    passed: [{ title: 'a works' }],
    failed: [],
    pending: [],
    ...over,
  };
}
const exited = (code: number) => ({ kind: 'exited', code }) as const;

describe('harness verdict: judgeHostRun', () => {
  it('passes a finished run with passing tests and exit code 0', () => {
    const v = judgeHostRun(exited(0), results());
    assert.equal(v.ok, true);
    assert.equal(v.reason, '1 passed');
  });

  it('fails when a test failed, whatever the exit code says', () => {
    const r = results({ failed: [{ title: 'b breaks', error: 'boom' }] });
    for (const code of [0, 1]) {
      const v = judgeHostRun(exited(code), r);
      assert.equal(v.ok, false);
      assert.equal(v.reason, '1 of 2 failed');
      assert.deepEqual(
        v.failed.map((t) => t.title),
        ['b breaks'],
      );
    }
  });

  it('fails a run in which zero tests ran', () => {
    const v = judgeHostRun(exited(0), results({ passed: [] }));
    assert.equal(v.ok, false);
    assert.equal(v.reason, 'zero tests ran');
  });

  it('fails when all tests passed but the extension host exited non-zero', () => {
    const v = judgeHostRun(exited(1), results());
    assert.equal(v.ok, false);
    assert.match(v.reason, /exited 1/);
  });

  it('fails when there is no results file (the runner never started)', () => {
    const v = judgeHostRun(exited(0), undefined);
    assert.equal(v.ok, false);
    assert.match(v.reason, /no results file/);
  });

  it('fails when the runner did not finish', () => {
    const v = judgeHostRun(exited(0), results({ complete: false }));
    assert.equal(v.ok, false);
    assert.match(v.reason, /did not finish/);
  });

  it('fails on a timeout, saying how far the run got', () => {
    const none = judgeHostRun({ kind: 'timeout', afterMs: 5000 }, undefined);
    assert.equal(none.ok, false);
    assert.match(none.reason, /timed out after 5000 ms before the test runner started/);
    const some = judgeHostRun({ kind: 'timeout', afterMs: 7000 }, results({ complete: false }));
    assert.match(some.reason, /after 1 finished tests \(hang\)/);
  });

  it('fails on a crash', () => {
    const v = judgeHostRun({ kind: 'crashed', error: 'page crashed' }, results());
    assert.equal(v.ok, false);
    assert.match(v.reason, /crashed/);
  });
});

describe('harness verdict: checkCanary', () => {
  const failing: HostRunVerdict = judgeHostRun(
    exited(1),
    results({ passed: [{ title: 'p' }], failed: [{ title: 'f', error: 'x' }] }),
  );

  it('accepts the expected failure', () => {
    assert.equal(
      checkCanary(failing, { reason: /^1 of 2 failed$/, passed: ['p'], failed: ['f'] }),
      undefined,
    );
  });

  it('rejects a canary the harness reported as passing', () => {
    const problem = checkCanary(judgeHostRun(exited(0), results()), { reason: /./ });
    assert.match(problem ?? '', /reported success/);
  });

  it('rejects a failure for another reason', () => {
    const problem = checkCanary(failing, { reason: /zero tests ran/ });
    assert.match(problem ?? '', /wrong reason/);
  });

  it('rejects other failed or passed tests than expected', () => {
    assert.match(
      checkCanary(failing, { reason: /failed/, failed: ['g'] }) ?? '',
      /failed tests \["f"\]/,
    );
    assert.match(
      checkCanary(failing, { reason: /failed/, passed: [] }) ?? '',
      /passed tests \["p"\]/,
    );
  });
});

describe('harness verdict: summaryLine', () => {
  it('is exactly "N passed, N failed"', () => {
    assert.equal(summaryLine(3, 0), '3 passed, 0 failed');
    assert.match(summaryLine(12, 1), /^(\d+) passed, (\d+) failed$/);
  });
});
