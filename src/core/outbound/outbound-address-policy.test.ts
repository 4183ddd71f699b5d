/**
 * The SSRF rules, by generated cases: every address of each refused range (IPv4, IPv6, and IPv6
 * forms that embed a refused IPv4) is refused, as a literal and in every spelling the URL parser
 * turns into it; public addresses pass; http only when allowed; the allow-list opens exactly
 * what it names.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isRefusedAddress, outboundPolicy } from './outbound-address-policy.js';

const strict = outboundPolicy();
const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const inRange = (base: string, prefix: number) => {
  const start = base.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
  return fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => v4(start + offset));
};
const refusedV4 = fc.oneof(
  inRange('127.0.0.0', 8),
  inRange('10.0.0.0', 8),
  inRange('172.16.0.0', 12),
  inRange('192.168.0.0', 16),
  inRange('169.254.0.0', 16),
  inRange('100.64.0.0', 10),
  inRange('0.0.0.0', 8),
  inRange('224.0.0.0', 4),
  inRange('240.0.0.0', 4),
);
const publicV4 = fc.oneof(inRange('8.8.0.0', 16), inRange('1.1.1.0', 24), inRange('93.184.216.0', 24), inRange('151.101.0.0', 16));
const hex4 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const refusedV6 = fc.oneof(
  fc.constant('::1'),
  fc.constant('::'),
  fc.constant('0:0:0:0:0:0:0:1'),
  fc.tuple(hex4, hex4).map(([a, b]) => `fe80::${a}:${b}`),
  fc.tuple(hex4, hex4).map(([a, b]) => `fd00:ec2::${a}:${b}`),
  fc.tuple(hex4, hex4).map(([a, b]) => `fc00::${a}:${b}`),
  fc.tuple(hex4).map(([a]) => `ff02::${a}`),
  refusedV4.map((address) => `::ffff:${address}`),
  refusedV4.map((address) => `64:ff9b::${address}`),
  refusedV4.map((address) => {
    const [a, b, c, d] = address.split('.').map(Number);
    return `2002:${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}::1`;
  }),
);

/** Spellings of an IPv4 address the WHATWG URL parser accepts as that address. */
const spellings = (address: string) => {
  const parts = address.split('.').map(Number);
  const n = parts.reduce((sum, part) => sum * 256 + part, 0);
  return [
    address,
    String(n),
    `0x${n.toString(16)}`,
    parts.map((part) => `0${part.toString(8)}`).join('.'),
    parts.map((part) => `0x${part.toString(16)}`).join('.'),
    `${parts[0]}.${(parts[1]! << 16) | (parts[2]! << 8) | parts[3]!}`,
    `[::ffff:${address}]`,
  ];
};

describe('outbound address policy', () => {
  it('refuses every address of the refused IPv4 ranges, in every URL spelling', () => {
    fc.assert(
      fc.property(refusedV4, (address) => {
        expect(isRefusedAddress(address, strict)).toBe(true);
        for (const host of spellings(address)) {
          const verdict = checkWebhookUrl(`https://${host}:8443/hook`, strict);
          expect(verdict.ok, host).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses loopback, link-local, unique-local, multicast and IPv4-embedding IPv6 forms of refused addresses', () => {
    fc.assert(
      fc.property(refusedV6, (address) => {
        expect(isRefusedAddress(address, strict), address).toBe(true);
        expect(checkWebhookUrl(`https://[${address}]/hook`, strict).ok, address).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('lets public addresses through, also inside IPv6 forms', () => {
    fc.assert(
      fc.property(publicV4, (address) => {
        expect(isRefusedAddress(address, strict)).toBe(false);
        expect(isRefusedAddress(`::ffff:${address}`, strict)).toBe(false);
        expect(checkWebhookUrl(`https://${address}/hook`, strict).ok).toBe(true);
      }),
    );
    expect(isRefusedAddress('2606:4700:4700::1111', strict)).toBe(false);
    expect(checkWebhookUrl('https://hooks.example.com/x', strict).ok).toBe(true);
  });

  it('names the metadata services among the refused', () => {
    for (const host of ['169.254.169.254', '[fd00:ec2::254]', '[::ffff:169.254.169.254]', '2852039166', '0251.0376.0251.0376']) {
      expect(checkWebhookUrl(`https://${host}/latest/meta-data/`, strict)).toMatchObject({ ok: false });
    }
  });

  it('allows http only when the operator does, or to loopback in sandbox mode; never credentials or other schemes', () => {
    expect(checkWebhookUrl('http://hooks.example.com/x', strict)).toEqual({ ok: false, reason: 'https only' });
    expect(checkWebhookUrl('http://hooks.example.com/x', outboundPolicy({ allowHttp: true })).ok).toBe(true);
    expect(checkWebhookUrl('http://127.0.0.1:9000/x', outboundPolicy({ sandbox: true })).ok).toBe(true);
    expect(checkWebhookUrl('http://localhost:9000/x', outboundPolicy({ sandbox: true })).ok).toBe(true);
    expect(checkWebhookUrl('http://hooks.example.com/x', outboundPolicy({ sandbox: true })).ok).toBe(false);
    expect(checkWebhookUrl('http://127.0.0.1:9000/x', outboundPolicy({ allowHttp: true })).ok).toBe(false);
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://example.com', 'https://user:pw@example.com/x', 'not a url']) {
      expect(checkWebhookUrl(url, strict).ok, url).toBe(false);
    }
  });

  it('opens exactly what the allow-list names', () => {
    const policy = outboundPolicy({ allowList: '10.1.2.0/24, fd12::/16' });
    expect(isRefusedAddress('10.1.2.9', policy)).toBe(false);
    expect(isRefusedAddress('::ffff:10.1.2.9', policy)).toBe(false);
    expect(isRefusedAddress('10.1.3.9', policy)).toBe(true);
    expect(isRefusedAddress('fd12::1', policy)).toBe(false);
    expect(isRefusedAddress('fd13::1', policy)).toBe(true);
    expect(isRefusedAddress('127.0.0.1', policy)).toBe(true);
    expect(isRefusedAddress('not-an-ip', policy)).toBe(true);
  });
});
