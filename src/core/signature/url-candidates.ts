/**
 * The URLs a request may have been signed with, most likely first: the URL exactly as
 * received, then with the default port added or the explicit port removed (the SDKs accept
 * both, because Twilio is inconsistent about ports), then — only where different — the forms
 * `new URL()` normalises to, for senders that signed a normalised URL.
 */

/**
 * All candidates, in the order the verifier tries them.
 *
 * @example urlCandidates('https://a.test/x') → ['https://a.test/x', 'https://a.test:443/x']
 */
export function urlCandidates(url: string): string[] {
  const candidates = [url];
  const toggled = togglePort(url);
  if (toggled !== undefined && toggled !== url) candidates.push(toggled);
  for (const normalised of normalisedCandidates(url)) if (!candidates.includes(normalised)) candidates.push(normalised);
  return candidates;
}

/**
 * The `new URL()` forms of a URL (with and without the port), only those that differ from the
 * URL as received and its port variant. Never needed for a URL that verifies as received.
 *
 * @example normalisedCandidates("https://A.test/x?q='") → ["https://a.test/x?q=%27", "https://a.test:443/x?q=%27"]
 */
export function normalisedCandidates(url: string): string[] {
  const normalised = normalise(url);
  if (normalised === undefined) return [];
  const received = [url, togglePort(url)];
  const result: string[] = [];
  for (const candidate of [normalised, togglePort(normalised)]) {
    if (candidate !== undefined && !received.includes(candidate) && !result.includes(candidate)) result.push(candidate);
  }
  return result;
}

/**
 * Adds `:443`/`:80` when there is no port; removes an explicit port. Undefined if not a URL.
 *
 * @example togglePort('https://a.test/x') === 'https://a.test:443/x'; togglePort('http://[::1]:8080/x') === 'http://[::1]/x'
 */
export function togglePort(url: string): string | undefined {
  const parts = splitUrl(url);
  if (!parts) return undefined;
  const { scheme, userinfo, host, port, rest } = parts;
  const newPort = port === undefined ? (scheme.toLowerCase() === 'https' ? ':443' : ':80') : '';
  return `${scheme}://${userinfo}${host}${newPort}${rest}`;
}

interface UrlParts {
  readonly scheme: string;
  readonly userinfo: string;
  readonly host: string;
  readonly port: string | undefined;
  readonly rest: string;
}

/**
 * Splits without normalising: host case, escapes and everything after the authority stay as sent.
 *
 * @example splitUrl("https://u:p@Host.test:8443/a?b='") → { scheme: 'https', userinfo: 'u:p@', host: 'Host.test', port: '8443', rest: "/a?b='" }
 */
export function splitUrl(url: string): UrlParts | undefined {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd <= 0) return undefined;
  const scheme = url.slice(0, schemeEnd);
  const authorityStart = schemeEnd + 3;
  let authorityEnd = url.length;
  for (const terminator of ['/', '?', '#']) {
    const index = url.indexOf(terminator, authorityStart);
    if (index >= 0 && index < authorityEnd) authorityEnd = index;
  }
  const authority = url.slice(authorityStart, authorityEnd);
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPort = authority.slice(at + 1);
  let host = hostPort;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    host = hostPort.slice(0, close + 1);
    if (hostPort[close + 1] === ':') port = hostPort.slice(close + 2);
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  if (!host) return undefined;
  return { scheme, userinfo, host, port, rest: url.slice(authorityEnd) };
}

function normalise(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    // URL drops a default port, lower-cases the host and re-encodes `'` (twilio-node #1059):
    // a signer that normalised kept the rest as URL serialises it.
    return parsed.href === url ? undefined : parsed.href;
  } catch {
    return undefined;
  }
}
