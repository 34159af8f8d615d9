import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  MAX_ADDRESSES,
  MAX_NAME_BYTES,
  buildTxtRecord,
  defaultMdnsHost,
  instanceShortId,
  isValidDeviceId,
  orderAddresses,
  parseAnnouncement,
  parseUintField,
  sanitizeDeviceName,
  serviceInstanceName,
} from '../../../../src/sync/discovery/announcement';

const SELF = 'SELFSELFSELFSELFSELFSELFSELFSELF';
const PEER = 'PEERAAAABBBBCCCCDDDDEEEEFFFFGGGG';

/** A service shaped like the ones bonjour-service's browser emits. */
function service(overrides: Record<string, unknown> = {}, txt: Record<string, unknown> = {}) {
  return {
    name: 'twinspace-peeraaaabbbb',
    fqdn: 'twinspace-peeraaaabbbb._twinspace._tcp.local',
    host: 'twinspace-peeraaaabbbb.local',
    port: 7000,
    type: 'twinspace',
    protocol: 'tcp',
    addresses: ['10.77.0.2', 'fd77::2'],
    referer: { address: '10.77.0.2', family: 'IPv4', port: 5353, size: 300 },
    txt: { id: PEER, v: '1', port: '7000', name: 'laptop', ...txt },
    ...overrides,
  };
}

describe('discovery announcement', () => {
  describe('publishing side', () => {
    it('names the instance and host after the device id', () => {
      assert.equal(instanceShortId('ABCD-EFGH_IJKLMNOP'), 'abcdefghijkl');
      assert.equal(serviceInstanceName(PEER), 'twinspace-peeraaaabbbb');
      assert.equal(defaultMdnsHost(PEER), 'twinspace-peeraaaabbbb.local');
    });

    it('builds the TXT record with id, v, port and a sanitized name', () => {
      assert.deepEqual(
        buildTxtRecord({
          deviceId: PEER,
          deviceName: ' my\u0007 box ',
          port: 4242,
          protocolVersion: 3,
        }),
        { id: PEER, v: '3', port: '4242', name: 'my box' },
      );
      const noName = buildTxtRecord({
        deviceId: PEER,
        deviceName: '\u0000',
        port: 1,
        protocolVersion: 1,
      });
      assert.equal('name' in noName, false);
    });

    it('keeps every TXT string within one DNS character-string (255 bytes)', () => {
      const txt = buildTxtRecord({
        deviceId: PEER,
        deviceName: '\u{1F600}'.repeat(300),
        port: 1,
        protocolVersion: 1,
      });
      for (const [k, v] of Object.entries(txt)) {
        assert.ok(Buffer.byteLength(`${k}=${v}`) <= 255, k);
      }
    });
  });

  describe('sanitizeDeviceName', () => {
    it('removes control and bidi-override characters and collapses whitespace', () => {
      assert.equal(sanitizeDeviceName('a\u202Eexe.txt\r\n  b\t'), 'a exe.txt b');
      assert.equal(sanitizeDeviceName(42), '');
      assert.equal(sanitizeDeviceName(undefined), '');
    });

    it('cuts at MAX_NAME_BYTES on a code point boundary', () => {
      const name = sanitizeDeviceName('é'.repeat(500));
      assert.equal(Buffer.byteLength(name), MAX_NAME_BYTES);
      const emoji = sanitizeDeviceName('\u{1F600}'.repeat(100));
      assert.equal(Buffer.byteLength(emoji), MAX_NAME_BYTES);
      assert.ok(!emoji.includes('\uFFFD'));
      assert.equal(emoji.match(/\u{1F600}/gu)?.length, MAX_NAME_BYTES / 4);
    });
  });

  describe('parseUintField', () => {
    it('accepts plain decimal strings in range only', () => {
      assert.equal(parseUintField('7000', 1, 65535), 7000);
      assert.equal(parseUintField('65535', 1, 65535), 65535);
      for (const bad of [
        '0',
        '65536',
        '99999',
        '-1',
        '+80',
        ' 80',
        '80 ',
        '1e3',
        '0x50',
        '',
        '8.0',
        80,
        null,
      ]) {
        assert.equal(parseUintField(bad, 1, 65535), undefined, String(bad));
      }
    });
  });

  describe('isValidDeviceId', () => {
    it('accepts identity-style ids and rejects anything else', () => {
      assert.ok(isValidDeviceId(PEER));
      for (const bad of [
        '',
        'abc',
        '-ABCDEF',
        'AB CD',
        'A'.repeat(129),
        'AB/CD',
        'ABCD\u0000',
        7,
        null,
      ]) {
        assert.equal(isValidDeviceId(bad), false, JSON.stringify(bad));
      }
    });
  });

  describe('orderAddresses', () => {
    it('puts the referer first, then IPv4, then IPv6', () => {
      assert.deepEqual(orderAddresses(['fd77::2', '172.17.0.1', '10.77.0.2'], '10.77.0.2'), [
        '10.77.0.2',
        '172.17.0.1',
        'fd77::2',
      ]);
      assert.deepEqual(orderAddresses(['fd77::2', '172.17.0.1'], '10.9.9.9'), [
        '172.17.0.1',
        'fd77::2',
      ]);
    });

    it('falls back to the referer when the service lists no address (loopback)', () => {
      assert.deepEqual(orderAddresses([], '127.0.0.1'), ['127.0.0.1']);
      assert.deepEqual(orderAddresses(undefined, '10.77.0.3'), ['10.77.0.3']);
      assert.deepEqual(orderAddresses(undefined, undefined), []);
      assert.deepEqual(orderAddresses(undefined, 'not-an-ip'), []);
    });

    it('drops non-addresses, unspecified, multicast and zone-less link-local, and duplicates', () => {
      assert.deepEqual(
        orderAddresses(
          ['x', 7, '0.0.0.0', '::', '224.0.0.251', 'ff02::fb', 'fe80::1', '10.0.0.1', '10.0.0.1'],
          '239.1.1.1',
        ),
        ['10.0.0.1'],
      );
    });

    it('keeps at most MAX_ADDRESSES', () => {
      const many = Array.from({ length: 100 }, (_, i) => `10.0.${i}.1`);
      assert.equal(orderAddresses(many, undefined).length, MAX_ADDRESSES);
    });
  });

  describe('parseAnnouncement', () => {
    it('turns a valid announcement into a peer', () => {
      const got = parseAnnouncement(service(), SELF, 1234);
      assert.equal(got.kind, 'peer');
      assert.equal(got.instance, 'twinspace-peeraaaabbbb._twinspace._tcp.local');
      assert.deepEqual(got.peer, {
        deviceId: PEER,
        name: 'laptop',
        host: '10.77.0.2',
        port: 7000,
        protocolVersion: 1,
        addresses: ['10.77.0.2', 'fd77::2'],
        lastSeenAt: 1234,
      });
    });

    it('recognises our own announcement', () => {
      assert.deepEqual(parseAnnouncement(service({}, { id: SELF }), SELF, 0), { kind: 'self' });
    });

    it('uses the referer address when the service has none, and falls back for the name', () => {
      const got = parseAnnouncement(
        service({ addresses: [], name: 'ws\u0000box' }, { name: undefined }),
        SELF,
        0,
      );
      assert.equal(got.kind, 'peer');
      assert.deepEqual(got.peer.addresses, ['10.77.0.2']);
      assert.equal(got.peer.name, 'ws box');
      const unnamed = parseAnnouncement(service({ name: 7 }, { name: '' }), SELF, 0);
      assert.ok(unnamed.kind === 'peer' && unnamed.peer.name === 'twinspace-peeraaaabbbb');
    });

    const hostile: [string, unknown][] = [
      ['not an object', 'hello'],
      ['null', null],
      ['an array', [service()]],
      ['no TXT', service({ txt: undefined })],
      ['TXT is a string', service({ txt: 'id=x' })],
      ['no id', service({}, { id: undefined })],
      ['id too short', service({}, { id: 'AB' })],
      ['id with a slash', service({}, { id: '../../etc/passwd' })],
      ['id with a NUL', service({}, { id: `${PEER}\u0000` })],
      ['id is a number', service({}, { id: 12345678 })],
      ['no version', service({}, { v: undefined })],
      ['version 0', service({}, { v: '0' })],
      ['version not a number', service({}, { v: 'one' })],
      ['version huge', service({}, { v: '99999999999999999999' })],
      ['TXT port missing', service({}, { port: undefined })],
      ['TXT port 0', service({}, { port: '0' })],
      ['TXT port too big', service({}, { port: '70000' })],
      ['TXT port not a number', service({}, { port: '80; rm -rf /' })],
      ['SRV port differs', service({ port: 7001 })],
      ['SRV port missing', service({ port: undefined })],
      ['no fqdn', service({ fqdn: undefined })],
      ['fqdn too long', service({ fqdn: 'x'.repeat(300) })],
      ['no usable address', service({ addresses: ['224.0.0.1'], referer: undefined })],
      ['addresses junk, referer junk', service({ addresses: 'x', referer: { address: 5 } })],
    ];
    for (const [label, raw] of hostile) {
      it(`ignores an announcement with ${label}`, () => {
        const got = parseAnnouncement(raw, SELF, 0);
        assert.equal(got.kind, 'invalid');
        assert.ok(got.reason.length > 0);
      });
    }

    it('never throws and only yields well-formed peers, whatever arrives', () => {
      const kinds = { peer: 0, self: 0, invalid: 0 };
      const field = fc.oneof(
        fc.string(),
        fc.integer(),
        fc.constant(undefined),
        fc.constant(null),
        fc.array(fc.string(), { maxLength: 4 }),
        fc.constantFrom('1', '7000', PEER, '10.0.0.1', 'fd00::1'),
      );
      /** Mostly a plausible value, sometimes anything at all. */
      const mostly = <T>(valid: fc.Arbitrary<T>) =>
        fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: field, weight: 1 });
      fc.assert(
        fc.property(
          fc.record({
            name: field,
            fqdn: mostly(fc.constantFrom('a._twinspace._tcp.local', 'B._twinspace._tcp.local')),
            port: mostly(fc.oneof(fc.constant(7000), fc.integer())),
            addresses: mostly(fc.array(fc.oneof(field, fc.ipV4(), fc.ipV6()), { maxLength: 12 })),
            referer: fc.oneof(field, fc.record({ address: mostly(fc.ipV4()) })),
            txt: fc.oneof(
              field,
              fc.dictionary(fc.string({ maxLength: 5 }), field, { maxKeys: 5 }),
              fc.record(
                {
                  id: mostly(fc.constantFrom(PEER, SELF)),
                  v: mostly(fc.constantFrom('1', '2', '65535', '65536', '0')),
                  port: mostly(fc.constant('7000')),
                  name: fc.oneof(field, fc.string({ unit: 'binary', maxLength: 300 })),
                },
                { requiredKeys: [] },
              ),
            ),
          }),
          (raw) => {
            const got = parseAnnouncement(raw, SELF, 5);
            kinds[got.kind] += 1;
            if (got.kind !== 'peer') return;
            const p = got.peer;
            assert.ok(isValidDeviceId(p.deviceId) && p.deviceId !== SELF);
            assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535);
            assert.ok(p.protocolVersion >= 1 && p.protocolVersion <= 65535);
            assert.ok(p.addresses.length >= 1 && p.addresses.length <= MAX_ADDRESSES);
            assert.equal(p.host, p.addresses[0]);
            assert.ok(Buffer.byteLength(p.name) <= MAX_NAME_BYTES && p.name.length > 0);
          },
        ),
        { numRuns: 2000 },
      );
      // the generator reaches every outcome, so the property is not vacuous
      assert.ok(kinds.peer > 0 && kinds.invalid > 0 && kinds.self > 0, JSON.stringify(kinds));
    });
  });
});
