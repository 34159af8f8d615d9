import { strict as assert } from 'node:assert';
import * as fc from 'fast-check';
import { conflictCopyPath } from '../../../../../src/core/files/plan';
import {
  compareVersions,
  resolveBinaryConflict,
  type BinaryVersion,
} from '../../../../../src/sync/files/blobs/resolveBinaryConflict';

function version(
  deviceId: string,
  hash: string,
  mtimeMs: number,
  deviceShortId = deviceId.slice(0, 4),
): BinaryVersion {
  return { deviceId, deviceShortId, hash, size: 10, mtimeMs };
}

describe('resolveBinaryConflict', () => {
  it('the later change wins; the loser becomes the copy, named by its device and time', () => {
    const mine = version('aaaa-device', 'h1', 2000);
    const theirs = version('bbbb-device', 'h2', 1000);
    const decision = resolveBinaryConflict(mine, theirs);
    assert.deepEqual(decision, {
      kind: 'conflict',
      winner: mine,
      loser: theirs,
      copy: { deviceShortId: 'bbbb', at: 1000 },
    });
    assert.deepEqual(resolveBinaryConflict(theirs, mine), decision);
  });

  it('a tie in time goes to the higher device id, then to the higher hash', () => {
    const a = version('device-a', 'h1', 5000);
    const b = version('device-b', 'h2', 5000);
    const byDevice = resolveBinaryConflict(a, b);
    assert.equal(byDevice.kind === 'conflict' && byDevice.winner, b);
    const c = version('device-a', 'h9', 5000);
    const byHash = resolveBinaryConflict(a, c);
    assert.equal(byHash.kind === 'conflict' && byHash.winner, c);
  });

  it('the same content is no conflict', () => {
    const a = version('device-a', 'same', 1);
    const b = version('device-b', 'same', 2);
    assert.deepEqual(resolveBinaryConflict(a, b), { kind: 'same', version: b });
    assert.deepEqual(resolveBinaryConflict(b, a), { kind: 'same', version: b });
  });

  it('a non-finite time compares as 0 on both sides', () => {
    const a = version('device-a', 'h1', Number.NaN);
    const b = version('device-b', 'h2', 0);
    assert.deepEqual(resolveBinaryConflict(a, b), resolveBinaryConflict(b, a));
  });

  it('property: both devices decide the same, and exactly one copy keeps the other version', () => {
    const versionArb = fc
      .record({
        deviceId: fc.constantFrom('device-1', 'device-2', 'device-3'),
        hash: fc.constantFrom('h1', 'h2', 'h3'),
        mtimeMs: fc.oneof(fc.constantFrom(0, 1000, Number.NaN), fc.nat(3000)),
      })
      .map(({ deviceId, hash, mtimeMs }) => version(deviceId, hash, mtimeMs, deviceId.slice(-1)));
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        const onA = resolveBinaryConflict(a, b);
        const onB = resolveBinaryConflict(b, a);
        assert.deepEqual(onA, onB);
        assert.equal(Math.sign(compareVersions(a, b)) + Math.sign(compareVersions(b, a)), 0);
        if (onA.kind === 'conflict') {
          assert.notEqual(onA.winner.hash, onA.loser.hash);
          assert.deepEqual([onA.winner.hash, onA.loser.hash].sort(), [a.hash, b.hash].sort());
          // Both devices name the copy the same way.
          const nameA = conflictCopyPath('img/logo.png', onA.copy.deviceShortId, onA.copy.at);
          const nameB = conflictCopyPath(
            'img/logo.png',
            onB.kind === 'conflict' ? onB.copy.deviceShortId : '',
            onB.kind === 'conflict' ? onB.copy.at : 0,
          );
          assert.equal(nameA, nameB);
          assert.notEqual(nameA, 'img/logo.png');
        } else {
          assert.equal(a.hash, b.hash);
        }
      }),
      { seed: 0xc0f1, numRuns: 300 },
    );
  });
});
