/**
 * Transport over a node:net socket (LAN Device Sync). `TcpTransport.connect` dials with a timeout;
 * `TcpTransport.listen` accepts connections and hands each one over as a TcpTransport.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Transport } from './Transport';

/** How long `close` waits for the peer to finish the TCP shutdown before destroying the socket. */
const CLOSE_GRACE_MS = 2_000;

export interface TcpConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Gives up after this long (default 10 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface TcpListenOptions {
  /** Default `0.0.0.0`. Use 127.0.0.1 in tests. */
  readonly host?: string;
  /** Default 0: an ephemeral port (read it back from `TcpListener.port`). */
  readonly port?: number;
}

export interface TcpListener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting; connections already handed over stay open. */
  close(): Promise<void>;
}

export class TcpTransport implements Transport {
  readonly description: string;
  private isClosed = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly socket: Socket) {
    this.description = `tcp ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('error', () => {
      // Reported through 'close' (hadError); without a listener an error would crash the process.
    });
    socket.once('close', () => {
      this.isClosed = true;
      if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    });
  }

  static connect(options: TcpConnectOptions): Promise<TcpTransport> {
    return new Promise<TcpTransport>((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const socket = createConnection({ host: options.host, port: options.port });
      const timeoutMs = options.timeoutMs ?? 10_000;
      const fail = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onError = (err: Error): void => {
        fail(err);
      };
      const onAbort = (): void => {
        fail(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        fail(
          new Error(`connect to ${options.host}:${options.port} timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        cleanup();
        resolve(new TcpTransport(socket));
      });
    });
  }

  static listen(
    options: TcpListenOptions,
    onConnection: (transport: TcpTransport) => void,
  ): Promise<TcpListener> {
    return new Promise<TcpListener>((resolve, reject) => {
      const server: Server = createServer({ noDelay: true }, (socket) => {
        onConnection(new TcpTransport(socket));
      });
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        resolve({
          host: options.host ?? '0.0.0.0',
          port,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => {
                done();
              });
            }),
        });
      });
    });
  }

  get closed(): boolean {
    return this.isClosed || this.socket.destroyed;
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.socket.writableEnded) return false;
    return this.socket.write(chunk);
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    const handler = (chunk: Buffer): void => {
      if (!this.isClosed) listener(chunk);
    };
    this.socket.on('data', handler);
    return () => this.socket.off('data', handler);
  }

  onDrain(listener: () => void): () => void {
    this.socket.on('drain', listener);
    return () => this.socket.off('drain', listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    let lastError: Error | undefined;
    const onError = (err: Error): void => {
      lastError = err;
    };
    const onClose = (hadError: boolean): void => {
      listener(hadError ? (lastError ?? new Error('socket error')) : undefined);
    };
    this.socket.on('error', onError);
    this.socket.once('close', onClose);
    return () => {
      this.socket.off('error', onError);
      this.socket.off('close', onClose);
    };
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(_reason?: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.end();
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }
}
