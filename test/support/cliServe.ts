/**
 * A headless `twinspace serve` peer on 127.0.0.1 (no mDNS) for the tests that drive the real
 * VS Code host: the in-host suite (test/host) and the workbench e2e (test/e2e) both start one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The fields of the peer's status.json these tests read. */
export interface CliStatus {
  readonly port: number;
  readonly deviceId: string;
  readonly workspaceId: string;
}

/** The status file once the peer listens (port > 0), else undefined. */
export function readCliStatus(stateDir: string): CliStatus | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(stateDir, 'status.json'), 'utf8')) as CliStatus;
    return s.port > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}

export function isExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (isExited(child)) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });
}

export interface ServeOptions {
  /** The Node binary to run the CLI with. */
  readonly node: string;
  /** dist/cli.js */
  readonly cli: string;
  readonly folder: string;
  readonly stateDir: string;
  readonly workspaceId: string;
  readonly name?: string;
}

/** Starts `serve` (port 0, loopback, no mDNS); `log()` is the tail of its stderr. */
export function startServe(options: ServeOptions): {
  child: ChildProcess;
  log: () => string;
} {
  const child = spawn(
    options.node,
    [
      options.cli,
      'serve',
      options.folder,
      '--no-mdns',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--name',
      options.name ?? 'cli-peer',
      '--workspace',
      options.workspaceId,
      '--state-dir',
      options.stateDir,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000);
  });
  return { child, log: () => log };
}
