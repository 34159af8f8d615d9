import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TwinspaceError } from '../../../../src/core/errors';
import type { Clock } from '../../../../src/runtime/Clock';
import { PairingCodes } from '../../../../src/sync/pairing/PairingCodes';
import {
  PairingError,
  PairingFlow,
  type PairingFailureReason,
  type PairingFlowOptions,
  type PairingResult,
} from '../../../../src/sync/pairing/PairingFlow';
import { TrustStore, type TrustStoreOptions } from '../../../../src/sync/trust/TrustStore';
import {
  FakeChannel,
  FakeLink,
  fakeHandshake,
  fakeIdentity,
  type FakeIdentity,
} from './fakeHandshake';
import { fakeClock } from '../../support/fakeClock';

const T0 = 1_700_000_000_000;

interface Side {
  identity: FakeIdentity;
  trust: TrustStore;
  codes: PairingCodes;
  flow: PairingFlow<FakeLink, FakeIdentity>;
}

type Extra = Partial<PairingFlowOptions<FakeLink, FakeIdentity>> & {
  trustOptions?: TrustStoreOptions;
};

async function side(name: string, clock: Clock, extra: Extra = {}): Promise<Side> {
  const identity = fakeIdentity();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'tw-pair-')), 'trusted.json');
  const trust = await TrustStore.open(file, { clock, ...extra.trustOptions });
  const codes = extra.codes ?? new PairingCodes();
  const flow = new PairingFlow<FakeLink, FakeIdentity>({
    identity,
    trust,
    codes,
    handshake: fakeHandshake,
    localName: name,
    clock,
    ...extra,
  });
  return { identity, trust, codes, flow };
}

/** Runs both sides on one link; never rejects (the outcomes are returned). */
async function pair(
  a: Side,
  b: Side,
  typed: string,
  options: { link?: FakeLink; expectedDeviceId?: string } = {},
): Promise<{
  accepted: PromiseSettledResult<PairingResult>;
  joined: PromiseSettledResult<PairingResult>;
  link: FakeLink;
}> {
  const link = options.link ?? new FakeLink();
  const [accepted, joined] = await Promise.allSettled([
    a.flow.acceptPairing(() => Promise.resolve(link)),
    b.flow.joinPairing(
      () => Promise.resolve(link),
      typed,
      options.expectedDeviceId !== undefined ? { expectedDeviceId: options.expectedDeviceId } : {},
    ),
  ]);
  return { accepted, joined, link };
}

function reasonOf(result: PromiseSettledResult<PairingResult>): PairingFailureReason | 'ok' {
  if (result.status === 'fulfilled') return 'ok';
  const error: unknown = result.reason;
  assert.ok(error instanceof PairingError, `expected a PairingError, got ${String(error)}`);
  assert.ok(error instanceof TwinspaceError);
  return error.reason;
}

function errorOf(result: PromiseSettledResult<PairingResult>): PairingError {
  assert.equal(result.status, 'rejected');
  return result.reason as PairingError;
}

function assertNothingStored(...sides: Side[]): void {
  for (const s of sides) assert.deepEqual(s.trust.list(), [], 'nothing stored');
}

/** A code different from `canonical` (last character changed). */
function wrongCode(canonical: string): string {
  return canonical.slice(0, -1) + (canonical.endsWith('0') ? '1' : '0');
}

describe('PairingFlow', () => {
  it('happy path: both sides store each other, see the same SAS, and the code is consumed', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('Desktop', clock);
    const b = await side('Laptop', clock);
    const { code } = a.codes.issue(clock.now());
    // Typed sloppily: lower case, spaces instead of dashes.
    const { accepted, joined, link } = await pair(a, b, code.toLowerCase().replace(/-/g, ' '));
    assert.equal(accepted.status, 'fulfilled');
    assert.equal(joined.status, 'fulfilled');
    const atA = accepted.value;
    const atB = joined.value;

    assert.equal(atA.peer.deviceId, b.identity.deviceId);
    assert.equal(atA.peer.name, 'Laptop');
    assert.equal(atA.peer.defaultGrant, 'read-write');
    assert.equal(atB.peer.deviceId, a.identity.deviceId);
    assert.equal(atB.peer.name, 'Desktop');
    assert.equal(a.trust.isTrusted(b.identity.deviceId, b.identity.publicKey), true);
    assert.equal(b.trust.isTrusted(a.identity.deviceId, a.identity.publicKey), true);
    assert.match(atA.sas, /^\d{6}$/);
    assert.equal(atA.sas, atB.sas);
    assert.equal(a.codes.state(clock.now()).status, 'used');
    // Both handshakes got the canonical code, whatever was typed.
    assert.deepEqual(
      link.seen.map((o) => o.pairingCode),
      [code.replace(/-/g, ''), code.replace(/-/g, '')],
    );

    // The channels are handed over open, with the flow's listeners gone.
    const chA = atA.channel;
    const chB = atB.channel;
    assert.ok(chA instanceof FakeChannel && chB instanceof FakeChannel);
    assert.equal(chA.closed, false);
    await chB.send(new TextEncoder().encode('hello'));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(chA.held, 1, 'the next message waits for the new owner');
  });

  it('a wrong code: clear errors on both sides, an attempt used, nothing stored', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock);
    const b = await side('B', clock);
    const { canonical } = a.codes.issue(clock.now());
    const { accepted, joined } = await pair(a, b, wrongCode(canonical));
    assert.equal(reasonOf(accepted), 'wrong');
    assert.equal(errorOf(accepted).code, 'unauthorized');
    assert.match(errorOf(accepted).message, /wrong pairing code.*4 attempts left/);
    assert.equal(reasonOf(joined), 'code_rejected');
    assert.equal(errorOf(joined).code, 'unauthorized');
    assert.match(errorOf(joined).message, /did not accept the pairing code/);
    assertNothingStored(a, b);
    const state = a.codes.state(clock.now());
    assert.equal(state.status === 'active' ? state.attemptsLeft : -1, 4);
  });

  it('an expired code: refused before the handshake, without using an attempt; nothing stored', async () => {
    const { clock, fake } = fakeClock(T0);
    const a = await side('A', clock);
    const b = await side('B', clock);
    const { code } = a.codes.issue(clock.now());
    fake.tick(5 * 60_000);
    const { accepted, joined, link } = await pair(a, b, code);
    assert.equal(reasonOf(accepted), 'expired');
    assert.equal(errorOf(accepted).code, 'unauthorized');
    assert.match(errorOf(accepted).message, /expired/);
    assert.equal(reasonOf(joined), 'code_rejected');
    // The responder ran the handshake without any code, so the joiner heard a refusal.
    assert.equal(link.seen.find((o) => o.role === 'responder')?.pairingCode, undefined);
    assertNothingStored(a, b);
  });

  it('a reused code: the second device is refused and stores nothing', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock);
    const b = await side('B', clock);
    const c = await side('C', clock);
    const { code } = a.codes.issue(clock.now());
    const first = await pair(a, b, code);
    assert.equal(reasonOf(first.joined), 'ok');
    const second = await pair(a, c, code);
    assert.equal(reasonOf(second.accepted), 'used');
    assert.match(errorOf(second.accepted).message, /already used/);
    assert.equal(reasonOf(second.joined), 'code_rejected');
    assertNothingStored(c);
    assert.deepEqual(
      a.trust.list().map((p) => p.deviceId),
      [b.identity.deviceId],
    );
  });

  it('too many attempts burn the code, even for the right code afterwards', async () => {
    const { clock } = fakeClock(T0);
    const codes = new PairingCodes({ maxAttempts: 2 });
    const a = await side('A', clock, { codes });
    const b = await side('B', clock);
    const { code, canonical } = codes.issue(clock.now());
    const one = await pair(a, b, wrongCode(canonical));
    assert.equal(reasonOf(one.accepted), 'wrong');
    const two = await pair(a, b, wrongCode(canonical));
    assert.equal(reasonOf(two.accepted), 'exhausted');
    assert.match(errorOf(two.accepted).message, /too many/);
    const three = await pair(a, b, code);
    assert.equal(reasonOf(three.accepted), 'exhausted');
    assert.equal(reasonOf(three.joined), 'code_rejected');
    assertNothingStored(a, b);
  });

  it('no active code: refused as "none"', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock);
    const b = await side('B', clock);
    const { accepted, joined } = await pair(a, b, 'ABCD-EFGH-JKMN');
    assert.equal(reasonOf(accepted), 'none');
    assert.equal(reasonOf(joined), 'code_rejected');
    assertNothingStored(a, b);
  });

  it('input that is not a code fails at once, without connecting', async () => {
    const { clock } = fakeClock(T0);
    const b = await side('B', clock);
    let connected = false;
    await assert.rejects(
      b.flow.joinPairing(() => {
        connected = true;
        return Promise.resolve(new FakeLink());
      }, 'ABCD-EFGH'),
      (e: unknown) =>
        e instanceof PairingError && e.reason === 'wrong' && e.code === 'unauthorized',
    );
    assert.equal(connected, false);
    assertNothingStored(b);
  });

  it('a network failure during the handshake counts as an attempt and stores nothing', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock);
    const b = await side('B', clock);
    const { code } = a.codes.issue(clock.now());
    const link = new FakeLink();
    link.drop = true;
    const { accepted, joined } = await pair(a, b, code, { link });
    assert.equal(reasonOf(accepted), 'interrupted');
    assert.equal(errorOf(accepted).code, 'closed');
    assert.equal(reasonOf(joined), 'interrupted');
    assertNothingStored(a, b);
    const state = a.codes.state(clock.now());
    assert.equal(state.status === 'active' ? state.attemptsLeft : -1, 4);
  });

  it('a device that did not ask to pair is refused without using an attempt', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock);
    a.codes.issue(clock.now());
    const stranger = fakeIdentity();
    const link = new FakeLink();
    const [accepted, normal] = await Promise.allSettled([
      a.flow.acceptPairing(() => Promise.resolve(link)),
      fakeHandshake(link, {
        identity: stranger,
        role: 'initiator',
        isTrusted: () => true,
        timeoutMs: 1_000,
      }),
    ]);
    assert.equal(reasonOf(accepted), 'not_pairing');
    assert.equal(normal.status, 'rejected');
    const state = a.codes.state(clock.now());
    assert.equal(state.status === 'active' ? state.attemptsLeft : -1, 5);
    assertNothingStored(a);
  });

  it('the SAS not confirmed on either side: nothing stored on either side', async () => {
    for (const rejecting of ['acceptor', 'joiner'] as const) {
      const { clock } = fakeClock(T0);
      const no = { confirmSas: () => false };
      const yes = { confirmSas: () => true };
      const a = await side('A', clock, rejecting === 'acceptor' ? no : yes);
      const b = await side('B', clock, rejecting === 'joiner' ? no : yes);
      const { code } = a.codes.issue(clock.now());
      const { accepted, joined } = await pair(a, b, code);
      assert.equal(reasonOf(accepted), 'sas_rejected', rejecting);
      assert.equal(reasonOf(joined), 'sas_rejected', rejecting);
      assertNothingStored(a, b);
      // The code was proved, so it is spent anyway.
      assert.equal(a.codes.state(clock.now()).status, 'used');
    }
  });

  it('the SAS prompt sees the same digits on both sides and is told when pairing ends', async () => {
    const { clock } = fakeClock(T0);
    const shown: { sas: string; device: string; signal: AbortSignal }[] = [];
    const prompt = {
      confirmSas: (check: { sas: string; remoteDeviceId: string; signal: AbortSignal }) => {
        shown.push({ sas: check.sas, device: check.remoteDeviceId, signal: check.signal });
        return true;
      },
    };
    const a = await side('A', clock, prompt);
    const b = await side('B', clock, prompt);
    const { code } = a.codes.issue(clock.now());
    const { accepted } = await pair(a, b, code);
    assert.equal(reasonOf(accepted), 'ok');
    assert.equal(shown.length, 2);
    assert.equal(shown[0]!.sas, shown[1]!.sas);
    assert.deepEqual(
      shown.map((s) => s.device).sort(),
      [a.identity.deviceId, b.identity.deviceId].sort(),
    );
    assert.ok(shown.every((s) => s.signal.aborted));
  });

  it('the showing side failing to save: the joiner stores nothing either', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock, {
      trustOptions: { writeFile: () => Promise.reject(new Error('read-only file system')) },
    });
    const b = await side('B', clock);
    const { code } = a.codes.issue(clock.now());
    const { accepted, joined } = await pair(a, b, code);
    assert.equal(reasonOf(accepted), 'storage');
    assert.equal(reasonOf(joined), 'storage');
    assert.match(errorOf(joined).message, /could not save/);
    assertNothingStored(a, b);
  });

  it('the joiner checks that the chosen device answered', async () => {
    const { clock } = fakeClock(T0);
    const a = await side('A', clock);
    const b = await side('B', clock);
    const { code } = a.codes.issue(clock.now());
    const { accepted, joined } = await pair(a, b, code, {
      expectedDeviceId: fakeIdentity().deviceId,
    });
    assert.equal(reasonOf(joined), 'device_mismatch');
    assert.equal(reasonOf(accepted), 'interrupted');
    assertNothingStored(a, b);
  });

  it('a joiner that never confirms: the showing side gives up after the exchange timeout', async () => {
    const { clock, fake } = fakeClock(T0);
    const a = await side('A', clock, { exchangeTimeoutMs: 30_000 });
    const { code } = a.codes.issue(clock.now());
    const link = new FakeLink();
    const accepting = a.flow.acceptPairing(() => Promise.resolve(link));
    accepting.catch(() => undefined);
    // A bare initiator: completes the handshake, then says nothing.
    const silent = await fakeHandshake(link, {
      identity: fakeIdentity(),
      role: 'initiator',
      pairingCode: code.replace(/-/g, ''),
      isTrusted: () => true,
      timeoutMs: 1_000,
    });
    await fake.tickAsync(29_999);
    assert.deepEqual(a.trust.list(), []);
    await fake.tickAsync(1);
    await assert.rejects(
      accepting,
      (e: unknown) => e instanceof PairingError && e.reason === 'interrupted',
    );
    assertNothingStored(a);
    assert.ok(silent instanceof FakeChannel);
    assert.equal(silent.closed, true, 'the channel is closed on failure');
  });

  it('a joiner whose answer never comes stores nothing', async () => {
    const { clock, fake } = fakeClock(T0);
    const b = await side('B', clock, { exchangeTimeoutMs: 30_000 });
    const link = new FakeLink();
    const joining = b.flow.joinPairing(() => Promise.resolve(link), 'ABCD-EFGH-JKMN');
    joining.catch(() => undefined);
    // A bare responder with the same code that never answers the confirmation.
    await fakeHandshake(link, {
      identity: fakeIdentity(),
      role: 'responder',
      pairingCode: 'ABCDEFGHJKMN',
      isTrusted: () => false,
      timeoutMs: 1_000,
    });
    await fake.tickAsync(30_000);
    await assert.rejects(
      joining,
      (e: unknown) => e instanceof PairingError && e.reason === 'interrupted',
    );
    assertNothingStored(b);
  });
});
