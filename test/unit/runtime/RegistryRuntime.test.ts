import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../../../src/core/errors';
import type { DiagnosticEvent } from '../../../src/runtime/Diagnostics';
import { RegistryRuntime } from '../../../src/runtime/RegistryRuntime';

function waitFor(predicate: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (predicate()) resolve();
      else if (Date.now() > until) reject(new Error('timed out'));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe('RegistryRuntime', () => {
  it('starts the memory monitor, applies intents, and shuts down leaving nothing open', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-rt-'));
    const events: DiagnosticEvent[] = [];
    const rt = await RegistryRuntime.start({ stateDir: dir, sinks: [(e) => events.push(e)] });
    await waitFor(() => rt.snapshot().workers['memory-monitor']?.status === 'running');
    await rt.dispatch(
      { type: 'VisitNode', nodeId: 'a.ts', kind: 'file', label: 'a.ts' },
      'LocalUI',
    );
    await waitFor(() => rt.snapshot().replica.graphNodes === 1);
    assert.ok(rt.openResources().includes('worker:memory-monitor'));
    const report = await rt.shutdown(1000);
    assert.deepEqual(report.timedOut, []);
    assert.deepEqual(report.leftover, []);
    assert.deepEqual(rt.openResources(), []);
    assert.equal(rt.isShutDown(), true);
    assert.ok(events.some((e) => e.channel === 'control_panel.started'));
    assert.ok(events.some((e) => e.channel === 'control_panel.shutdown'));
  });

  it('a second runtime on the same state folder fails fast as busy; state survives a restart', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-rt-'));
    const first = await RegistryRuntime.start({ stateDir: dir, memoryMonitor: false });
    await assert.rejects(
      RegistryRuntime.start({ stateDir: dir }),
      (e: unknown) => e instanceof TwinspaceError && e.code === 'busy',
    );
    await first.dispatch(
      { type: 'VisitNode', nodeId: 'b.ts', kind: 'file', label: 'b.ts' },
      'LocalUI',
    );
    await first.shutdown(1000);
    const second = await RegistryRuntime.start({ stateDir: dir });
    try {
      assert.equal(second.snapshot().replica.graphNodes, 1);
      // Worker health from the previous run is not presented as live.
      await waitFor(() => second.snapshot().workers['memory-monitor']?.status === 'running');
    } finally {
      await second.shutdown(1000);
    }
  });
});
