import { describe, expect, it } from 'vitest';
import { parseTrustedProxies } from './trusted-proxies.js';

describe('parseTrustedProxies', () => {
  it('matches addresses, CIDR ranges and IPv4-mapped IPv6 peers', () => {
    const trusted = parseTrustedProxies('10.0.0.0/8, 192.168.1.5, 2001:db8::/32');
    expect(trusted('10.200.3.4')).toBe(true);
    expect(trusted('::ffff:10.200.3.4')).toBe(true);
    expect(trusted('192.168.1.5')).toBe(true);
    expect(trusted('192.168.1.6')).toBe(false);
    expect(trusted('2001:db8:1::7')).toBe(true);
    expect(trusted('2001:db9::7')).toBe(false);
    expect(trusted('11.0.0.1')).toBe(false);
    expect(trusted('not-an-ip')).toBe(false);
    expect(trusted('')).toBe(false);
  });

  it('unmaps IPv4-mapped peers in any spelling and drops IPv6 zones', () => {
    const trusted = parseTrustedProxies('127.0.0.1, fe80::/10');
    expect(trusted('::FFFF:127.0.0.1')).toBe(true);
    expect(trusted('::ffff:7f00:1')).toBe(true);
    expect(trusted('::ffff:7f00:2')).toBe(false);
    expect(trusted('fe80::1%eth0')).toBe(true);
  });

  it('knows loopback and private keywords', () => {
    expect(parseTrustedProxies('loopback')('127.0.0.1')).toBe(true);
    expect(parseTrustedProxies('loopback')('::1')).toBe(true);
    expect(parseTrustedProxies('loopback')('10.0.0.1')).toBe(false);
    expect(parseTrustedProxies('private')('172.20.0.1')).toBe(true);
  });

  it('answers the same when asked again, past the bound on remembered peers', () => {
    const trusted = parseTrustedProxies('10.0.0.0/8');
    const peers = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? `10.0.${i >> 8}.${i & 255}` : `11.0.${i >> 8}.${i & 255}`));
    for (let round = 0; round < 2; round++) {
      for (const [i, peer] of peers.entries()) expect(trusted(peer)).toBe(i % 2 === 0);
    }
    expect(trusted('not an address')).toBe(false);
    expect(trusted('not an address')).toBe(false);
  });

  it('trusts nobody when empty', () => {
    expect(parseTrustedProxies('')('127.0.0.1')).toBe(false);
  });

  it.each(['10.0.0.0/33', 'example.com', '10.0.0.1/8/2', '::1/129', '300.1.1.1'])('refuses %s naming the entry', (entry) => {
    expect(() => parseTrustedProxies(entry)).toThrow(entry);
  });
});
