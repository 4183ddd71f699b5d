/**
 * Where Roomgate may send a tenant's webhooks (SSRF): a tenant names the URL, so without a
 * check it could make Roomgate call the cloud's metadata service, the database, or anything on
 * the private network. Two checks, both needed:
 *
 * - the URL, when the endpoint is saved and before each delivery (`checkWebhookUrl`): https only
 *   (http when the operator allows it, or to loopback in sandbox mode), no credentials, and an IP
 *   literal in any spelling the URL parser accepts (decimal `2130706433`, octal `0177.0.0.1`,
 *   hex, short `127.1`, `[::ffff:127.0.0.1]`) is judged as the address it is;
 * - the address a host name resolves to, at connect time (`isRefusedAddress`, used by the
 *   connection's `lookup`): a name that resolves (or re-resolves, DNS rebinding) to a refused
 *   address is never connected to.
 *
 * Refused unless the operator's allow-list names them: loopback, private (RFC 1918, unique
 * local), link-local (with the metadata services 169.254.169.254 and fd00:ec2::254),
 * carrier-grade NAT, "this network", benchmarking, multicast, reserved, and IPv6 forms that
 * embed an IPv4 address (mapped, compatible, NAT64, 6to4) when the embedded one is refused.
 */
import { BlockList, isIP } from 'node:net';
import { parseTrustedProxies } from '../net/trusted-proxies.js';

const REFUSED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];
const REFUSED_V6 = ['::/128', '::1/128', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8'];

const refusedV4 = new BlockList();
for (const range of REFUSED_V4) {
  const [address, prefix] = range.split('/');
  refusedV4.addSubnet(address!, Number(prefix), 'ipv4');
}
const refusedV6 = new BlockList();
for (const range of REFUSED_V6) {
  const [address, prefix] = range.split('/');
  refusedV6.addSubnet(address!, Number(prefix), 'ipv6');
}

export interface OutboundPolicy {
  /** Addresses (CIDR list, as ROOMGATE_TRUSTED_PROXIES) allowed although in a refused range. */
  readonly allow: (address: string) => boolean;
  /** http:// URLs are allowed (ROOMGATE_WEBHOOK_ALLOW_HTTP). */
  readonly allowHttp: boolean;
  /** Sandbox mode: http:// to a loopback address is allowed, and loopback is reachable. */
  readonly sandbox: boolean;
}

export function outboundPolicy(options: { allowList?: string; allowHttp?: boolean; sandbox?: boolean } = {}): OutboundPolicy {
  return { allow: parseTrustedProxies(options.allowList ?? ''), allowHttp: options.allowHttp ?? false, sandbox: options.sandbox ?? false };
}

/** True when a connection to this address (IPv4 or IPv6 text) must not be made. Not an address → true. */
export function isRefusedAddress(address: string, policy: OutboundPolicy): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (policy.allow(address)) return false;
  if (policy.sandbox && isLoopback(address)) return false;
  if (family === 4) return refusedV4.check(address, 'ipv4');
  const bytes = ipv6Bytes(address);
  const embedded = embeddedIpv4(bytes);
  if (embedded !== undefined) return policy.allow(embedded) ? false : refusedV4.check(embedded, 'ipv4');
  return refusedV6.check(address, 'ipv6');
}

export function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.startsWith('127.');
  if (family === 6) {
    const bytes = ipv6Bytes(address);
    const embedded = embeddedIpv4(bytes);
    if (embedded !== undefined) return embedded.startsWith('127.');
    return bytes.every((byte, index) => byte === (index === 15 ? 1 : 0));
  }
  return false;
}

export type UrlVerdict = { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: string };

/** The URL's own rules (scheme, credentials, an IP literal's address); the resolved address is checked at connect time. */
export function checkWebhookUrl(text: string, policy: OutboundPolicy): UrlVerdict {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL' };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (url.protocol === 'http:') {
    const loopbackInSandbox = policy.sandbox && (isLoopback(host) || host === 'localhost');
    if (!policy.allowHttp && !loopbackInSandbox) return { ok: false, reason: 'https only' };
  } else if (url.protocol !== 'https:') {
    return { ok: false, reason: 'https only' };
  }
  if (isIP(host) && isRefusedAddress(host, policy)) return { ok: false, reason: `refused address ${host}` };
  return { ok: true, url };
}

/** The 16 bytes of an IPv6 address (`::` and a trailing dotted quad allowed). */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase().split('%')[0]!;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const parts = quad[1]!.split('.').map(Number);
    text = `${text.slice(0, -quad[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.flatMap((group) => {
    const value = parseInt(group || '0', 16);
    return [value >> 8, value & 0xff];
  });
}

/** The IPv4 address an IPv6 address carries: mapped, compatible, NAT64 (64:ff9b::/96), 6to4 (2002::/16). */
function embeddedIpv4(bytes: readonly number[]): string | undefined {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  const v4 = (offset: number) => bytes.slice(offset, offset + 4).join('.');
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return v4(12);
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && bytes[15] === 1)) return v4(12);
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12)) return v4(12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return v4(2);
  return undefined;
}
