/**
 * The structured logger. Signatures, Authorization headers, tokens and secrets are redacted
 * wherever they appear in a log object, and requests are serialised without their headers at
 * all — defence in depth: nothing should try to log them, and if something does, it is masked.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { loggedUrl } from './logged-url.js';

const SECRET_KEYS = [
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

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: { id?: string; method?: string; url?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          // Never the query string, nor an API key a client put in the path (logged-url.ts).
          url: loggedUrl(req.url),
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    options.destination,
  );
}

export type { Logger };
