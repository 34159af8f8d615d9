/**
 * Bounded fuzz of the network decoders (the script scripts/fuzz/fuzzDecoders.ts runs the same
 * targets with 200,000 cases each): random and mutated input ends in a valid decode or a clean,
 * typed rejection, never a crash; a decoded sync message encodes back to the same bytes; a changed
 * signed unit never verifies.
 */
import { strict as assert } from 'node:assert';
import * as Y from 'yjs';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import {
  decodeSyncMessage,
  encodeSyncStep1,
  encodeUnit,
  unitSignatureInput,
  verifySignedUnit,
} from '../../../../src/sync/session/syncMessages';
import { TARGETS, checkSyncMessage, runTarget } from '../../../../scripts/fuzz/decoderTargets';

describe('decoder fuzz (bounded)', () => {
  for (const target of TARGETS) {
    it(`${target}: 300 random and mutated cases end cleanly`, () => {
      runTarget(target, { numRuns: 300, seed: 20240601 });
    });
  }

  it('a leading BOM stays part of the workspace id (decoding is canonical)', () => {
    // Control for the canonical-decode property: a workspace id with a leading BOM must keep it.
    const withBom = encodeSyncStep1('\uFEFFdefault', new Uint8Array(0));
    const decoded = decodeSyncMessage(withBom);
    assert.equal(decoded.type === 'SyncStep1' && decoded.workspaceId, '\uFEFFdefault');
    assert.equal(checkSyncMessage(withBom), 'ok');
    assert.equal(checkSyncMessage(new Uint8Array([1, 42])), 'rejected');
  });

  it('verifySignedUnit: true for the signed unit, false for any other workspace, key or bytes', () => {
    const author = DeviceIdentity.generate();
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 'v');
    const update = Y.encodeStateAsUpdate(doc);
    const signature = author.sign(unitSignatureInput('ws', author.deviceId, 1, 2, update));
    const unit = { author: author.deviceId, epoch: 1, seq: 2, update, signature };
    assert.equal(verifySignedUnit('ws', unit, author.publicKey), true);
    assert.equal(verifySignedUnit('other', unit, author.publicKey), false);
    assert.equal(verifySignedUnit('ws', { ...unit, seq: 3 }, author.publicKey), false);
    assert.equal(verifySignedUnit('ws', unit, DeviceIdentity.generate().publicKey), false);
    assert.equal(verifySignedUnit('ws', unit, new Uint8Array(5)), false);
    assert.equal(
      verifySignedUnit('ws', { ...unit, signature: new Uint8Array(3) }, author.publicKey),
      false,
    );
    const decoded = decodeSyncMessage(encodeUnit(unit));
    assert.ok(decoded.type === 'Unit' && verifySignedUnit('ws', decoded, author.publicKey));
  });
});
