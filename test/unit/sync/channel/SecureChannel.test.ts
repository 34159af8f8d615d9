import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { FRAME_OVERHEAD_BYTES } from '../../../../src/sync/channel/FrameCipher';
import { ProtocolError } from '../../../../src/sync/channel/ProtocolError';
import type { ChannelClose, SecureChannel } from '../../../../src/sync/channel/SecureChannel';
import { encodeFrame } from '../../../../src/sync/transport/FrameDecoder';
import type { FrameInterceptor } from '../../../../src/sync/transport/MemoryDuplex';
import { connected, countDecryptions, settle, text, utf8 } from './helpers';

function closeOf(channel: SecureChannel): Promise<ChannelClose> {
  return new Promise((resolve) => channel.onClose(resolve));
}

function collect(channel: SecureChannel): string[] {
  const got: string[] = [];
  channel.onMessage((m) => got.push(text(m)));
  return got;
}

/**
 * An interceptor for the a->b direction that lets the handshake (frames 0 and 1) through and hands
 * application frames (index 0 = first one) to `onApp`.
 */
function appFrames(
  onApp: (payload: Uint8Array, index: number) => readonly Uint8Array[],
): FrameInterceptor {
  return (payload, index, direction) => {
    if (direction !== 'a->b' || index < 2) return [payload];
    return onApp(payload, index - 2);
  };
}

async function attackedSession(
  onApp: (payload: Uint8Array, index: number) => readonly Uint8Array[],
): Promise<{ got: string[]; closed: ChannelClose; senderClosed: ChannelClose }> {
  const { a, b } = await connected({ intercept: appFrames(onApp) });
  const got = collect(b);
  const closed = closeOf(b);
  const senderClosed = closeOf(a);
  for (const word of ['one', 'two', 'three', 'four']) {
    await a.send(utf8(word)).catch(() => undefined);
    await settle(1);
  }
  return { got, closed: await closed, senderClosed: await senderClosed };
}

function reasonOf(info: ChannelClose): string | undefined {
  return info.error?.reason;
}

describe('SecureChannel', () => {
  it('closes the session on a tampered frame and reads nothing after it', async () => {
    const { got, closed, senderClosed } = await attackedSession((payload, i) => {
      if (i !== 1) return [payload];
      const copy = Uint8Array.from(payload);
      copy[copy.length - 20] = (copy[copy.length - 20] ?? 0) ^ 0x01;
      return [copy];
    });
    assert.deepEqual(got, ['one']);
    assert.equal(closed.by, 'local');
    assert.equal(reasonOf(closed), 'decrypt_failed');
    assert.equal(closed.error?.code, 'unauthorized');
    assert.match(closed.message, /failed authentication/);
    assert.equal(senderClosed.by, 'transport');
  });

  it('rejects a tampered flags byte (flags are authenticated)', async () => {
    const { got, closed } = await attackedSession((payload, i) => {
      if (i !== 0) return [payload];
      const copy = Uint8Array.from(payload);
      copy[0] = 0x01; // claim MORE
      return [copy];
    });
    assert.deepEqual(got, []);
    assert.equal(reasonOf(closed), 'decrypt_failed');
  });

  it('closes the session on reordered frames', async () => {
    let held: Uint8Array | undefined;
    const { got, closed } = await attackedSession((payload, i) => {
      if (i === 1) {
        held = payload;
        return [];
      }
      if (i === 2 && held) return [payload, held];
      return [payload];
    });
    assert.deepEqual(got, ['one']);
    assert.equal(reasonOf(closed), 'decrypt_failed');
  });

  it('closes the session on a replayed frame, delivering the original once', async () => {
    const { got, closed } = await attackedSession((payload, i) =>
      i === 0 ? [payload, payload] : [payload],
    );
    assert.deepEqual(got, ['one']);
    assert.equal(reasonOf(closed), 'decrypt_failed');
  });

  it('closes the session on a dropped frame', async () => {
    const { got, closed } = await attackedSession((payload, i) => (i === 1 ? [] : [payload]));
    assert.deepEqual(got, ['one']);
    assert.equal(reasonOf(closed), 'decrypt_failed');
  });

  it('closes the session on a frame over the cap, as soon as its length arrives', async () => {
    const { a, b, ta } = await connected();
    const got = collect(b);
    const closed = closeOf(b);
    await a.send(utf8('fine'));
    // A length header claiming 1 MiB + 1, and no body: refused before anything is buffered.
    ta.write(Uint8Array.from([0x00, 0x10, 0x00, 0x01]));
    const info = await closed;
    assert.deepEqual(got, ['fine']);
    assert.equal(reasonOf(info), 'frame_too_large');
    assert.equal(info.error?.code, 'validation');
  });

  it('closes the session on a garbage frame injected mid-stream', async () => {
    const { a, b, ta } = await connected();
    const got = collect(b);
    const closed = closeOf(b);
    await a.send(utf8('before'));
    ta.write(encodeFrame(randomBytes(40)));
    await a.send(utf8('after')).catch(() => undefined);
    const info = await closed;
    assert.deepEqual(got, ['before']);
    assert.equal(reasonOf(info), 'decrypt_failed');
  });

  it('round-trips a 5 MB message in chunks and reassembles it', async () => {
    let frames = 0;
    const { a, b } = await connected({
      intercept: appFrames((payload) => {
        frames += 1;
        return [payload];
      }),
    });
    const message = randomBytes(5_000_000);
    const received = new Promise<Uint8Array>((resolve) => b.onMessage(resolve));
    await a.send(message);
    const got = await received;
    assert.equal(got.length, message.length);
    assert.equal(
      createHash('sha256').update(got).digest('hex'),
      createHash('sha256').update(message).digest('hex'),
    );
    assert.equal(frames, Math.ceil(5_000_000 / (1024 * 1024 - FRAME_OVERHEAD_BYTES)));
    a.close();
  });

  it('round-trips empty messages and messages of exactly one frame', async () => {
    const { a, b } = await connected({}, { maxFrameBytes: 64 + FRAME_OVERHEAD_BYTES });
    const got: number[] = [];
    b.onMessage((m) => got.push(m.length));
    await a.send(new Uint8Array(0));
    await a.send(new Uint8Array(64));
    await a.send(new Uint8Array(65));
    await a.send(new Uint8Array(128));
    await settle();
    assert.deepEqual(got, [0, 64, 65, 128]);
    a.close();
  });

  it('enforces the total message cap on the receiving side', async () => {
    const { a, b } = await connected({}, { maxFrameBytes: 1024 });
    // Give the sender a larger cap than the receiver, as a hostile peer would.
    (a as unknown as { maxMessageBytes: number }).maxMessageBytes = 1 << 20;
    (b as unknown as { maxMessageBytes: number }).maxMessageBytes = 10_000;
    const got = collect(b);
    const closed = closeOf(b);
    await a.send(new Uint8Array(20_000)).catch(() => undefined);
    const info = await closed;
    assert.deepEqual(got, []);
    assert.equal(reasonOf(info), 'message_too_large');
  });

  it('refuses to send a message over the cap, without closing', async () => {
    const { a, b } = await connected({}, { maxMessageBytes: 1000 });
    await assert.rejects(
      a.send(new Uint8Array(1001)),
      (err) => err instanceof ProtocolError && err.reason === 'message_too_large',
    );
    assert.equal(a.closed, false);
    const got = collect(b);
    await a.send(utf8('still open'));
    await settle();
    assert.deepEqual(got, ['still open']);
    a.close();
  });

  it('tells the peer why it closed, and refuses to send afterwards', async () => {
    const { a, b } = await connected();
    collect(b);
    const closed = closeOf(b);
    a.close('switching to another workspace');
    assert.deepEqual(await closed, { by: 'peer', message: 'switching to another workspace' });
    assert.deepEqual(a.closeReason, { by: 'local', message: 'switching to another workspace' });
    await assert.rejects(
      a.send(utf8('late')),
      (err) => err instanceof ProtocolError && err.reason === 'closed',
    );
    await assert.rejects(
      b.send(utf8('late')),
      (err) => err instanceof ProtocolError && err.reason === 'closed',
    );
  });

  it('reports a dead transport', async () => {
    const { a, b, ta } = await connected();
    collect(b);
    const closed = closeOf(b);
    ta.destroy(new Error('cable cut'));
    const info = await closed;
    assert.equal(info.by, 'transport');
    assert.equal(reasonOf(info), 'closed');
    assert.match(info.message, /cable cut/);
    assert.ok(a.closed || (await closeOf(a)));
  });

  it('does not decrypt anything before the first onMessage listener, then delivers in order', async () => {
    const { a, b } = await connected();
    const before = await countDecryptions(async () => {
      await a.send(utf8('1'));
      await a.send(utf8('2'));
      await settle();
    });
    assert.equal(before, 0);
    const got = collect(b);
    await settle();
    assert.deepEqual(got, ['1', '2']);
    a.close();
  });

  it('holds frames while paused and resumes in order', async () => {
    const { a, b } = await connected();
    const got = collect(b);
    b.pause();
    await a.send(utf8('x'));
    await a.send(utf8('y'));
    await settle();
    assert.deepEqual(got, []);
    b.resume();
    await settle();
    assert.deepEqual(got, ['x', 'y']);
    a.close();
  });

  it('closes with internal when a message listener throws', async () => {
    const { a, b } = await connected();
    const closed = closeOf(b);
    b.onMessage(() => {
      throw new Error('listener bug');
    });
    await a.send(utf8('boom'));
    const info = await closed;
    assert.equal(reasonOf(info), 'internal');
    assert.match(info.message, /listener bug/);
  });

  it('waits for the transport to drain when it is above its high-water mark', async () => {
    const { a, b } = await connected({ highWaterMark: 1024 });
    const got: number[] = [];
    b.onMessage((m) => got.push(m.length));
    let resolved = false;
    const sent = a.send(new Uint8Array(10_000)).then(() => (resolved = true));
    assert.equal(resolved, false);
    await sent;
    assert.equal(resolved, true);
    await settle();
    assert.deepEqual(got, [10_000]);
    a.close();
  });

  it('keeps messages of concurrent sends whole and in order', async () => {
    const { a, b } = await connected({}, { maxFrameBytes: 100 });
    const got: string[] = [];
    b.onMessage((m) => got.push(text(m)));
    const messages = ['a'.repeat(250), 'b'.repeat(10), 'c'.repeat(500)];
    await Promise.all(messages.map((m) => a.send(utf8(m))));
    await settle();
    assert.deepEqual(got, messages);
    a.close();
  });
});
