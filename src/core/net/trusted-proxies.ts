/**
 * Which peers' forwarded headers are believed. A comma list of IPv4/IPv6 addresses and CIDR
 * ranges, plus the keywords `loopback` and `private`. IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`)
 * match their IPv4 entries.
 *
 * @example parseTrustedProxies('10.0.0.0/8, ::1')('::ffff:10.1.2.3') === true
 */
import { BlockList, isIP } from 'node:net';

const KEYWORDS: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', '127.0.0.0/8', '::1/128'],
};

export function parseTrustedProxies(list: string): (address: string) => boolean {
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .flatMap((entry) => KEYWORDS[entry.toLowerCase()] ?? [entry]);
  if (entries.length === 0) return () => false;
  const blocks = new BlockList();
  for (const entry of entries) {
    const [address, prefixText, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (!family || extra !== undefined) throw new Error(`'${entry}' is not an IP address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) {
      blocks.addAddress(address!, type);
      continue;
    }
    const prefix = Number(prefixText);
    if (!/^\d+$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw new Error(`'${entry}' has an invalid prefix length`);
    blocks.addSubnet(address!, prefix, type);
  }
  return (candidate) => {
    const address = candidate.startsWith('::ffff:') && isIP(candidate.slice(7)) === 4 ? candidate.slice(7) : candidate;
    const family = isIP(address);
    if (!family) return false;
    return blocks.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}
