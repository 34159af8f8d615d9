import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../../../src/core/errors';
import { StateDirLock } from '../../../src/runtime/StateDirLock';

describe('StateDirLock', () => {
  it('a second acquire while held fails fast as busy', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-lock-'));
    // A live foreign owner: our parent process.
    writeFileSync(path.join(dir, 'lock'), `${process.ppid}\n`);
    await assert.rejects(
      StateDirLock.acquire(dir),
      (e: unknown) => e instanceof TwinspaceError && e.code === 'busy',
    );
  });

  it('takes over a lock left by a dead process', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tw-lock-'));
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    writeFileSync(path.join(dir, 'lock'), `${deadPid}\n`);
    const lock = await StateDirLock.acquire(dir);
    assert.equal(readFileSync(lock.file, 'utf8').trim(), String(process.pid));
    await lock.release();
    assert.equal(existsSync(lock.file), false);
  });
});
