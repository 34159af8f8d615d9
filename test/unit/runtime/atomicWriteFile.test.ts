import { strict as assert } from 'node:assert';
import {
  promises as fsp,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  atomicWriteFile,
  removeStaleTempFiles,
  tempFileName,
} from '../../../src/runtime/atomicWriteFile';

function dir(): string {
  return mkdtempSync(path.join(tmpdir(), 'tw-atomic-'));
}

describe('atomicWriteFile', () => {
  it('replaces the file whole and leaves nothing else behind', async () => {
    const d = dir();
    const file = path.join(d, 'f.json');
    await atomicWriteFile(file, 'one');
    await atomicWriteFile(file, 'two');
    assert.equal(readFileSync(file, 'utf8'), 'two');
    assert.deepEqual(readdirSync(d), ['f.json']);
  });

  it('a write that fails before the rename removes its temp file', async () => {
    const d = dir();
    const file = path.join(d, 'f.json');
    mkdirSync(file); // renaming a file over a directory fails
    await assert.rejects(atomicWriteFile(file, 'x'));
    assert.deepEqual(readdirSync(d), ['f.json']);
  });

  it('a crash between writing the temp file and the rename keeps the old content', async () => {
    const d = dir();
    const file = path.join(d, 'f.json');
    await atomicWriteFile(file, '{"old":true}');
    const rename = fsp.rename;
    let tempSeen = '';
    fsp.rename = (from) => {
      tempSeen = readFileSync(from, 'utf8');
      return Promise.reject(new Error('simulated crash before rename'));
    };
    try {
      await assert.rejects(atomicWriteFile(file, '{"new":true}'), /simulated crash/);
    } finally {
      fsp.rename = rename;
    }
    assert.equal(tempSeen, '{"new":true}', 'the new content was fully in the temp file');
    assert.equal(readFileSync(file, 'utf8'), '{"old":true}');
  });

  it('removes only stale temp files of the same target', async () => {
    const d = dir();
    const file = path.join(d, 'f.json');
    writeFileSync(file, 'keep');
    const stale = tempFileName(file);
    const fresh = tempFileName(file);
    const other = path.join(d, '.g.json.0123456789ab.tmp');
    const lookalike = path.join(d, '.f.json.backup.tmp');
    for (const f of [stale, fresh, other, lookalike]) writeFileSync(f, 'partial');
    const old = new Date(Date.now() - 3_600_000);
    for (const f of [stale, other, lookalike]) utimesSync(f, old, old);

    const removed = await removeStaleTempFiles(file, 60_000);
    assert.deepEqual(removed, [path.basename(stale)]);
    assert.deepEqual(
      readdirSync(d).sort(),
      [path.basename(fresh), path.basename(other), path.basename(lookalike), 'f.json'].sort(),
    );
    assert.equal(readFileSync(file, 'utf8'), 'keep');
  });
});
