import { strict as assert } from 'node:assert';
import { timingSafeEqual } from 'node:crypto';
import {
  CROCKFORD_ALPHABET,
  encodePairingCode,
  formatPairingCode,
  normalizePairingCode,
  PairingCodes,
  type PairingCheck,
} from '../../../../src/sync/pairing/PairingCodes';

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

function failureCode(check: PairingCheck): string {
  return check.ok ? 'ok' : check.code;
}

/** A code that differs from `code` in its last character. */
function otherThan(code: string): string {
  const last = code.slice(-1);
  return code.slice(0, -1) + (last === '0' ? '1' : '0');
}

describe('PairingCodes', () => {
  describe('format and entropy', () => {
    it('draws 8 random bytes and shows 12 Crockford characters in groups of four', () => {
      const sizes: number[] = [];
      const codes = new PairingCodes({
        randomBytes: (n) => {
          sizes.push(n);
          return new Uint8Array(n).fill(0xa5);
        },
      });
      const issued = codes.issue(T0);
      assert.deepEqual(sizes, [8]);
      assert.match(
        issued.code,
        /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/,
      );
      assert.equal(issued.canonical, issued.code.replace(/-/g, ''));
      assert.equal(issued.expiresAt, T0 + 5 * MINUTE);
    });

    it('maps the top 60 bits of the random bytes to characters, 5 bits each', () => {
      assert.equal(encodePairingCode(new Uint8Array(8)), '000000000000');
      assert.equal(encodePairingCode(new Uint8Array(8).fill(0xff)), 'ZZZZZZZZZZZZ');
      // 0x0842108421084210 >> 4 = 0x084210842108421: twelve 5-bit groups of 1.
      const ones = Uint8Array.from([0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x42, 0x10]);
      assert.equal(encodePairingCode(ones), '111111111111');
      // The low 4 bits of the last byte are unused.
      const a = new Uint8Array(8).fill(0x12);
      const b = Uint8Array.from(a);
      b[7] = 0x1f;
      assert.equal(encodePairingCode(a), encodePairingCode(b));
    });

    it('real codes are distinct and use the whole alphabet', () => {
      const codes = new PairingCodes();
      const seen = new Set<string>();
      const chars = new Set<string>();
      for (let i = 0; i < 500; i++) {
        const { canonical } = codes.issue(T0);
        assert.match(canonical, /^[0-9A-HJKMNP-TV-Z]{12}$/);
        seen.add(canonical);
        for (const c of canonical) chars.add(c);
      }
      assert.equal(seen.size, 500);
      assert.equal(chars.size, 32);
      assert.equal(CROCKFORD_ALPHABET.length, 32);
    });
  });

  describe('normalization', () => {
    it('ignores case, dashes and spaces, and maps O→0, I/L→1', () => {
      assert.equal(normalizePairingCode('abcd-efgh-jkmn'), 'ABCDEFGHJKMN');
      assert.equal(normalizePairingCode(' ABCD EFGH  JKMN '), 'ABCDEFGHJKMN');
      assert.equal(normalizePairingCode('oOiI-lL00-1111'), '001111001111');
      assert.equal(formatPairingCode('ABCDEFGHJKMN'), 'ABCD-EFGH-JKMN');
    });

    it('rejects a wrong length or a character outside the alphabet', () => {
      assert.equal(normalizePairingCode('ABCD-EFGH-JKM'), undefined);
      assert.equal(normalizePairingCode('ABCD-EFGH-JKMNP'), undefined);
      assert.equal(normalizePairingCode('ABCD-EFGH-JKMU'), undefined);
      assert.equal(normalizePairingCode('ABCD-EFGH-JKM!'), undefined);
      assert.equal(normalizePairingCode(''), undefined);
    });

    it('a typed code matches whatever its spelling', () => {
      const codes = new PairingCodes({ randomBytes: () => new Uint8Array(8) });
      codes.issue(T0); // 0000-0000-0000
      assert.equal(codes.check('oooo oooo-OOOO', T0).ok, true);
    });
  });

  describe('lifetime and use', () => {
    it('expires after the configured time (fake now)', () => {
      const codes = new PairingCodes({ ttlMs: 2 * MINUTE });
      const { code, expiresAt } = codes.issue(T0);
      assert.equal(expiresAt, T0 + 2 * MINUTE);
      assert.equal(codes.currentCode(expiresAt - 1), code.replace(/-/g, ''));
      assert.equal(codes.state(expiresAt - 1).status, 'active');
      assert.equal(failureCode(codes.check(code, expiresAt)), 'expired');
      assert.equal(codes.currentCode(expiresAt), undefined);
      assert.equal(codes.state(expiresAt + MINUTE).status, 'expired');
    });

    it('defaults to five minutes', () => {
      const codes = new PairingCodes();
      const { code } = codes.issue(T0);
      assert.equal(codes.check(code, T0 + 5 * MINUTE - 1).ok, true);
      const again = new PairingCodes();
      const second = again.issue(T0);
      assert.equal(failureCode(again.check(second.code, T0 + 5 * MINUTE)), 'expired');
    });

    it('is single use', () => {
      const codes = new PairingCodes();
      const { code } = codes.issue(T0);
      assert.equal(codes.check(code, T0 + 1).ok, true);
      const second = codes.check(code, T0 + 2);
      assert.equal(failureCode(second), 'used');
      assert.equal(codes.currentCode(T0 + 2), undefined);
    });

    it('is burned after five wrong attempts, even for the right code afterwards', () => {
      const codes = new PairingCodes();
      const { canonical } = codes.issue(T0);
      const wrong = otherThan(canonical);
      const results = [1, 2, 3, 4].map((i) => codes.check(wrong, T0 + i));
      assert.deepEqual(results.map(failureCode), ['wrong', 'wrong', 'wrong', 'wrong']);
      assert.deepEqual(
        results.map((r) => (r.ok ? -1 : r.attemptsLeft)),
        [4, 3, 2, 1],
      );
      assert.equal(failureCode(codes.check(wrong, T0 + 5)), 'exhausted');
      assert.equal(failureCode(codes.check(canonical, T0 + 6)), 'exhausted');
      assert.equal(codes.currentCode(T0 + 6), undefined);
    });

    it('malformed input is "wrong" but does not use up an attempt', () => {
      const codes = new PairingCodes({ maxAttempts: 2 });
      const { code } = codes.issue(T0);
      for (let i = 0; i < 5; i++) {
        assert.equal(failureCode(codes.check('nope', T0)), 'wrong');
      }
      assert.equal(codes.check(code, T0).ok, true);
    });

    it('"none" before any code, and after cancel; a new code replaces the old', () => {
      const codes = new PairingCodes();
      assert.equal(failureCode(codes.check('0000-0000-0000', T0)), 'none');
      const first = codes.issue(T0);
      const second = codes.issue(T0);
      assert.notEqual(first.canonical, second.canonical);
      assert.equal(failureCode(codes.check(first.code, T0)), 'wrong');
      codes.cancel();
      assert.equal(failureCode(codes.check(second.code, T0)), 'none');
    });

    it('recordFailure / consume report a handshake outcome', () => {
      const codes = new PairingCodes({ maxAttempts: 2 });
      codes.issue(T0);
      assert.equal(codes.recordFailure(T0).status, 'active');
      assert.equal(codes.recordFailure(T0).status, 'exhausted');
      codes.issue(T0);
      codes.consume();
      assert.equal(codes.state(T0).status, 'used');
    });
  });

  describe('attempt reservations', () => {
    it('attempts in flight count against the limit', () => {
      const codes = new PairingCodes({ maxAttempts: 3 });
      const { canonical } = codes.issue(T0);
      const begun = [1, 2, 3].map(() => codes.beginAttempt(T0));
      assert.ok(begun.every((b) => b.ok));
      const fourth = codes.beginAttempt(T0);
      assert.equal(fourth.ok ? 'ok' : fourth.code, 'busy');
      const [a, b, c] = begun.map((x) => x.attempt);
      assert.equal(a!.code, canonical);
      a!.abandon(); // not counted
      assert.equal(codes.beginAttempt(T0).ok, true);
      assert.equal(b!.fail(T0).status, 'active');
      c!.fail(T0);
      c!.fail(T0); // settles once
      const state = codes.state(T0);
      assert.equal(state.status === 'active' ? state.attemptsLeft : -1, 1);
    });

    it('a successful attempt consumes the code', () => {
      const codes = new PairingCodes();
      codes.issue(T0);
      const begun = codes.beginAttempt(T0);
      assert.ok(begun.ok);
      begun.attempt.succeed();
      const next = codes.beginAttempt(T0 + 1);
      assert.equal(next.ok ? 'ok' : next.code, 'used');
    });

    it('refuses with the reason when no code can be used', () => {
      const codes = new PairingCodes();
      const none = codes.beginAttempt(T0);
      assert.equal(none.ok ? 'ok' : none.code, 'none');
      codes.issue(T0);
      const expired = codes.beginAttempt(T0 + 5 * MINUTE);
      assert.equal(expired.ok ? 'ok' : expired.code, 'expired');
    });
  });

  describe('constant-time comparison', () => {
    it('always compares two 32-byte digests with the constant-time function', () => {
      const calls: [number, number][] = [];
      const codes = new PairingCodes({
        constantTimeEqual: (a, b) => {
          calls.push([a.length, b.length]);
          return timingSafeEqual(a, b);
        },
      });
      const { code, canonical } = codes.issue(T0);
      codes.check(otherThan(canonical), T0); // same length, wrong
      codes.check('ABCD', T0); // too short
      codes.check(`${canonical}${canonical}`, T0); // too long
      assert.equal(codes.check(code.toLowerCase(), T0).ok, true);
      assert.deepEqual(calls, [
        [32, 32],
        [32, 32],
        [32, 32],
        [32, 32],
      ]);
    });

    it('a lying comparator decides the outcome (the comparison is really the one used)', () => {
      const codes = new PairingCodes({ constantTimeEqual: () => false });
      const { code } = codes.issue(T0);
      assert.equal(failureCode(codes.check(code, T0)), 'wrong');
    });
  });
});
