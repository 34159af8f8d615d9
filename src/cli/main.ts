/**
 * src/cli: the headless Twinspace peer. The same runtime and sync as the extension, with Node
 * implementations of the host interfaces: diagnostics go to stderr, state to a status file.
 *
 *   twinspace serve <folder> [--name N] [--state-dir D] [--port P] [--mdns-host H] [--no-mdns]
 *   twinspace status [--state-dir D | <folder>]
 */
import { parseArgs } from 'node:util';
import { describeError, TwinspaceError } from '../core/errors';
import { readStatus, serve } from './serve';

const USAGE = `usage:
  twinspace serve <folder> [--name <device name>] [--state-dir <dir>] [--port <n>]
                           [--mdns-host <host name>] [--no-mdns]
  twinspace status [--state-dir <dir> | <folder>]
  twinspace help`;

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
        },
      });
      const folder = positionals[0];
      if (folder === undefined || positionals.length > 1)
        throw usageError('serve needs one folder');
      const port = values.port !== undefined ? parsePort(values.port) : 0;
      return serve({
        folder,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values['state-dir'] !== undefined ? { stateDir: values['state-dir'] } : {}),
        ...(values['mdns-host'] !== undefined ? { mdnsHost: values['mdns-host'] } : {}),
        port,
        mdns: !values['no-mdns'],
      });
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
