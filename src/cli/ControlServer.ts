/**
 * The local control channel of a running `twinspace serve`: a Unix socket `<state-dir>/control.sock`
 * (mode 0600, inside the 0700 state folder, so only the owner can open it) speaking JSON lines:
 * one request line in, one response line out, then the connection closes.
 *
 *   {"op":"status"}                                  → {"ok":true,"status":{…}}
 *   {"op":"issue-pairing-code"}                      → {"ok":true,"code":"ABCD-…","expiresAt":…}
 *   {"op":"await-pairing","timeoutMs":N}             → {"ok":true,"deviceId","name","sas"} | error
 *   {"op":"pair-join","address":"h:p","code":"…"}    → {"ok":true,"deviceId","name","sas"} | error
 *   {"op":"visit","nodeId":"…","label":"…"}          → {"ok":true}
 *   {"op":"index-file","path":"…","size":N,"hash":"…"} → {"ok":true}
 *   {"op":"sync-status","minPeers":N,"files":bool}   → {"ok":true,"synced":bool,"docHash" (when synced),"files","peers"}
 *   {"op":"workspaces"}                              → {"ok":true,"local":{…},"offers":[ranked…]}
 *   {"op":"link","workspaceId":"…"}                  → {"ok":true,"workspaceId"}
 *   {"op":"rotate-key"}                              → {"ok":true,"oldDeviceId","newDeviceId","notified"}
 *
 * Errors: {"ok":false,"code":"validation|unauthorized|…","reason"?,"message":"…"}.
 */
import { promises as fs } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { describeError, TwinspaceError } from '../core/errors';

export type ControlRequest = Readonly<Record<string, unknown>> & { readonly op: string };
export type ControlResponse = Readonly<Record<string, unknown>> & { readonly ok: boolean };
export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

const MAX_REQUEST_BYTES = 64 * 1024;

export class ControlServer {
  private constructor(
    readonly socketPath: string,
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
  ) {}

  /** Listens on `socketPath` (a stale socket file left by a dead process is replaced). */
  static async listen(socketPath: string, handler: ControlHandler): Promise<ControlServer> {
    await fs.rm(socketPath, { force: true });
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.length > MAX_REQUEST_BYTES) {
          socket.end(
            `${JSON.stringify({ ok: false, code: 'validation', message: 'request too large' })}\n`,
          );
          return;
        }
        const nl = buffer.indexOf('\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = '';
        socket.pause();
        void respond(line, handler).then((response) => {
          if (!socket.destroyed) socket.end(`${JSON.stringify(response)}\n`);
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fs.chmod(socketPath, 0o600);
    return new ControlServer(socketPath, server, sockets);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    await fs.rm(this.socketPath, { force: true });
  }
}

async function respond(line: string, handler: ControlHandler): Promise<ControlResponse> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, code: 'validation', message: 'request is not JSON' };
  }
  if (
    typeof request !== 'object' ||
    request === null ||
    typeof (request as { op?: unknown }).op !== 'string'
  ) {
    return { ok: false, code: 'validation', message: 'request needs an "op" string' };
  }
  try {
    return await handler(request as ControlRequest);
  } catch (error) {
    const code = error instanceof TwinspaceError ? error.code : 'internal';
    const reason = (error as { reason?: unknown }).reason;
    return {
      ok: false,
      code,
      ...(typeof reason === 'string' ? { reason } : {}),
      message: describeError(error),
    };
  }
}

/** Sends one request to the serve process owning `socketPath` and returns its answer. */
export function controlRequest(
  socketPath: string,
  request: ControlRequest,
  timeoutMs = 30_000,
): Promise<ControlResponse> {
  return new Promise<ControlResponse>((resolve, reject) => {
    {
      const socket = createConnection(socketPath);
      let buffer = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TwinspaceError('closed', `no answer from ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.setEncoding('utf8');
      socket.on('connect', () => {
        socket.write(`${JSON.stringify(request)}\n`);
      });
      socket.on('data', (chunk: string) => {
        buffer += chunk;
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(
          new TwinspaceError(
            'not_found',
            `cannot reach the serve process at ${socketPath} (is "twinspace serve" running?): ${error.message}`,
          ),
        );
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const line = buffer.split('\n')[0] ?? '';
        try {
          resolve(JSON.parse(line) as ControlResponse);
        } catch {
          reject(new TwinspaceError('internal', `bad answer from ${socketPath}: ${line}`));
        }
      });
    }
  });
}
