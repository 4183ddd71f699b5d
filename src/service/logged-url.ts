/**
 * A request URL as it may be written to the log. Roomgate reads API keys only from the
 * Authorization header, but a client may put one anywhere — `?key=rgk_…`, a path segment — and
 * the key must not reach the log wherever it was sent. So the query string is never logged
 * (only that there was one), and a path segment that holds an API key, percent-encoded or not,
 * is masked.
 *
 * @example loggedUrl('/v1/events?key=rgk_abc') === '/v1/events?[redacted]'
 * @example loggedUrl('/v1/rgk%5Fabc/x') === '/v1/[redacted]/x'
 */
const API_KEY_MARK = /rgk_/i;

export function loggedUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const masked = path
    .split('/')
    .map((segment) => (API_KEY_MARK.test(decoded(segment)) ? '[redacted]' : segment))
    .join('/');
  return query < 0 ? masked : `${masked}?[redacted]`;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Malformed escapes: mask on the raw text, and on it with every %5F read as `_`.
    return segment.replace(/%5f/gi, '_');
  }
}
