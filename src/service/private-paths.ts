/**
 * Routes whose path carries personal data (an identity) say so with `config: { logUrl: false }`;
 * their requests are logged by the route's pattern, never the URL. This keeps the same promise
 * for requests that reach no such route but fall under its path — another method, an extra
 * segment, a bad percent-encoding, an OPTIONS: their URL is logged as that pattern too.
 */
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route carries personal data in its path; its requests log the pattern, not the URL. */
    logUrl?: boolean;
  }
  interface FastifyInstance {
    privatePaths: PrivatePaths;
  }
}

export class PrivatePaths {
  private readonly prefixes: { prefix: RegExp; key: string; pattern: string }[] = [];

  /**
   * A route pattern such as `/v1/subjects/:identity`: every path under `/v1/subjects/` is private.
   * The cut is at the `:identity` parameter when there is one (else the first parameter); a
   * parameter before it matches any one segment (`/v1/consultations/:id/lobby/:identity/admit`:
   * every path under `/v1/consultations/<any>/lobby/`).
   */
  add(pattern: string): void {
    const identityAt = pattern.indexOf(':identity');
    const cut = identityAt !== -1 ? identityAt : pattern.search(/[:*]/);
    const key = (cut === -1 ? pattern : pattern.slice(0, cut)).toLowerCase();
    if (this.prefixes.some((known) => known.key === key)) return;
    const source = key
      .split(/:[A-Za-z0-9_]+/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
    this.prefixes.push({ prefix: new RegExp(source), key, pattern });
  }

  /** The pattern to log instead of `url`, or undefined when the URL may be logged as it is. */
  mask(url: string): string | undefined {
    const path = normalise(url.split('?', 1)[0] ?? '');
    // Anywhere in the path: a prefix before it (a proxy's, a typo) does not make the rest public.
    return this.prefixes.find((known) => known.prefix.test(path))?.pattern;
  }
}

/** What the logger's request serialiser reads (a FastifyRequest, or Node's request before routing). */
export interface LoggedRequest {
  id?: string;
  method?: string;
  url?: string;
  ip?: string;
  routeOptions?: { url?: string; config?: { logUrl?: boolean } };
  server?: { privatePaths?: PrivatePaths };
}

/** The pattern to log instead of the request's URL, or undefined when the URL may be logged (see the file comment). */
export function privatePattern(req: LoggedRequest): string | undefined {
  const route = req.routeOptions;
  if (route?.config?.logUrl === false) return route.url;
  return req.url === undefined ? undefined : req.server?.privatePaths?.mask(req.url);
}

/** Registers, as they are declared, the routes that say their URL must not be logged. */
export function collectPrivatePaths(app: FastifyInstance): PrivatePaths {
  const paths = new PrivatePaths();
  app.decorate('privatePaths', paths);
  app.addHook('onRoute', (route) => {
    if (route.config?.logUrl === false) paths.add(route.url);
  });
  return paths;
}

/** As any router or proxy might read it: percent-decoded, repeated slashes and dot segments gone, any case. */
function normalise(path: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    decoded = path.replace(/%([0-9a-f]{2})/gi, (_match, code: string) => String.fromCharCode(parseInt(code, 16)));
  }
  let normal = decoded.replace(/\/{2,}/g, '/').replace(/\/\.(?=\/|$)/g, '');
  for (let previous = ''; previous !== normal;) {
    previous = normal;
    normal = normal.replace(/\/[^/]+\/\.\.(?=\/|$)/, '');
  }
  return normal.toLowerCase();
}
