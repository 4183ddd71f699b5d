/**
 * Rebuilds the URL Twilio requested — the string it signed — from what this server received.
 * Sources, in order of authority:
 *   1. a configured public URL (scheme, host, port, path prefix) + the received path and query;
 *   2. forwarded headers, only when the peer is a trusted proxy: RFC 7239 `Forwarded`
 *      (proto=, host=), else `X-Forwarded-Proto` / `-Host` / `-Port` / `-Prefix`;
 *   3. the connection itself: http or https, and the Host header as received.
 * The received path and query are never re-encoded: `'`, `+`, `%` stay as sent (twilio-node #1059).
 */

export interface RequestUrlInput {
  /** e.g. `https://api.example.com:8443/telehealth` — a prefix the proxy strips before us. */
  readonly publicUrl?: string | undefined;
  readonly isTrustedProxy: (address: string) => boolean;
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /** Node's IncomingHttpHeaders: lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `req.url`: the path and query exactly as received. */
  readonly rawUrl: string;
}

/**
 * @example reconstructSignedUrl({ publicUrl: 'https://api.example.com:8443/th', isTrustedProxy: () => false,
 *   remoteAddress: '10.0.0.2', encrypted: false, headers: {}, rawUrl: '/webhooks/twilio/video?x=1' })
 *   === 'https://api.example.com:8443/th/webhooks/twilio/video?x=1'
 */
export function reconstructSignedUrl(input: RequestUrlInput): string {
  const rawUrl = input.rawUrl.startsWith('/') ? input.rawUrl : `/${input.rawUrl}`;
  if (input.publicUrl) {
    const { origin, prefix } = splitBase(input.publicUrl);
    return origin + withPrefix(prefix, rawUrl);
  }
  let scheme = input.encrypted ? 'https' : 'http';
  let host = header(input.headers, 'host') ?? '';
  let prefix = '';
  if (input.isTrustedProxy(input.remoteAddress)) {
    const forwarded = lastForwardedElement(header(input.headers, 'forwarded'));
    if (forwarded && (forwarded.proto || forwarded.host)) {
      scheme = forwarded.proto ?? scheme;
      host = forwarded.host ?? host;
    } else {
      scheme = lastListValue(header(input.headers, 'x-forwarded-proto'))?.toLowerCase() ?? scheme;
      host = lastListValue(header(input.headers, 'x-forwarded-host')) ?? host;
      const port = lastListValue(header(input.headers, 'x-forwarded-port'));
      if (port && /^\d{1,5}$/.test(port)) host = `${stripPort(host)}:${port}`;
      prefix = (lastListValue(header(input.headers, 'x-forwarded-prefix')) ?? '').replace(/\/+$/, '');
    }
  }
  return `${scheme}://${host}${withPrefix(prefix, rawUrl)}`;
}

function splitBase(publicUrl: string): { origin: string; prefix: string } {
  // Kept as written (host case included): Twilio signs the URL as it was configured.
  const match = /^(https?:\/\/[^/?#]+)(\/[^?#]*)?$/i.exec(publicUrl.trim());
  if (!match) return { origin: publicUrl, prefix: '' };
  return { origin: match[1]!, prefix: (match[2] ?? '').replace(/\/+$/, '') };
}

function withPrefix(prefix: string, rawUrl: string): string {
  if (!prefix) return rawUrl;
  if (rawUrl === prefix || rawUrl.startsWith(`${prefix}/`) || rawUrl.startsWith(`${prefix}?`)) return rawUrl;
  return prefix + rawUrl;
}

function header(headers: RequestUrlInput['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The element added by the nearest proxy — the one we trust; earlier ones may come from the client. */
function lastForwardedElement(value: string | undefined): { proto?: string; host?: string } | undefined {
  if (!value) return undefined;
  const element = value.split(',').at(-1)!;
  const result: { proto?: string; host?: string } = {};
  for (const pair of element.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0) continue;
    const key = pair.slice(0, separator).trim().toLowerCase();
    const raw = pair.slice(separator + 1).trim();
    const unquoted = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    if (key === 'proto' && /^https?$/i.test(unquoted)) result.proto = unquoted.toLowerCase();
    if (key === 'host' && unquoted) result.host = unquoted;
  }
  return result;
}

function lastListValue(value: string | undefined): string | undefined {
  const last = value?.split(',').at(-1)?.trim();
  return last ? last : undefined;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
