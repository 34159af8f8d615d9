import type * as vscode from 'vscode';
import { KeyStoreError, type KeyStore } from '../sync/identity/KeyStore';

/** The device's private key in VS Code's SecretStorage (the OS keychain where there is one). */
export class SecretKeyStore implements KeyStore {
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly key = 'twinspace.deviceKey.v1',
  ) {}

  async load(): Promise<Uint8Array | undefined> {
    const text = await this.secrets.get(this.key);
    if (text === undefined) return undefined;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      throw new KeyStoreError(
        'key_file_corrupt',
        `the stored device key (${this.key}) is not base64`,
      );
    }
    return new Uint8Array(Buffer.from(text, 'base64'));
  }

  async save(secret: Uint8Array): Promise<void> {
    await this.secrets.store(this.key, Buffer.from(secret).toString('base64'));
  }
}
