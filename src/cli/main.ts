/**
 * src/cli: the headless Twinspace peer. The same runtime and sync as the extension, with Node
 * implementations of the host interfaces: diagnostics go to stderr, state to a status file.
 *
 *   twinspace serve <folder> [--name N] [--state-dir D] [--port P] [--mdns-host H] [--no-mdns]
 *                   [--mdns-refresh-ms N] [--mdns-stale-ms N] [--keepalive-ms N]
 *                   [--keepalive-timeout-ms N] [--reconnect-max-ms N]
 *   twinspace status [--state-dir D | <folder>]
 *   twinspace pair --show --state-dir D [--timeout-ms N]
 *   twinspace pair --join <host:port> <code> --state-dir D
 *   twinspace visit <nodeId> [--label L] --state-dir D
 *   twinspace index-file <path> --size N --hash H --state-dir D
 *   twinspace wait-synced --state-dir D [--timeout-ms N] [--peers N] [--files]
 *   twinspace workspaces --state-dir D [--json]     (offers of connected peers, ranked)
 *   twinspace link <workspaceId> --state-dir D      (persists the link; sessions reconnect)
 *   twinspace rotate-key --state-dir D              (new key signed by the old one)
 *
 * The commands after `status` talk to the running `serve` through its control socket
 * (<state-dir>/control.sock, see ControlServer.ts).
 */
import { parseArgs } from 'node:util';
import { describeError, TwinspaceError } from '../core/errors';
import type { LinkChoice } from '../core/files/fileSyncStatus';
import * as path from 'node:path';
import { controlRequest, type ControlResponse } from './ControlServer';
import { HEAP_PROFILES, applyHeapProfile, type HeapProfile } from './heapProfile';
import { defaultStateDir, readStatus, serve } from './serve';
import { unlinkFolder } from '../sync/files/unlinkFolder';

const USAGE = `usage:
  twinspace serve <folder> [--name <device name>] [--state-dir <dir>] [--port <n>]
                           [--mdns-host <host name>] [--no-mdns] [--peer <host:port>]...
                           [--host <bind address>] [--workspace <id>]
                           [--mdns-refresh-ms <n>] [--mdns-stale-ms <n>]
                           [--keepalive-ms <n>] [--keepalive-timeout-ms <n>]
                           [--reconnect-max-ms <n>] [--no-files] [--max-file-mb <n>]
                           [--first-sync merge|take-peer|keep-mine] [--memory lean|fast]
  twinspace status [--state-dir <dir> | <folder>]
  twinspace pair --show --state-dir <dir> [--timeout-ms <n>]
  twinspace pair --join <host:port> <code> --state-dir <dir>
  twinspace visit <nodeId> [--label <text>] --state-dir <dir>
  twinspace index-file <path> --size <n> --hash <h> --state-dir <dir>
  twinspace wait-synced --state-dir <dir> [--timeout-ms <n>] [--peers <n>] [--files]
  twinspace workspaces --state-dir <dir> [--json]
  twinspace link <workspaceId> --state-dir <dir>
  twinspace rotate-key --state-dir <dir>
  twinspace unlink <folder> [--state-dir <dir>]   (stop syncing files: keeps them, drops state)
  twinspace help`;

function parseHeapProfile(text: string): HeapProfile {
  const profile = HEAP_PROFILES.find((p) => p === text);
  if (profile === undefined) throw usageError(`--memory must be lean or fast (got ${text})`);
  return profile;
}

function parseFirstSync(text: string): LinkChoice {
  switch (text) {
    case 'merge':
      return 'merge';
    case 'take-peer':
      return 'takePeer';
    case 'keep-mine':
      return 'keepMine';
    default:
      throw usageError(`--first-sync must be merge, take-peer or keep-mine (got ${text})`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: {
          name: { type: 'string' },
          'state-dir': { type: 'string' },
          port: { type: 'string' },
          'mdns-host': { type: 'string' },
          'no-mdns': { type: 'boolean', default: false },
          peer: { type: 'string', multiple: true },
          host: { type: 'string' },
          workspace: { type: 'string' },
          'mdns-refresh-ms': { type: 'string' },
          'mdns-stale-ms': { type: 'string' },
          'keepalive-ms': { type: 'string' },
          'keepalive-timeout-ms': { type: 'string' },
          'reconnect-max-ms': { type: 'string' },
          'no-files': { type: 'boolean', default: false },
          'max-file-mb': { type: 'string' },
          'first-sync': { type: 'string' },
          memory: { type: 'string', default: 'lean' },
        },
      });
      const folder = positionals[0];
      if (folder === undefined || positionals.length > 1)
        throw usageError('serve needs one folder');
      const port = values.port !== undefined ? parsePort(values.port) : 0;
      applyHeapProfile(parseHeapProfile(values.memory));
      return serve({
        folder,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values['state-dir'] !== undefined ? { stateDir: values['state-dir'] } : {}),
        ...(values['mdns-host'] !== undefined ? { mdnsHost: values['mdns-host'] } : {}),
        ...(values.host !== undefined ? { host: values.host } : {}),
        ...(values.workspace !== undefined ? { workspaceId: values.workspace } : {}),
        ...msOption(values['mdns-refresh-ms'], '--mdns-refresh-ms', 'mdnsRefreshMs'),
        ...msOption(values['mdns-stale-ms'], '--mdns-stale-ms', 'mdnsStaleMs'),
        ...msOption(values['keepalive-ms'], '--keepalive-ms', 'keepaliveIntervalMs'),
        ...msOption(values['keepalive-timeout-ms'], '--keepalive-timeout-ms', 'keepaliveTimeoutMs'),
        ...msOption(values['reconnect-max-ms'], '--reconnect-max-ms', 'reconnectMaxMs'),
        peers: values.peer ?? [],
        files: !values['no-files'],
        ...(values['first-sync'] !== undefined
          ? { firstSync: parseFirstSync(values['first-sync']) }
          : {}),
        ...(values['max-file-mb'] !== undefined
          ? { maxFileBytes: parseCount(values['max-file-mb'], '--max-file-mb') * 1024 * 1024 }
          : {}),
        port,
        mdns: !values['no-mdns'],
      });
    }
    case 'pair':
      return pairCommand(rest);
    case 'unlink': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: { 'state-dir': { type: 'string' } },
      });
      const folder = positionals[0];
      if (folder === undefined || positionals.length > 1)
        throw usageError('unlink needs one folder');
      const stateDir = values['state-dir'] ?? defaultStateDir(path.resolve(folder));
      const report = await unlinkFolder(folder, path.join(stateDir, 'files'));
      process.stdout.write(
        `unlinked ${path.resolve(folder)}: removed ${
          [
            ...(report.removedStateDir !== undefined ? ['orchestrator state'] : []),
            ...report.removedState,
          ].join(', ') || 'nothing (it was not linked)'
        }; ${report.removedTempFiles.length} temp files removed; your files are untouched\n`,
      );
      return 0;
    }
    case 'visit': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: { 'state-dir': { type: 'string' }, label: { type: 'string' } },
      });
      const nodeId = positionals[0];
      if (nodeId === undefined || positionals.length > 1)
        throw usageError('visit needs one node id');
      await expectOk(
        await controlRequest(socketOf(values['state-dir']), {
          op: 'visit',
          nodeId,
          ...(values.label !== undefined ? { label: values.label } : {}),
        }),
      );
      return 0;
    }
    case 'index-file': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: {
          'state-dir': { type: 'string' },
          size: { type: 'string' },
          hash: { type: 'string' },
        },
      });
      const file = positionals[0];
      if (file === undefined || values.hash === undefined) {
        throw usageError('index-file needs a path and --hash');
      }
      await expectOk(
        await controlRequest(socketOf(values['state-dir']), {
          op: 'index-file',
          path: file,
          size: Number(values.size ?? '0'),
          hash: values.hash,
        }),
      );
      return 0;
    }
    case 'wait-synced': {
      const { values } = parseArgs({
        args: [...rest],
        options: {
          'state-dir': { type: 'string' },
          'timeout-ms': { type: 'string' },
          peers: { type: 'string' },
          files: { type: 'boolean', default: false },
        },
      });
      const socket = socketOf(values['state-dir']);
      const timeoutMs = parseCount(values['timeout-ms'] ?? '30000', '--timeout-ms');
      const minPeers = parseCount(values.peers ?? '1', '--peers');
      const deadline = Date.now() + timeoutMs;
      let last: ControlResponse | undefined;
      for (;;) {
        last = await controlRequest(socket, {
          op: 'sync-status',
          minPeers,
          files: values.files,
        }).catch(() => undefined);
        if (last?.ok === false && last['code'] === 'validation') {
          process.stderr.write(`twinspace: ${String(last['message'])}\n`);
          return 2;
        }
        if (last?.ok === true && last['synced'] === true) {
          process.stdout.write(`synced ${String(last['docHash'])}\n`);
          return 0;
        }
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      process.stderr.write(
        `twinspace: not synced within ${timeoutMs} ms: ${JSON.stringify(last?.['peers'] ?? last ?? null)}` +
          (last?.['files'] !== undefined ? ` files: ${JSON.stringify(last['files'])}` : '') +
          '\n',
      );
      return 1;
    }
    case 'workspaces': {
      const { values } = parseArgs({
        args: [...rest],
        options: { 'state-dir': { type: 'string' }, json: { type: 'boolean', default: false } },
      });
      const response = await controlRequest(socketOf(values['state-dir']), { op: 'workspaces' });
      await expectOk(response);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
        return 0;
      }
      const offers = Array.isArray(response['offers']) ? (response['offers'] as unknown[]) : [];
      if (offers.length === 0) process.stdout.write('no workspaces offered by connected peers\n');
      for (const o of offers as Record<string, unknown>[]) {
        const remote = typeof o['gitRemote'] === 'string' ? ` ${o['gitRemote']}` : '';
        process.stdout.write(
          `${o['linked'] === true ? '*' : ' '} ${String(o['workspaceId'])}  ${String(o['name'])}` +
            `  [${String(o['match'])}] ${String(o['fileCount'])} files${remote}  from ${String(o['deviceId'])}\n`,
        );
      }
      return 0;
    }
    case 'link': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: { 'state-dir': { type: 'string' } },
      });
      const workspaceId = positionals[0];
      if (workspaceId === undefined || positionals.length > 1)
        throw usageError('link needs one workspace id');
      await expectOk(
        await controlRequest(socketOf(values['state-dir']), { op: 'link', workspaceId }),
      );
      process.stdout.write(`linked to workspace ${workspaceId}\n`);
      return 0;
    }
    case 'rotate-key': {
      const { values } = parseArgs({
        args: [...rest],
        options: { 'state-dir': { type: 'string' } },
      });
      const response = await controlRequest(socketOf(values['state-dir']), { op: 'rotate-key' });
      await expectOk(response);
      process.stdout.write(
        `rotated: ${String(response['oldDeviceId'])} -> ${String(response['newDeviceId'])}\n`,
      );
      return 0;
    }
    case 'status': {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: { 'state-dir': { type: 'string' } },
      });
      const status = await readStatus(values['state-dir'], positionals[0]);
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw usageError(`unknown command: ${command}`);
  }
}

async function pairCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: true,
    options: {
      show: { type: 'boolean', default: false },
      join: { type: 'string' },
      'state-dir': { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  });
  const socket = socketOf(values['state-dir']);
  if (values.show === (values.join !== undefined)) {
    throw usageError('pair needs exactly one of --show and --join <host:port> <code>');
  }
  if (values.show) {
    const timeoutMs = parseCount(values['timeout-ms'] ?? '300000', '--timeout-ms');
    const issued = await controlRequest(socket, { op: 'issue-pairing-code' });
    await expectOk(issued);
    process.stdout.write(
      `pairing code: ${String(issued['code'])}\n` +
        'enter it on the other device: twinspace pair --join <this host:port> <code>\n',
    );
    const outcome = await controlRequest(
      socket,
      { op: 'await-pairing', timeoutMs },
      timeoutMs + 5_000,
    );
    if (!outcome.ok) {
      process.stderr.write(`twinspace: pairing failed: ${String(outcome['message'])}\n`);
      return 1;
    }
    process.stdout.write(
      `paired with ${String(outcome['name'])} (${String(outcome['deviceId'])})\nSAS: ${String(outcome['sas'])}\n`,
    );
    return 0;
  }
  const code = positionals[0];
  if (code === undefined || positionals.length > 1) {
    throw usageError('pair --join needs <host:port> <code>');
  }
  const outcome = await controlRequest(socket, {
    op: 'pair-join',
    address: values.join ?? '',
    code,
  });
  if (!outcome.ok) {
    process.stderr.write(
      `twinspace: pairing failed (${String(outcome['reason'] ?? outcome['code'])}): ${String(outcome['message'])}\n`,
    );
    return 1;
  }
  process.stdout.write(
    `paired with ${String(outcome['name'])} (${String(outcome['deviceId'])})\nSAS: ${String(outcome['sas'])}\n`,
  );
  return 0;
}

function socketOf(stateDir: string | undefined): string {
  if (stateDir === undefined) throw usageError('this command needs --state-dir');
  return path.join(path.resolve(stateDir), 'control.sock');
}

async function expectOk(response: ControlResponse): Promise<void> {
  await Promise.resolve();
  if (!response.ok) {
    throw new TwinspaceError(
      response['code'] === 'validation' ? 'validation' : 'internal',
      String(response['message']),
    );
  }
}

function parseCount(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${name} must be a non-negative integer`);
  return n;
}

/** `{ [key]: n }` for a given positive millisecond option, `{}` when it is absent. */
function msOption<K extends string>(
  text: string | undefined,
  name: string,
  key: K,
): Partial<Record<K, number>> {
  if (text === undefined) return {};
  const n = parseCount(text, name);
  if (n < 1) throw usageError(`${name} must be at least 1`);
  return { [key]: n } as Partial<Record<K, number>>;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw usageError(`--port must be an integer 0-65535, got ${JSON.stringify(text)}`);
  }
  return port;
}

function usageError(message: string): TwinspaceError {
  return new TwinspaceError('validation', `${message}\n${USAGE}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const code = error instanceof TwinspaceError ? error.code : 'internal';
      process.stderr.write(`twinspace: ${describeError(error)} [${code}]\n`);
      process.exitCode = code === 'validation' ? 2 : 1;
    },
  );
}
