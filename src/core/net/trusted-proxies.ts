/**
 * Which peers' forwarded headers are believed. A comma list of IPv4/IPv6 addresses and CIDR
 * ranges, plus the keywords `loopback` (127.0.0.0/8, ::1) and `private` (RFC 1918, fc00::/7 and
 * loopback). IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`) match their IPv4 entries. A bad entry
 * throws an Error naming it (the service turns it into a start-up error naming the variable).
 */
import { BlockList, isIP } from 'node:net';

const KEYWORDS: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', '127.0.0.0/8', '::1/128'],
};

/**
 * @example parseTrustedProxies('10.0.0.0/8, ::1')('::ffff:10.1.2.3') === true
 * @example parseTrustedProxies('loopback, 192.168.0.0/16')('192.168.4.2') === true
 * @throws Error naming the entry, e.g. `'10.0.0.0/33' has an invalid prefix length`
 */
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
  // Asked for every request, often twice (whether to believe the peer, then each forwarded hop);
  // BlockList.check builds a SocketAddress each time. Peers are few: their answers are kept.
  const known = new Map<string, boolean>();
  return (candidate) => {
    let trusted = known.get(candidate);
    if (trusted === undefined) {
      const address = unmapIpv4(candidate);
      const family = isIP(address);
      trusted = family !== 0 && blocks.check(address, family === 4 ? 'ipv4' : 'ipv6');
      if (known.size >= KNOWN_PEERS) known.clear();
      known.set(candidate, trusted);
    }
    return trusted;
  };
}

/** How many peers' answers are kept (then forgotten at once): a bound whatever the peers. */
const KNOWN_PEERS = 1024;

/**
 * `::ffff:10.1.2.3` and its hex spelling `::ffff:a01:203` → `10.1.2.3` (a dual-stack server
 * reports IPv4 peers so); an IPv6 zone (`fe80::1%eth0`) is dropped. Anything else unchanged.
 */
function unmapIpv4(address: string): string {
  const zone = address.indexOf('%');
  const bare = (zone >= 0 ? address.slice(0, zone) : address).toLowerCase();
  if (!bare.startsWith('::ffff:')) return bare;
  const tail = bare.slice(7);
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(tail);
  if (!hex) return bare;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}
