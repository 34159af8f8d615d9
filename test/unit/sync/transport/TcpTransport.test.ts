import { strict as assert } from 'node:assert';
import { TcpTransport } from '../../../../src/sync/transport/TcpTransport';
import type { TcpListener } from '../../../../src/sync/transport/TcpTransport';

describe('TcpTransport', () => {
  let listener: TcpListener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  it('connects on 127.0.0.1, carries bytes both ways and reports a close', async () => {
    let accept: (t: TcpTransport) => void = () => undefined;
    const accepted = new Promise<TcpTransport>((resolve) => (accept = resolve));
    listener = await TcpTransport.listen({ host: '127.0.0.1' }, (t) => {
      accept(t);
    });
    assert.ok(listener.port > 0);
    const client = await TcpTransport.connect({ host: '127.0.0.1', port: listener.port });
    const peer = await accepted;
    assert.match(peer.description, /^tcp 127\.0\.0\.1:\d+$/);

    const received: number[] = [];
    const echoed = new Promise<void>((resolve) => {
      peer.onData((chunk) => {
        received.push(...chunk);
        if (received.length === 5) resolve();
      });
    });
    client.write(Uint8Array.from([1, 2]));
    client.write(Uint8Array.from([3, 4, 5]));
    await echoed;
    assert.deepEqual(received, [1, 2, 3, 4, 5]);

    const back = new Promise<number[]>((resolve) => {
      client.onData((c) => {
        resolve([...c]);
      });
    });
    peer.write(Uint8Array.from([42]));
    assert.deepEqual(await back, [42]);

    const peerClosed = new Promise<Error | undefined>((resolve) => peer.onClose(resolve));
    const clientClosed = new Promise<Error | undefined>((resolve) => client.onClose(resolve));
    client.close('done');
    assert.equal(client.closed, true);
    assert.equal(client.write(Uint8Array.from([1])), false);
    assert.equal(await peerClosed, undefined);
    assert.equal(await clientClosed, undefined);
  });

  it('rejects a connection to a closed port', async () => {
    listener = await TcpTransport.listen({ host: '127.0.0.1' }, () => undefined);
    const port = listener.port;
    await listener.close();
    listener = undefined;
    await assert.rejects(TcpTransport.connect({ host: '127.0.0.1', port }), /ECONNREFUSED/);
  });

  it('honours an abort signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await assert.rejects(
      TcpTransport.connect({ host: '127.0.0.1', port: 9, signal: controller.signal }),
      /stop/,
    );
  });
});
