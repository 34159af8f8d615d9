/**
 * A KeyStore in one file, for the CLI: mode 0600 inside a 0700 directory, written atomically
 * (temp file + fsync + rename + directory fsync). Loading refuses a file that group or others can
 * access, or that belongs to another user, with KeyStoreError reason `key_file_insecure`.
 *
 * File format (text): the line `twinspace-device-key v1`, then the secret in base64, then `\n`.
 */
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { atomicWriteFile } from '../../runtime/atomicWriteFile';
import { KeyStoreError } from './KeyStore';
import type { KeyStore } from './KeyStore';

const HEADER = 'twinspace-device-key v1';
const MAX_FILE_BYTES = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export class FileKeyStore implements KeyStore {
  constructor(readonly path: string) {}

  async load(): Promise<Uint8Array | undefined> {
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: a symlink planted at the key path is refused instead of followed.
      handle = await open(
        this.path,
        constants.O_RDONLY | ((constants.O_NOFOLLOW as number | undefined) ?? 0),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') {
        throw new KeyStoreError('key_file_not_regular', `key file ${this.path} is a symlink`, {
          cause: err,
        });
      }
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw new KeyStoreError('key_file_not_regular', `key file ${this.path} is not a file`);
      }
      if (process.platform !== 'win32') {
        const loose = stat.mode & 0o077;
        if (loose !== 0) {
          throw new KeyStoreError(
            'key_file_insecure',
            `key file ${this.path} has mode ${formatMode(stat.mode)}: group or others can access ` +
              `it. Run \`chmod 600 ${this.path}\` if it is yours, or delete it to make a new key.`,
          );
        }
        const uid = process.getuid?.();
        if (uid !== undefined && stat.uid !== uid) {
          throw new KeyStoreError(
            'key_file_insecure',
            `key file ${this.path} belongs to uid ${stat.uid}, not to this user (${uid})`,
          );
        }
      }
      if (stat.size > MAX_FILE_BYTES) {
        throw new KeyStoreError('key_file_corrupt', `key file ${this.path} is too large`);
      }
      const text = (await handle.readFile()).toString('utf8');
      return parse(text, this.path);
    } finally {
      await handle.close();
    }
  }

  async save(secret: Uint8Array): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await atomicWriteFile(this.path, `${HEADER}\n${Buffer.from(secret).toString('base64')}\n`, {
      mode: 0o600,
    });
  }
}

function parse(text: string, path: string): Uint8Array {
  const lines = text.split('\n');
  const body = lines[1]?.trim() ?? '';
  const rest = lines.slice(2).join('').trim();
  if (lines[0] !== HEADER || !BASE64.test(body) || rest !== '') {
    throw new KeyStoreError('key_file_corrupt', `key file ${path} is not a Twinspace device key`);
  }
  return new Uint8Array(Buffer.from(body, 'base64'));
}

function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
