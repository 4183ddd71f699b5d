/**
 * The ways a URL or a parameter list can differ from what Twilio signed, one list of options
 * per dimension (scheme, host, port, path, query, parameters). `diagnose.ts` combines them and
 * reports the smallest combination that matches, so two mistakes at once (a TLS proxy that
 * also strips a prefix) are named together rather than missed.
 */
import { parse as parseQuerystring, stringify as stringifyQuerystring } from 'node:querystring';
import {
  COMPOSITION_EVENT_TYPES,
  PARTICIPANT_EVENT_TYPES,
  RECORDING_EVENT_TYPES,
  ROOM_EVENT_TYPES,
  TRACK_EVENT_TYPES,
} from '../consultation/consultation-event.js';
import type { FormParam } from './twilio-signature.js';
import { splitUrl } from './url-candidates.js';

export type LikelyCause = 'scheme' | 'host' | 'port' | 're-split' | 'path-prefix' | 'query-encoding' | 'parameters' | 'token' | 'unknown';

/** One change from what the server saw; `value` replaces that dimension's part of the URL. */
export interface UrlOption {
  readonly value: string | undefined;
  readonly cause: LikelyCause;
  readonly what: string;
}

export interface UrlDimensions {
  readonly userinfo: string;
  /** Index 0 of each list is the part as received (no change). */
  readonly scheme: readonly UrlOption[];
  readonly host: readonly UrlOption[];
  readonly port: readonly UrlOption[];
  readonly path: readonly UrlOption[];
  readonly query: readonly UrlOption[];
}

export interface ParamsOption {
  readonly params: readonly FormParam[];
  readonly cause: LikelyCause;
  readonly what: string;
}

export interface Hints {
  /** Path prefixes a proxy may have stripped. */
  readonly prefixes: readonly string[];
  /** The URL configured at Twilio (its scheme, host, port and path are tried). */
  readonly publicUrl?: string | undefined;
  /** Public host names the callback may have been addressed to. */
  readonly hosts?: readonly string[] | undefined;
}

const COMMON_PORTS = ['80', '443', '8080', '8443', '3000'];

/** Values Twilio sends for its enumerated parameters: a changed one is found by trying the others. */
const ENUMERATED: Readonly<Record<string, readonly string[]>> = {
  StatusCallbackEvent: [
    ...ROOM_EVENT_TYPES,
    ...PARTICIPANT_EVENT_TYPES,
    ...TRACK_EVENT_TYPES,
    ...RECORDING_EVENT_TYPES,
    ...COMPOSITION_EVENT_TYPES,
  ],
  RoomStatus: ['in-progress', 'completed', 'failed'],
  RoomType: ['group', 'group-small', 'peer-to-peer', 'go'],
  ParticipantStatus: ['connected', 'disconnected'],
  TrackKind: ['audio', 'video', 'data'],
};

/**
 * @example urlDimensions('http://a.test/cb', { prefixes: [] })?.scheme[1] → { value: 'https', cause: 'scheme', … }
 */
export function urlDimensions(url: string, hints: Hints): UrlDimensions | undefined {
  const parts = splitUrl(url);
  if (!parts) return undefined;
  const { scheme, userinfo, host, port, rest } = parts;
  const question = rest.indexOf('?');
  const path = question < 0 ? rest : rest.slice(0, question);
  const query = question < 0 ? undefined : rest.slice(question + 1);
  const publicParts = hints.publicUrl === undefined ? undefined : splitUrl(hints.publicUrl);
  const publicPath = publicParts === undefined ? undefined : publicParts.rest.split('?')[0];

  const schemes = options(scheme);
  const otherScheme = scheme.toLowerCase() === 'https' ? 'http' : 'https';
  schemes.add(
    otherScheme,
    'scheme',
    `Twilio called ${otherScheme}, the server saw ${scheme}: a TLS-terminating proxy? Set ROOMGATE_PUBLIC_URL or trust the proxy's X-Forwarded-Proto`,
  );

  const hosts = options(host);
  hosts.add(host.toLowerCase(), 'host', 'the host in lower case');
  for (const candidate of [publicParts?.host, ...(hints.hosts ?? [])])
    if (candidate !== undefined)
      hosts.add(candidate, 'host', `Twilio called ${candidate}, the server saw ${host}: set ROOMGATE_PUBLIC_URL or trust X-Forwarded-Host`);

  // A default port is the same URL to the verifier (it toggles it): start from no port.
  const ports = options(port === (scheme.toLowerCase() === 'https' ? '443' : '80') ? undefined : port);
  ports.add(undefined, 'port', 'without the port: the server saw a port Twilio did not use');
  for (const candidate of [publicParts?.port, ...COMMON_PORTS])
    if (candidate !== undefined) ports.add(candidate, 'port', `with port ${candidate}: the callback URL configured at Twilio names it`);

  const paths = options(path);
  const segments = path.split('/').filter((segment, index) => index > 0 || segment !== '');
  if (segments.length > 1) paths.add(`/${segments.slice(1).join('/')}`, 'path-prefix', `without the first path segment '/${segments[0]}'`);
  for (const hint of hints.prefixes) {
    const prefix = `/${hint.replace(/^\/+|\/+$/g, '')}`;
    if (prefix !== '/' && !path.startsWith(`${prefix}/`))
      paths.add(
        `${prefix}${path}`,
        'path-prefix',
        `with the path prefix '${prefix}' that a proxy stripped: set it in ROOMGATE_PUBLIC_URL or X-Forwarded-Prefix`,
      );
  }
  if (publicPath !== undefined && publicPath !== path)
    paths.add(publicPath, 'path-prefix', `with the path '${publicPath}' of the URL configured at Twilio`);
  paths.add(
    path.endsWith('/') ? path.slice(0, -1) : `${path}/`,
    'path-prefix',
    path.endsWith('/') ? 'without the trailing slash' : 'with a trailing slash',
  );
  if (/%3F/i.test(path)) paths.add(path.replace(/%3F/i, '?'), 'query-encoding', '`%3F` in the path was the `?` starting the query');

  const queries = options(query);
  if (query !== undefined) {
    const encodings: [string, string][] = [
      [query.replaceAll("'", '%27'), "`'` encoded as `%27`"],
      [query.replaceAll('%27', "'"), "`%27` decoded to `'`"],
      [query.replaceAll('+', '%20'), '`+` encoded as `%20`'],
      [query.replaceAll('%20', '+'), '`%20` written as `+`'],
      [query.replaceAll('%2B', '+').replaceAll('%2b', '+'), '`%2B` decoded to `+`'],
      [stringifyQuerystring(parseQuerystring(query)), 'the query re-encoded (querystring.stringify)'],
      [new URLSearchParams(query).toString(), 'the query re-encoded (URLSearchParams)'],
    ];
    for (const [candidate, what] of encodings) queries.add(candidate, 'query-encoding', what);
    queries.add(undefined, 'query-encoding', 'without the query string');
  }
  return { userinfo, scheme: schemes.list, host: hosts.list, port: ports.list, path: paths.list, query: queries.list };
}

export function buildUrl(d: UrlDimensions, choice: readonly [number, number, number, number, number]): string {
  const [s, h, p, pa, q] = choice;
  const port = d.port[p]!.value;
  const query = d.query[q]!.value;
  return `${d.scheme[s]!.value}://${d.userinfo}${d.host[h]!.value}${port === undefined ? '' : `:${port}`}${d.path[pa]!.value}${query === undefined ? '' : `?${query}`}`;
}

/**
 * The parameter lists Twilio may have signed instead: a parameter added, dropped, repeated,
 * re-encoded or an enumerated value changed after signing.
 */
export function parameterOptions(params: readonly FormParam[]): ParamsOption[] {
  const result: ParamsOption[] = [];
  const replace = (index: number, value: string) => params.map((p, i) => (i === index ? ([p[0], value] as const) : p));
  if (params.length > 0)
    result.push({
      params: [],
      cause: 'parameters',
      what: 'signed with no parameters: was the body parsed (raw body needed), or was it JSON signed through bodySHA256?',
    });
  params.forEach(([key, value], index) => {
    result.push({
      params: params.filter((_, i) => i !== index),
      cause: 'parameters',
      what: `the parameter '${key}' was added after Twilio signed`,
    });
    result.push({ params: [...params, [key, value]], cause: 'parameters', what: `'${key}' was sent twice: a repeated value was dropped` });
    for (const other of ENUMERATED[key] ?? [])
      if (other !== value)
        result.push({
          params: replace(index, other),
          cause: 'parameters',
          what: `'${key}' was '${other}' when Twilio signed, not '${value}'`,
        });
    if (value.includes(' '))
      result.push({
        params: replace(index, value.replaceAll(' ', '+')),
        cause: 'parameters',
        what: `'${key}' holds '+' where the server decoded a space`,
      });
    if (value.includes('+'))
      result.push({
        params: replace(index, value.replaceAll('+', ' ')),
        cause: 'parameters',
        what: `'${key}' holds a space where the server kept '+'`,
      });
    if (value !== value.trim())
      result.push({
        params: replace(index, value.trim()),
        cause: 'parameters',
        what: `'${key}' was signed without its surrounding spaces`,
      });
  });
  return result;
}

/** True for a host Twilio cannot have called: loopback, private ranges, a name without a dot. */
export function isInternalHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare.endsWith('.internal') || bare.endsWith('.local')) return true;
  if (bare === '::1' || bare.startsWith('fc') || bare.startsWith('fd') || bare.startsWith('fe80:')) return bare.includes(':');
  const ipv4 = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(bare);
  if (ipv4) {
    const [a, b] = [Number(ipv4[1]), Number(ipv4[2])];
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  return !bare.includes('.') && !bare.includes(':');
}

function options(received: string | undefined) {
  const list: UrlOption[] = [{ value: received, cause: 'unknown', what: 'as received' }];
  return {
    list,
    add(value: string | undefined, cause: LikelyCause, what: string) {
      if (!list.some((option) => option.value === value)) list.push({ value, cause, what });
    },
  };
}
