/**
 * The structured logger. Signatures, Authorization headers, tokens and secrets are redacted
 * wherever they appear in a log object, and requests are serialised without their headers at
 * all — defence in depth: nothing should try to log them, and if something does, it is masked.
 * Request lines skip the redaction: their fields are fixed and none is a secret (requestLineLogger).
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { loggedUrl } from './logged-url.js';
import { privatePattern, type LoggedRequest } from './private-paths.js';

export const SECRET_KEYS = [
  'authorization',
  'x-twilio-signature',
  'X-Twilio-Signature',
  'signature',
  'authToken',
  'authTokens',
  'token',
  'accessToken',
  'apiKey',
  'apiKeySecret',
  'secret',
  'password',
  'key',
];

export const REDACT_PATHS = [
  ...SECRET_KEYS.map((key) => `${key}`),
  ...SECRET_KEYS.map((key) => `*.${key}`),
  ...SECRET_KEYS.map((key) => `*.*.${key}`),
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
];

/** What `req` and `res` are written as: a fixed set of fields, none of them a secret key. */
const REQUEST_SERIALIZERS = {
  req: (req: LoggedRequest) => ({
    id: req.id,
    method: req.method,
    // Never the query string, nor an API key a client put in the path (logged-url.ts),
    // nor an identity in the path (the route pattern instead: private-paths.ts).
    url: privatePattern(req) ?? loggedUrl(req.url),
    remoteAddress: req.ip,
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
};

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { ...REQUEST_SERIALIZERS, err: pino.stdSerializers.err },
    },
    options.destination,
  );
}

/**
 * The logger for request lines (request-log.ts): `logger`'s stream and bindings, without the
 * redaction. Redaction matches key names, and a request line has only fixed ones — the request
 * id, `req` and `res` as REQUEST_SERIALIZERS write them (serializers set here, whatever `logger`
 * has), the response time — none of them a secret key at any depth, so it could never change a
 * byte; it was ≈ 80 % of writing the line (wildcards walk every value). Its level is the lowest:
 * the request's own logger decides what is written. Never for a line that can hold anything else
 * (an error, a detail object): those go through `logger`.
 */
export function requestLineLogger(logger: Logger): Logger {
  return logger.child({}, { level: 'trace', redact: { paths: [] }, serializers: REQUEST_SERIALIZERS });
}

export type { Logger };
