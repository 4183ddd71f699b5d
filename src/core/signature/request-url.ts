/**
 * Rebuilds the URL Twilio requested — the string it signed — from what this server received.
 * Sources, in order of authority:
 *   1. a configured public URL: its scheme, host (case kept: Twilio signs the host as
 *      configured), port and path prefix, then the received path and query. No header is read.
 *      The public URL's path is a prefix the proxy STRIPPED before forwarding — unless the
 *      received path already starts with it (`/telehealth` or `/telehealth/…`), then it is not
 *      added twice.
 *   2. forwarded headers, only when the peer is a trusted proxy, and only the ONE family the
 *      proxy writes (`forwardedHeaders`, default `x-forwarded`): a proxy that writes
 *      X-Forwarded-* passes a client's own `Forwarded` header through untouched, so believing
 *      both families would let the client choose the host.
 *      - `forwarded`: RFC 7239 `Forwarded` (proto=, host=). The element used is the one written by the
 *        OUTERMOST trusted proxy: starting from the nearest element (written by our peer), we
 *        step to the previous element only while this element's `for=` is itself a trusted
 *        proxy. One proxy in front → the last element. Elements a client wrote are never used.
 *      - `x-forwarded`: `X-Forwarded-Proto` / `-Host` / `-Port`: the same rule, with the trusted
 *        hops counted at the right end of `X-Forwarded-For`; a single (overwritten) value is used
 *        as is. `X-Forwarded-Prefix`: the path prefix the proxy stripped.
 *      Malformed values (a proto that is not http/https, a host with `/` or spaces, a port that
 *      is not a number) are ignored, field by field.
 *   3. the connection itself: `https` when TLS-encrypted else `http`, and the Host header as
 *      received.
 * The received path and query are never re-encoded: `'`, `+`, `%` stay as sent (twilio-node
 * #1059, #1183). The verifier then tries the result with and without the default port.
 */

export interface RequestUrlInput {
  /** e.g. `https://api.example.com:8443/telehealth` — a prefix the proxy strips before us. */
  readonly publicUrl?: string | undefined;
  readonly isTrustedProxy: (address: string) => boolean;
  /** The header family the trusted proxies write; the other family is ignored. Default `x-forwarded`. */
  readonly forwardedHeaders?: 'forwarded' | 'x-forwarded' | undefined;
  /** The TCP peer (`socket.remoteAddress`), IPv4, IPv6 or IPv4-mapped IPv6. */
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /** Node's IncomingHttpHeaders: lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `req.url`: the path and query exactly as received (an absolute-form target is accepted). */
  readonly rawUrl: string;
}

/**
 * @example reconstructSignedUrl({ publicUrl: 'https://api.example.com:8443/th', isTrustedProxy: () => false,
 *   remoteAddress: '10.0.0.2', encrypted: false, headers: {}, rawUrl: '/webhooks/twilio/video?x=1' })
 *   === 'https://api.example.com:8443/th/webhooks/twilio/video?x=1'
 * @example reconstructSignedUrl({ isTrustedProxy: (a) => a === '10.0.0.1', remoteAddress: '10.0.0.1',
 *   encrypted: false, headers: { host: 'app:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'Api.Example.com' },
 *   rawUrl: '/cb' }) === 'https://Api.Example.com/cb'
 */
export function reconstructSignedUrl(input: RequestUrlInput): string {
  const target = originForm(input.rawUrl);
  if (input.publicUrl) {
    const { origin, prefix } = splitBase(input.publicUrl);
    return origin + withPrefix(prefix, target);
  }
  let scheme = input.encrypted ? 'https' : 'http';
  let host = header(input.headers, 'host') ?? '';
  let prefix = '';
  if (input.isTrustedProxy(input.remoteAddress)) {
    if (input.forwardedHeaders === 'forwarded') {
      const forwarded = forwardedElement(header(input.headers, 'forwarded'), input.isTrustedProxy);
      scheme = forwarded?.proto ?? scheme;
      host = forwarded?.host ?? host;
    } else {
      const hops = trustedHops(header(input.headers, 'x-forwarded-for'), input.isTrustedProxy);
      const proto = pick(header(input.headers, 'x-forwarded-proto'), hops)?.toLowerCase();
      if (proto === 'http' || proto === 'https') scheme = proto;
      const forwardedHost = pick(header(input.headers, 'x-forwarded-host'), hops);
      if (forwardedHost && isHost(forwardedHost)) host = forwardedHost;
      const port = pick(header(input.headers, 'x-forwarded-port'), hops);
      if (port && /^\d{1,5}$/.test(port)) host = `${stripPort(host)}:${port}`;
      const forwardedPrefix = pick(header(input.headers, 'x-forwarded-prefix'), 1);
      if (forwardedPrefix && /^\/[^?#\s]*$/.test(forwardedPrefix)) prefix = forwardedPrefix.replace(/\/+$/, '');
    }
  }
  return `${scheme}://${host}${withPrefix(prefix, target)}`;
}

/** Path and query of the request target; an absolute-form target (`http://h/p?q`) is reduced. */
function originForm(rawUrl: string): string {
  if (rawUrl.startsWith('/')) return rawUrl;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(rawUrl);
  const rest = absolute ? rawUrl.slice(absolute[0].length) : rawUrl;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function splitBase(publicUrl: string): { origin: string; prefix: string } {
  // Kept as written (host case included): Twilio signs the URL as it was configured.
  const match = /^(https?:\/\/[^/?#]+)(\/[^?#]*)?$/i.exec(publicUrl.trim());
  if (!match) return { origin: publicUrl.replace(/\/+$/, ''), prefix: '' };
  return { origin: match[1]!, prefix: (match[2] ?? '').replace(/\/+$/, '') };
}

function withPrefix(prefix: string, target: string): string {
  if (!prefix) return target;
  if (target === prefix || target.startsWith(`${prefix}/`) || target.startsWith(`${prefix}?`)) return target;
  return prefix + target;
}

function header(headers: RequestUrlInput['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

interface ForwardedElement {
  proto?: string;
  host?: string;
  for?: string;
}

/** The `Forwarded` element written by the outermost trusted proxy (see the file comment). */
function forwardedElement(value: string | undefined, isTrustedProxy: (address: string) => boolean): ForwardedElement | undefined {
  if (!value) return undefined;
  const elements = splitOutsideQuotes(value, ',').map(parseForwardedElement);
  let index = elements.length - 1;
  while (index > 0) {
    const from = elements[index]!.for;
    if (from === undefined || !isTrustedProxy(from)) break;
    index--;
  }
  return elements[index];
}

function parseForwardedElement(element: string): ForwardedElement {
  const result: ForwardedElement = {};
  for (const pair of splitOutsideQuotes(element, ';')) {
    const separator = pair.indexOf('=');
    if (separator < 0) continue;
    const key = pair.slice(0, separator).trim().toLowerCase();
    const raw = pair.slice(separator + 1).trim();
    const unquoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    if (key === 'proto' && /^https?$/i.test(unquoted)) result.proto = unquoted.toLowerCase();
    if (key === 'host' && isHost(unquoted)) result.host = unquoted;
    if (key === 'for') result.for = nodeAddress(unquoted);
  }
  return result;
}

/** `"[2001:db8::1]:4711"` → `2001:db8::1`; `192.0.2.1:80` → `192.0.2.1`; `unknown`, `_hidden` stay (never trusted). */
function nodeAddress(node: string): string {
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    return close > 0 ? node.slice(1, close) : node;
  }
  const colon = node.indexOf(':');
  return colon >= 0 && colon === node.lastIndexOf(':') ? node.slice(0, colon) : node;
}

function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** 1 (our peer) + the trusted proxies at the right end of X-Forwarded-For. */
function trustedHops(forwardedFor: string | undefined, isTrustedProxy: (address: string) => boolean): number {
  if (!forwardedFor) return 1;
  const addresses = forwardedFor.split(',').map((entry) => nodeAddress(entry.trim()));
  let hops = 1;
  // The leftmost address is the client; it never makes an earlier value trustworthy.
  for (let i = addresses.length - 1; i > 0 && isTrustedProxy(addresses[i]!); i--) hops++;
  return hops;
}

/** The value written by the outermost of `hops` trusted proxies in a comma list; a single value as is. */
function pick(value: string | undefined, hops: number): string | undefined {
  if (value === undefined) return undefined;
  const values = value.split(',').map((entry) => entry.trim());
  const chosen = values[Math.max(0, values.length - hops)];
  return chosen ? chosen : undefined;
}

function isHost(value: string): boolean {
  return value.length > 0 && !/[\s/\\?#@]/.test(value);
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
