import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, requestLineLogger, SECRET_KEYS } from './logger.js';
import type { LoggedRequest } from './private-paths.js';

const SECRET = 'the-secret-value';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination };
}

/** A request as the serialiser sees it, with a secret in every place a client can put one. */
function request(url: string): LoggedRequest & { headers: Record<string, string> } {
  return {
    id: 'req-1',
    method: 'POST',
    url,
    ip: '127.0.0.1',
    headers: { authorization: `Bearer ${SECRET}`, 'x-twilio-signature': SECRET, 'X-Twilio-Signature': SECRET, cookie: SECRET },
  };
}

const withoutTime = (line: string) => line.replace(/"time":\d+,/, '');

describe('createLogger', () => {
  it.each(SECRET_KEYS)('redacts %s at the top, one and two levels down, and in a child logger’s bindings', (key) => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination });
    logger.info({ [key]: SECRET }, 'top');
    logger.info({ detail: { [key]: SECRET } }, 'one down');
    logger.info({ detail: { inner: { [key]: { nested: SECRET } } } }, 'two down');
    logger.child({ [key]: SECRET }).info('bound');
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).not.toContain(SECRET);
      expect(line).toContain(`"${key}":"[redacted]"`);
    }
  });

  it('writes a request without its headers or query string', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).info({ req: request(`/v1/x?token=${SECRET}`) }, 'a request');
    expect(lines[0]).not.toContain(SECRET);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      req: { id: 'req-1', method: 'POST', url: '/v1/x?[redacted]', remoteAddress: '127.0.0.1' },
    });
  });
});

describe('requestLineLogger', () => {
  // Secrets in the query string, the path (an API key), the headers.
  const urls = ['/webhooks/twilio/video', `/v1/events?key=${SECRET}&token=${SECRET}`, `/v1/rgk_${SECRET}/x`, `/v1/rgk%5F${SECRET}?a=b`];

  it.each(urls)('writes byte for byte what the redacting logger writes for a request line (%s)', (url) => {
    const redacting = capture();
    const plain = capture();
    const line = { reqId: 'req-1', req: request(url), res: { statusCode: 204 }, responseTime: 1.25 };
    createLogger({ destination: redacting.destination }).info(line, 'request completed');
    requestLineLogger(createLogger({ destination: plain.destination })).info(line, 'request completed');
    expect(plain.lines.map(withoutTime)).toEqual(redacting.lines.map(withoutTime));
    expect(plain.lines[0]).not.toContain(SECRET);
  });

  it('has only fixed fields, none of them a secret key, whatever logger it comes from', () => {
    const { lines, destination } = capture();
    // A logger without Roomgate's serialisers: the request line still writes only its fields.
    const lineLogger = requestLineLogger(pino({ base: { pid: 1, hostname: 'h' } }, destination).child({ part: 'http' }));
    lineLogger.info(
      { reqId: 'req-1', req: request(`/v1/x?token=${SECRET}`), res: { statusCode: 200, token: SECRET } },
      'request completed',
    );
    expect(lines[0]).not.toContain(SECRET);
    const keys = (value: unknown): string[] =>
      value && typeof value === 'object' ? Object.entries(value).flatMap(([key, inner]) => [key, ...keys(inner)]) : [];
    const written = keys(JSON.parse(lines[0]!));
    expect(written.sort()).toEqual(
      [
        'level',
        'time',
        'pid',
        'hostname',
        'part',
        'reqId',
        'req',
        'id',
        'method',
        'url',
        'remoteAddress',
        'res',
        'statusCode',
        'msg',
      ].sort(),
    );
    expect(written.filter((key) => SECRET_KEYS.some((secret) => secret.toLowerCase() === key.toLowerCase()))).toEqual([]);
  });

  it("writes at any level the caller allows, to its parent's stream, with its parent's bindings", () => {
    const { lines, destination } = capture();
    const parent = createLogger({ level: 'warn', destination }).child({ part: 'http' });
    requestLineLogger(parent).info({ reqId: 'req-1' }, 'request completed');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ part: 'http', reqId: 'req-1', level: 30 }),
    ]);
  });
});
