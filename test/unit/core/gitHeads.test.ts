import { strict as assert } from 'node:assert';
import * as Y from 'yjs';
import { applyReportGitHead, gitMismatches, readGitHeads } from '../../../src/core/gitHeads';

const A = 'A'.repeat(32);
const B = 'B'.repeat(32);
const C = 'C'.repeat(32);
const SHA1 = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);

describe('gitHeads', () => {
  it('stores one report per device, replaced by the next, read back sorted', () => {
    const doc = new Y.Doc();
    assert.equal(
      applyReportGitHead(doc, { deviceId: B, branch: 'main', head: SHA1 }, 'x'),
      undefined,
    );
    assert.equal(
      applyReportGitHead(doc, { deviceId: A, branch: 'dev', head: SHA2 }, 'x'),
      undefined,
    );
    assert.equal(
      applyReportGitHead(doc, { deviceId: B, branch: 'main', head: SHA2 }, 'x'),
      undefined,
    );
    assert.deepEqual(readGitHeads(doc), [
      { deviceId: A, branch: 'dev', head: SHA2 },
      { deviceId: B, branch: 'main', head: SHA2 },
    ]);
  });

  it('rejects hostile reports and skips malformed values written by a peer', () => {
    const doc = new Y.Doc();
    for (const bad of [
      { deviceId: 'short', branch: 'main', head: SHA1 },
      { deviceId: A, branch: 'a\nb', head: SHA1 },
      { deviceId: A, branch: 'x'.repeat(300), head: SHA1 },
      { deviceId: A, branch: 'main', head: 'not-hex' },
      { deviceId: A, branch: 7, head: SHA1 },
    ]) {
      assert.equal(applyReportGitHead(doc, bad, 'x')?.code, 'validation', JSON.stringify(bad));
    }
    doc.getMap('devices.git').set(C, { branch: 'main', head: 42 });
    doc.getMap('devices.git').set('zz', { branch: 'main', head: SHA1 });
    assert.deepEqual(readGitHeads(doc), []);
  });

  it('a mismatch is another connected device on another branch or commit', () => {
    const heads = [
      { deviceId: A, branch: 'main', head: SHA1 },
      { deviceId: B, branch: 'feature', head: SHA1 },
      { deviceId: C, branch: 'main', head: SHA2 },
    ];
    const mine = { branch: 'main', head: SHA1 };
    assert.deepEqual(
      gitMismatches(mine, heads, new Set([A, B, C])).map((h) => h.deviceId),
      [B, C],
    );
    assert.deepEqual(gitMismatches(mine, heads, new Set([A])), []);
    assert.deepEqual(gitMismatches(undefined, heads, new Set([B])), []);
  });
});
