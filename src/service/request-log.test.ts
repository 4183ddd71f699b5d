import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { lazyChildLogger } from './lazy-child-logger.js';
import { createLogger } from './logger.js';
import { collectPrivatePaths } from './private-paths.js';
import { OneRequestLine } from './request-log.js';

async function serve(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level, destination });
  let next = 0;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    childLoggerFactory: lazyChildLogger,
    logController: new OneRequestLine(logger),
    genReqId: () => `req-${++next}`,
  });
  collectPrivatePaths(app);
  app.post('/hook', async (_request, reply) => reply.code(204).send());
  app.get('/v1/subjects/:identity', { config: { logUrl: false } }, async () => ({}));
  app.get('/fails', async () => {
    throw new Error('boom');
  });
  app.get('/quiet-route', { logLevel: 'warn' }, async () => ({}));
  await app.ready();
  return { app, lines };
}

const secretHeaders = { authorization: 'Bearer rgk_header-secret', 'x-twilio-signature': 'sig-secret=' };

describe('OneRequestLine', () => {
  it('writes one line per request when its response is sent, with what the two lines carried', async () => {
    const { app, lines } = await serve('info');
    const child = vi.spyOn(app.log, 'child');
    const response = await app.inject({ method: 'POST', url: '/hook?token=query-secret', headers: secretHeaders });
    expect(response.statusCode).toBe(204);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: process.pid,
      hostname: expect.any(String),
      reqId: 'req-1',
      req: { id: 'req-1', method: 'POST', url: '/hook?[redacted]', remoteAddress: '127.0.0.1' },
      res: { statusCode: 204 },
      responseTime: expect.any(Number),
      msg: 'request completed',
    });
    // No child logger made for it (lazy-child-logger.ts), and nothing secret on it.
    expect(child).not.toHaveBeenCalled();
    expect(JSON.stringify(lines)).not.toMatch(/secret/);
    await app.close();
  });

  it('logs the route pattern of a private path, and a 5xx at info as before (the error handler writes the error)', async () => {
    const { app, lines } = await serve('info');
    await app.inject({ method: 'GET', url: '/v1/subjects/pt-someone' });
    await app.inject({ method: 'GET', url: '/fails' });
    const requestLines = lines.filter((line) => line.msg === 'request completed');
    expect(
      requestLines.map((line) => [line.level, (line.req as { url: string }).url, (line.res as { statusCode: number }).statusCode]),
    ).toEqual([
      [30, '/v1/subjects/:identity', 200],
      [30, '/fails', 500],
    ]);
    expect(JSON.stringify(lines)).not.toContain('pt-someone');
    await app.close();
  });

  it('writes the start line at debug only, before the request line', async () => {
    const { app, lines } = await serve('debug');
    await app.inject({ method: 'POST', url: '/hook', headers: secretHeaders });
    expect(lines.map((line) => [line.level, line.reqId, line.msg])).toEqual([
      [20, 'req-1', 'incoming request'],
      [30, 'req-1', 'request completed'],
    ]);
    expect(lines[0]).toMatchObject({ req: { id: 'req-1', method: 'POST', url: '/hook', remoteAddress: '127.0.0.1' } });
    expect(JSON.stringify(lines)).not.toMatch(/secret/);
    await app.close();
  });

  it("writes nothing above the request's own level: warn, or a route's log level", async () => {
    const atWarn = await serve('warn');
    await atWarn.app.inject({ method: 'POST', url: '/hook' });
    expect(atWarn.lines).toEqual([]);
    await atWarn.app.close();

    const atInfo = await serve('info');
    await atInfo.app.inject({ method: 'GET', url: '/quiet-route' });
    expect(atInfo.lines).toEqual([]);
    await atInfo.app.close();
  });
});
