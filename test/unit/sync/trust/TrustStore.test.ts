import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../../../../src/core/errors';
import { deviceIdFromPublicKey } from '../../../../src/sync/identity/DeviceIdentity';
import {
  TRUST_FILE_SCHEMA,
  TrustFileError,
  TrustStore,
  type TrustedPeer,
} from '../../../../src/sync/trust/TrustStore';
import { fakeClock } from '../../support/fakeClock';

function tempFile(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'tw-trust-')), 'trusted-devices.json');
}

interface Device {
  deviceId: string;
  publicKey: Uint8Array;
}

function device(): Device {
  const publicKey = new Uint8Array(randomBytes(32));
  return { deviceId: deviceIdFromPublicKey(publicKey), publicKey };
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function isValidation(file: string, field?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof TrustFileError, `expected TrustFileError, got ${String(e)}`);
    assert.ok(e instanceof TwinspaceError);
    assert.equal(e.code, 'validation');
    assert.equal(e.file, file);
    assert.ok(e.message.includes(file), e.message);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  };
}

/** A deferred write, to hold saves in flight. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (real setImmediate: the fake clock is not global). */
async function flushMicrotasks(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('TrustStore', () => {
  describe('persistence', () => {
    it('round-trips peers, grants, last-seen and revocations through the file', async () => {
      const file = tempFile();
      const { clock, fake } = fakeClock(1_000_000);
      const a = device();
      const b = device();
      const store = await TrustStore.open(file, { clock });
      assert.deepEqual(store.list(), []);
      await store.add({ ...a, name: 'laptop' });
      fake.tick(10);
      await store.add({
        ...b,
        name: 'desktop',
        defaultGrant: 'read-only',
        grants: { w1: 'read-write' },
      });
      await store.setGrant(a.deviceId, 'w2', 'read-only');
      store.touch(b.deviceId, 1_000_500);
      await store.revoke(b.deviceId);
      await store.close();

      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.equal(doc.schema, TRUST_FILE_SCHEMA);
      assert.equal(doc.version, 1);
      if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);

      const reopened = await TrustStore.open(file, { clock });
      assert.deepEqual(reopened.list(), store.list());
      const [first, second] = reopened.list();
      assert.deepEqual(first, {
        deviceId: a.deviceId,
        name: 'laptop',
        publicKey: b64(a.publicKey),
        addedAt: 1_000_000,
        grants: { w2: 'read-only' },
        defaultGrant: 'read-write',
      } satisfies TrustedPeer);
      assert.equal(second?.lastSeenAt, 1_000_500);
      assert.equal(second.revokedAt, 1_000_010);
      assert.equal(reopened.isTrusted(a.deviceId, a.publicKey), true);
      assert.equal(reopened.isTrusted(b.deviceId, b.publicKey), false);
      assert.equal(reopened.grantFor(a.deviceId, 'w2'), 'read-only');
      assert.equal(reopened.grantFor(a.deviceId, 'other'), 'read-write');
    });

    it('a missing file is an empty store and is only created by the first change', async () => {
      const file = tempFile();
      const store = await TrustStore.open(file);
      assert.deepEqual(readdirSync(path.dirname(file)), []);
      await store.add({ ...device(), name: 'x' });
      assert.deepEqual(readdirSync(path.dirname(file)), [path.basename(file)]);
    });

    it('a crash mid-write (temp file left, no rename) keeps the previous content', async () => {
      const file = tempFile();
      const a = device();
      const store = await TrustStore.open(file);
      await store.add({ ...a, name: 'laptop' });
      await store.close();
      const before = readFileSync(file, 'utf8');
      // What an interrupted atomic write leaves: a half-written temp file next to the target.
      const temp = path.join(path.dirname(file), `.${path.basename(file)}.0123456789ab.tmp`);
      writeFileSync(temp, before.slice(0, before.length / 2));

      const reopened = await TrustStore.open(file);
      assert.equal(readFileSync(file, 'utf8'), before);
      assert.equal(reopened.isTrusted(a.deviceId, a.publicKey), true);
      assert.equal(reopened.list().length, 1);
      // The next write still replaces the target whole.
      await reopened.add({ ...device(), name: 'second' });
      assert.equal((await TrustStore.open(file)).list().length, 2);
    });

    it('leaves no temp file behind after saves', async () => {
      const file = tempFile();
      const store = await TrustStore.open(file);
      for (let i = 0; i < 3; i++) await store.add({ ...device(), name: `d${i}` });
      await store.close();
      assert.deepEqual(readdirSync(path.dirname(file)), [path.basename(file)]);
    });
  });

  describe('validation on load', () => {
    async function rejectsWith(content: string, field?: string): Promise<void> {
      const file = tempFile();
      writeFileSync(file, content);
      await assert.rejects(TrustStore.open(file), isValidation(file, field));
      // Never "repaired" by emptying: the file is untouched.
      assert.equal(readFileSync(file, 'utf8'), content);
    }

    function validDoc(): { schema: string; version: number; peers: Record<string, unknown>[] } {
      const a = device();
      return {
        schema: TRUST_FILE_SCHEMA,
        version: 1,
        peers: [
          {
            deviceId: a.deviceId,
            name: 'laptop',
            publicKey: b64(a.publicKey),
            addedAt: 5,
            grants: {},
            defaultGrant: 'read-write',
          },
        ],
      };
    }

    it('accepts the valid document used by the cases below', async () => {
      const file = tempFile();
      writeFileSync(file, JSON.stringify(validDoc()));
      assert.equal((await TrustStore.open(file)).list().length, 1);
    });

    it('rejects garbage, an empty file and a truncated file', async () => {
      await rejectsWith('{"schema": "twinspace.trusted-de');
      await rejectsWith('');
      await rejectsWith('\u0000\u0000\u0000');
      await rejectsWith('[]');
    });

    it('rejects a wrong schema name, a newer version and unknown fields', async () => {
      await rejectsWith(JSON.stringify({ ...validDoc(), schema: 'something-else' }), 'schema');
      const newer = JSON.stringify({ ...validDoc(), version: 2 });
      const file = tempFile();
      writeFileSync(file, newer);
      await assert.rejects(TrustStore.open(file), (e: unknown) => {
        isValidation(file, 'version')(e);
        assert.match((e as Error).message, /newer Twinspace/);
        return true;
      });
      await rejectsWith(JSON.stringify({ ...validDoc(), extra: 1 }), 'extra');
      const doc = validDoc();
      doc.peers[0] = { ...doc.peers[0], trusted: true };
      await rejectsWith(JSON.stringify(doc), 'peers[0].trusted');
    });

    it('rejects hand edits of a peer: key, id, grant, timestamps, duplicates', async () => {
      const edits: [string, (peer: Record<string, unknown>) => void][] = [
        ['peers[0].publicKey', (p) => (p.publicKey = 'not base64!')],
        ['peers[0].publicKey', (p) => (p.publicKey = b64(new Uint8Array(31)))],
        ['peers[0].deviceId', (p) => (p.deviceId = device().deviceId)],
        ['peers[0].defaultGrant', (p) => (p.defaultGrant = 'admin')],
        ['peers[0].grants["w1"]', (p) => (p.grants = { w1: 'write' })],
        ['peers[0].addedAt', (p) => (p.addedAt = -1)],
        ['peers[0].revokedAt', (p) => (p.revokedAt = 'yesterday')],
        ['peers[0].name', (p) => (p.name = 42)],
      ];
      for (const [field, edit] of edits) {
        const doc = validDoc();
        edit(doc.peers[0]!);
        await rejectsWith(JSON.stringify(doc), field);
      }
      const doc = validDoc();
      doc.peers.push({ ...doc.peers[0] });
      await rejectsWith(JSON.stringify(doc), 'peers[1].deviceId');
    });
  });

  describe('trust decisions', () => {
    it('trusts only a stored, unrevoked id presenting exactly its stored key', async () => {
      const store = await TrustStore.open(tempFile());
      const a = device();
      const other = device();
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), false);
      await store.add({ ...a, name: 'a' });
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), true);
      // A known id with another key: not trusted.
      assert.equal(store.isTrusted(a.deviceId, other.publicKey), false);
      const flipped = Uint8Array.from(a.publicKey);
      flipped[31] = (flipped[31] ?? 0) ^ 1;
      assert.equal(store.isTrusted(a.deviceId, flipped), false);
      assert.equal(store.isTrusted(a.deviceId, a.publicKey.subarray(0, 16)), false);
      // The right key under an unknown id: not trusted either.
      assert.equal(store.isTrusted(other.deviceId, a.publicKey), false);
    });

    it('refuses to store an id that does not derive from the key', async () => {
      const file = tempFile();
      const store = await TrustStore.open(file);
      const a = device();
      await assert.rejects(
        store.add({ deviceId: device().deviceId, publicKey: a.publicKey, name: 'x' }),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'validation',
      );
      assert.deepEqual(store.list(), []);
    });

    it('revoke fires onRevoked at once, and the device is no longer trusted, even after restart', async () => {
      const file = tempFile();
      const store = await TrustStore.open(file);
      const a = device();
      await store.add({ ...a, name: 'a' });
      const revoked: [string, string][] = [];
      let trustedDuringEvent: boolean | undefined;
      store.onRevoked((id, reason) => {
        revoked.push([id, reason]);
        trustedDuringEvent = store.isTrusted(a.deviceId, a.publicKey);
      });
      const pending = store.revoke(a.deviceId);
      // Fired synchronously, before the save completes.
      assert.deepEqual(revoked, [[a.deviceId, 'revoked']]);
      assert.equal(trustedDuringEvent, false);
      await pending;
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), false);
      assert.equal(store.grantFor(a.deviceId, 'w'), undefined);
      assert.equal(store.list().length, 1, 'a revoked device stays listed');
      await store.revoke(a.deviceId);
      assert.equal(revoked.length, 1, 'revoking twice fires once');
      await store.close();
      const reopened = await TrustStore.open(file);
      assert.equal(reopened.isTrusted(a.deviceId, a.publicKey), false);
    });

    it('forget removes the device and fires onRevoked; pairing again trusts it again', async () => {
      const store = await TrustStore.open(tempFile());
      const a = device();
      await store.add({ ...a, name: 'a', grants: { w: 'read-only' } });
      const events: string[] = [];
      store.onRevoked((id, reason) => events.push(`${reason}:${id}`));
      await store.forget(a.deviceId);
      assert.deepEqual(events, [`forgotten:${a.deviceId}`]);
      assert.equal(store.get(a.deviceId), undefined);
      await store.add({ ...a, name: 'a again' });
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), true);
      assert.equal(store.grantFor(a.deviceId, 'w'), 'read-write', 'old grants are gone');
    });

    it('re-adding a revoked device clears the revocation and its old grants', async () => {
      const store = await TrustStore.open(tempFile());
      const a = device();
      await store.add({ ...a, name: 'a', grants: { w: 'read-only' } });
      await store.revoke(a.deviceId);
      await store.add({ ...a, name: 'a' });
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), true);
      assert.equal(store.get(a.deviceId)?.revokedAt, undefined);
      assert.equal(store.grantFor(a.deviceId, 'w'), 'read-write');
    });
  });

  describe('grants', () => {
    it('per-workspace grants override the default; clearGrant restores it', async () => {
      const store = await TrustStore.open(tempFile());
      const a = device();
      await store.add({ ...a, name: 'a', defaultGrant: 'read-only' });
      assert.equal(store.grantFor(a.deviceId, 'w1'), 'read-only');
      await store.setGrant(a.deviceId, 'w1', 'read-write');
      assert.equal(store.grantFor(a.deviceId, 'w1'), 'read-write');
      assert.equal(store.grantFor(a.deviceId, 'w2'), 'read-only');
      await store.setDefaultGrant(a.deviceId, 'read-write');
      assert.equal(store.grantFor(a.deviceId, 'w2'), 'read-write');
      await store.setGrant(a.deviceId, 'w1', 'read-only');
      await store.clearGrant(a.deviceId, 'w1');
      assert.equal(store.grantFor(a.deviceId, 'w1'), 'read-write');
      assert.equal(store.grantFor(device().deviceId, 'w1'), undefined);
      await assert.rejects(
        store.setGrant(device().deviceId, 'w1', 'read-only'),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'not_found',
      );
    });

    it('workspace ids that look like object internals are plain keys', async () => {
      const file = tempFile();
      const store = await TrustStore.open(file);
      const a = device();
      await store.add({ ...a, name: 'a', defaultGrant: 'read-only' });
      assert.equal(store.grantFor(a.deviceId, '__proto__'), 'read-only');
      assert.equal(store.grantFor(a.deviceId, 'toString'), 'read-only');
      await store.setGrant(a.deviceId, '__proto__', 'read-write');
      assert.equal(store.grantFor(a.deviceId, '__proto__'), 'read-write');
      assert.equal(store.grantFor(a.deviceId, 'constructor'), 'read-only');
      await store.close();
      const reopened = await TrustStore.open(file);
      assert.equal(reopened.grantFor(a.deviceId, '__proto__'), 'read-write');
      assert.equal(reopened.grantFor(a.deviceId, 'toString'), 'read-only');
    });
  });

  describe('rotation', () => {
    it('moves trust, name and grants to the new key and id; the old key is dropped', async () => {
      const file = tempFile();
      const store = await TrustStore.open(file);
      const old = device();
      const next = device();
      await store.add({ ...old, name: 'laptop', grants: { w: 'read-only' } });
      const events: string[] = [];
      store.onRevoked((id, reason) => events.push(`${reason}:${id}`));
      const moved = await store.applyRotation(old.deviceId, next.publicKey);
      assert.equal(moved.deviceId, next.deviceId);
      assert.equal(moved.name, 'laptop');
      assert.deepEqual(events, [`rotated:${old.deviceId}`]);
      assert.equal(store.isTrusted(old.deviceId, old.publicKey), false);
      assert.equal(store.isTrusted(next.deviceId, next.publicKey), true);
      assert.equal(store.grantFor(next.deviceId, 'w'), 'read-only');
      await store.close();
      const reopened = await TrustStore.open(file);
      assert.equal(reopened.isTrusted(next.deviceId, next.publicKey), true);
      assert.equal(reopened.get(old.deviceId), undefined);
    });

    it('a revoked or unknown device cannot rotate into trust', async () => {
      const store = await TrustStore.open(tempFile());
      const a = device();
      await store.add({ ...a, name: 'a' });
      await store.revoke(a.deviceId);
      const next = device();
      await assert.rejects(
        store.applyRotation(a.deviceId, next.publicKey),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'unauthorized',
      );
      await assert.rejects(
        store.applyRotation(device().deviceId, next.publicKey),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'not_found',
      );
      assert.equal(store.isTrusted(next.deviceId, next.publicKey), false);
    });
  });

  describe('writes', () => {
    it('never runs two saves at once, and coalesces changes made while one is running', async () => {
      const writes: { text: string; done: ReturnType<typeof deferred> }[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      const store = await TrustStore.open(tempFile(), {
        writeFile: async (_file, text) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          const done = deferred();
          writes.push({ text, done });
          try {
            await done.promise;
          } finally {
            inFlight--;
          }
        },
      });
      const devices = [device(), device(), device(), device()];
      const adds = [store.add({ ...devices[0]!, name: 'd0' })];
      await flushMicrotasks();
      assert.equal(writes.length, 1, 'the first save is running');
      // Changes made while it runs wait, together, for the next write.
      for (let i = 1; i < 4; i++) adds.push(store.add({ ...devices[i]!, name: `d${i}` }));
      await flushMicrotasks();
      assert.equal(writes.length, 1);
      writes[0]!.done.resolve();
      await flushMicrotasks();
      assert.equal(writes.length, 2);
      assert.equal(maxInFlight, 1);
      writes[1]!.done.resolve();
      await Promise.all(adds);
      assert.equal(writes.length, 2);
      assert.equal(maxInFlight, 1);
      const last = JSON.parse(writes[1]!.text) as { peers: unknown[] };
      assert.equal(last.peers.length, 4);
    });

    it('a failed save undoes a new trust but keeps a revocation (fail safe)', async () => {
      let fail = false;
      const store = await TrustStore.open(tempFile(), {
        writeFile: () => (fail ? Promise.reject(new Error('disk full')) : Promise.resolve()),
      });
      const a = device();
      const b = device();
      await store.add({ ...a, name: 'a' });
      fail = true;
      await assert.rejects(
        store.add({ ...b, name: 'b' }),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'internal',
      );
      assert.equal(store.isTrusted(b.deviceId, b.publicKey), false);
      assert.equal(store.get(b.deviceId), undefined);
      await assert.rejects(store.setGrant(a.deviceId, 'w', 'read-only'));
      assert.equal(store.grantFor(a.deviceId, 'w'), 'read-write');
      await assert.rejects(store.revoke(a.deviceId));
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), false);
    });

    it('touch is saved lazily, and close() flushes it', async () => {
      const { clock, fake } = fakeClock(1_000_000);
      const texts: string[] = [];
      const store = await TrustStore.open(tempFile(), {
        clock,
        touchFlushMs: 5_000,
        writeFile: (_f, text) => {
          texts.push(text);
          return Promise.resolve();
        },
      });
      const a = device();
      await store.add({ ...a, name: 'a' });
      assert.equal(texts.length, 1);
      store.touch(a.deviceId, 2_000_000);
      store.touch(a.deviceId, 2_000_100);
      store.touch(a.deviceId, 1_999_000); // older: ignored
      assert.equal(store.get(a.deviceId)?.lastSeenAt, 2_000_100);
      await flushMicrotasks();
      assert.equal(texts.length, 1, 'not written yet');
      await fake.tickAsync(5_000);
      await flushMicrotasks();
      assert.equal(texts.length, 2);
      assert.match(texts[1]!, /"lastSeenAt": 2000100/);

      store.touch(a.deviceId, 2_000_200);
      await store.close();
      assert.equal(texts.length, 3);
      assert.match(texts[2]!, /"lastSeenAt": 2000200/);
      assert.equal(fake.countTimers(), 0, 'no timer left after close');
      await assert.rejects(
        store.add({ ...device(), name: 'late' }),
        (e: unknown) => e instanceof TwinspaceError && e.code === 'closed',
      );
    });

    it('a throwing listener does not break a change', async () => {
      const errors: unknown[] = [];
      const store = await TrustStore.open(tempFile(), { onError: (e) => errors.push(e) });
      store.onChange(() => {
        throw new Error('listener bug');
      });
      const seen: number[] = [];
      store.onChange((peers) => seen.push(peers.length));
      const a = device();
      await store.add({ ...a, name: 'a' });
      assert.equal(store.isTrusted(a.deviceId, a.publicKey), true);
      assert.deepEqual(seen, [1]);
      assert.equal(errors.length, 1);
    });
  });
});
