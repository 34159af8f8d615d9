import { strict as assert } from 'node:assert';
import { chmod, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceIdentity } from '../../../../src/sync/identity/DeviceIdentity';
import { FileKeyStore } from '../../../../src/sync/identity/FileKeyStore';
import { KeyStoreError } from '../../../../src/sync/identity/KeyStore';

const posix = process.platform !== 'win32';

function isKeyStoreError(reason: string): (err: unknown) => boolean {
  return (err) => err instanceof KeyStoreError && err.reason === reason;
}

describe('FileKeyStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'twinspace-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns undefined when there is no key yet', async () => {
    assert.equal(await new FileKeyStore(join(dir, 'none', 'device.key')).load(), undefined);
  });

  it('saves with mode 0600 in a new 0700 directory, atomically, and loads it back', async () => {
    const path = join(dir, 'state', 'keys', 'device.key');
    const store = new FileKeyStore(path);
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
    await store.save(secret);
    assert.deepEqual(await store.load(), secret);
    if (posix) {
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'state', 'keys'))).mode & 0o777, 0o700);
    }
    // Overwrite: no temp files left behind.
    await store.save(Uint8Array.from({ length: 32 }, () => 7));
    assert.deepEqual(await readdir(join(dir, 'state', 'keys')), ['device.key']);
    assert.deepEqual(await store.load(), new Uint8Array(32).fill(7));
  });

  it('backs DeviceIdentity.loadOrCreate across restarts', async () => {
    const path = join(dir, 'device.key');
    const first = await DeviceIdentity.loadOrCreate(new FileKeyStore(path));
    const second = await DeviceIdentity.loadOrCreate(new FileKeyStore(path));
    assert.equal(second.deviceId, first.deviceId);
  });

  it('refuses a key file that group or others can read (0644)', async () => {
    const path = join(dir, 'device.key');
    const store = new FileKeyStore(path);
    await store.save(new Uint8Array(32));
    await chmod(path, 0o644);
    await assert.rejects(store.load(), (err: unknown) => {
      assert.ok(isKeyStoreError('key_file_insecure')(err));
      assert.equal((err as KeyStoreError).code, 'unauthorized');
      assert.match((err as Error).message, /mode 0644/);
      assert.match((err as Error).message, /chmod 600/);
      return true;
    });
    await chmod(path, 0o640);
    await assert.rejects(store.load(), isKeyStoreError('key_file_insecure'));
    await chmod(path, 0o600);
    assert.deepEqual(await store.load(), new Uint8Array(32));
  });

  it('refuses a symlink at the key path', async () => {
    const real = join(dir, 'real.key');
    await new FileKeyStore(real).save(new Uint8Array(32));
    const link = join(dir, 'device.key');
    await symlink(real, link);
    await assert.rejects(new FileKeyStore(link).load(), isKeyStoreError('key_file_not_regular'));
  });

  it('refuses a directory and a corrupt file', async () => {
    await assert.rejects(new FileKeyStore(dir).load(), isKeyStoreError('key_file_not_regular'));
    const path = join(dir, 'device.key');
    await writeFile(path, 'not a key\n', { mode: 0o600 });
    await assert.rejects(new FileKeyStore(path).load(), isKeyStoreError('key_file_corrupt'));
    await writeFile(path, 'twinspace-device-key v1\n!!!!\n', { mode: 0o600 });
    await assert.rejects(new FileKeyStore(path).load(), isKeyStoreError('key_file_corrupt'));
  });
});
