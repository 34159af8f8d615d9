import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { decodeBase32, encodeBase32 } from '../../../../src/sync/identity/base32';
import {
  DeviceIdentity,
  deviceIdFromPublicKey,
  isDeviceId,
  shortDeviceId,
} from '../../../../src/sync/identity/DeviceIdentity';
import type { KeyStore } from '../../../../src/sync/identity/KeyStore';
import { KeyStoreError } from '../../../../src/sync/identity/KeyStore';
import {
  decodeRotationCertificate,
  encodeRotationCertificate,
  verifyRotation,
} from '../../../../src/sync/identity/RotationCertificate';
import type { RotationCertificate } from '../../../../src/sync/identity/RotationCertificate';

const msg = new TextEncoder().encode('the same bytes on both machines');

class MemoryKeyStore implements KeyStore {
  secret: Uint8Array | undefined;
  saves = 0;
  load(): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.secret);
  }
  save(secret: Uint8Array): Promise<void> {
    this.saves += 1;
    this.secret = Uint8Array.from(secret);
    return Promise.resolve();
  }
}

describe('base32', () => {
  it('matches the RFC 4648 test vectors (unpadded)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(encodeBase32(Buffer.from(plain)), encoded);
      assert.equal(Buffer.from(decodeBase32(encoded.toLowerCase())!).toString(), plain);
    }
  });

  it('rejects characters outside the alphabet, impossible lengths and non-canonical tails', () => {
    assert.equal(decodeBase32('MZXW1'), undefined);
    assert.equal(decodeBase32('M'), undefined);
    assert.equal(decodeBase32('MZ'), undefined); // 'f' is MY: the tail bits of Z are not zero
  });
});

describe('DeviceIdentity', () => {
  it('derives a 32-character base32 id from SHA-256 of the public key, and a short form', () => {
    const id = DeviceIdentity.generate();
    assert.equal(id.publicKey.length, 32);
    assert.ok(isDeviceId(id.deviceId));
    const digest = createHash('sha256').update(id.publicKey).digest();
    assert.equal(id.deviceId, encodeBase32(digest.subarray(0, 20)));
    assert.equal(id.deviceId, deviceIdFromPublicKey(id.publicKey));
    assert.match(id.shortId, /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
    assert.equal(id.shortId, shortDeviceId(id.deviceId));
    assert.equal(id.shortId.replaceAll('-', ''), id.deviceId.slice(0, 12));
    assert.notEqual(DeviceIdentity.generate().deviceId, id.deviceId);
  });

  it('signs and verifies; a changed message, key or signature fails without throwing', () => {
    const id = DeviceIdentity.generate();
    const other = DeviceIdentity.generate();
    const sig = id.sign(msg);
    assert.equal(sig.length, 64);
    assert.equal(DeviceIdentity.verify(id.publicKey, msg, sig), true);
    assert.equal(DeviceIdentity.verify(other.publicKey, msg, sig), false);
    assert.equal(DeviceIdentity.verify(id.publicKey, msg.subarray(1), sig), false);
    const bad = Uint8Array.from(sig);
    bad[0] = (bad[0] ?? 0) ^ 1;
    assert.equal(DeviceIdentity.verify(id.publicKey, msg, bad), false);
    assert.equal(DeviceIdentity.verify(id.publicKey.subarray(1), msg, sig), false);
    assert.equal(DeviceIdentity.verify(id.publicKey, msg, sig.subarray(1)), false);
    assert.equal(DeviceIdentity.verify(new Uint8Array(32).fill(0xff), msg, sig), false);
  });

  it('round-trips through its seed and interoperates with tweetnacl', () => {
    const id = DeviceIdentity.generate();
    const seed = id.exportSeed();
    assert.equal(seed.length, 32);
    const again = DeviceIdentity.fromSeed(seed);
    assert.equal(again.deviceId, id.deviceId);
    const pair = nacl.sign.keyPair.fromSeed(seed);
    assert.deepEqual(Buffer.from(pair.publicKey), Buffer.from(id.publicKey));
    // Ed25519 is deterministic: both libraries give the same signature.
    assert.deepEqual(
      Buffer.from(nacl.sign.detached(msg, pair.secretKey)),
      Buffer.from(id.sign(msg)),
    );
    assert.throws(() => DeviceIdentity.fromSeed(new Uint8Array(31)), RangeError);
  });

  it('never serialises its private key', () => {
    const id = DeviceIdentity.generate();
    const json = JSON.stringify(id);
    assert.equal(json, JSON.stringify({ deviceId: id.deviceId }));
    assert.ok(!json.includes(Buffer.from(id.exportSeed()).toString('base64')));
  });

  it('loads from a key store, or creates and saves one exactly once', async () => {
    const store = new MemoryKeyStore();
    const first = await DeviceIdentity.loadOrCreate(store);
    const second = await DeviceIdentity.loadOrCreate(store);
    assert.equal(second.deviceId, first.deviceId);
    assert.equal(store.saves, 1);
    store.secret = new Uint8Array(16);
    await assert.rejects(
      DeviceIdentity.loadOrCreate(store),
      (err) => err instanceof KeyStoreError && err.reason === 'key_file_corrupt',
    );
  });

  describe('rotation', () => {
    it('issues a certificate in which the old key signs the new one', () => {
      const old = DeviceIdentity.generate();
      const { identity, certificate } = old.rotate(1_700_000_000_000);
      assert.notEqual(identity.deviceId, old.deviceId);
      assert.deepEqual(certificate.oldPublicKey, old.publicKey);
      assert.deepEqual(certificate.newPublicKey, identity.publicKey);
      assert.equal(certificate.issuedAt, 1_700_000_000_000);
      assert.equal(verifyRotation(certificate), true);
      assert.equal(DeviceIdentity.verifyRotation(certificate), true);
    });

    it('refuses forged or altered certificates', () => {
      const old = DeviceIdentity.generate();
      const attacker = DeviceIdentity.generate();
      const { certificate } = old.rotate(1_000);
      const forge = (patch: Partial<RotationCertificate>): boolean =>
        verifyRotation({ ...certificate, ...patch });
      // Someone else's key claims to succeed `old`.
      const forged = attacker.rotate(1_000).certificate;
      assert.equal(forge({ newPublicKey: forged.newPublicKey }), false);
      assert.equal(verifyRotation({ ...forged, oldPublicKey: old.publicKey }), false);
      // The attacker signs a rotation of old to its own key with its own key.
      const selfSigned = attacker.sign(new Uint8Array(64));
      assert.equal(forge({ newPublicKey: attacker.publicKey, signature: selfSigned }), false);
      assert.equal(forge({ issuedAt: 1_001 }), false);
      assert.equal(forge({ issuedAt: -1 }), false);
      assert.equal(forge({ issuedAt: 1.5 }), false);
      assert.equal(forge({ signature: new Uint8Array(64) }), false);
      assert.equal(forge({ signature: certificate.signature.subarray(1) }), false);
      assert.equal(forge({ newPublicKey: old.publicKey }), false);
      assert.equal(verifyRotation(certificate), true);
    });

    it('encodes and decodes, and a flipped byte anywhere breaks verification', () => {
      const { certificate } = DeviceIdentity.generate().rotate(123_456);
      const bytes = encodeRotationCertificate(certificate);
      const decoded = decodeRotationCertificate(bytes);
      assert.ok(decoded);
      assert.equal(verifyRotation(decoded), true);
      for (let i = 1; i < bytes.length; i++) {
        const copy = Uint8Array.from(bytes);
        copy[i] = (copy[i] ?? 0) ^ 0x40;
        const altered = decodeRotationCertificate(copy);
        assert.ok(altered === undefined || !verifyRotation(altered), `byte ${i}`);
      }
      assert.equal(decodeRotationCertificate(bytes.subarray(1)), undefined);
      const wrongVersion = Uint8Array.from(bytes);
      wrongVersion[0] = 2;
      assert.equal(decodeRotationCertificate(wrongVersion), undefined);
    });
  });
});
