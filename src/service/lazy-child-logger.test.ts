import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { lazyChildLogger } from './lazy-child-logger.js';
import { createLogger } from './logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level, destination }) };
}

async function serve(level: string) {
  const { lines, logger } = capture(level);
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, childLoggerFactory: lazyChildLogger, genReqId: () => 'req-1' });
  app.get('/quiet', async (request) => {
    request.log.debug({ detail: 1 }, 'below the level');
    return {};
  });
  app.get('/loud', async (request) => {
    request.log.warn({ token: 'secret-value', outcome: 'x' }, 'a warning');
    request.log.child({ part: 'inner' }).error('from a child');
    return { level: request.log.level, bindings: (request.log as unknown as { bindings(): unknown }).bindings() };
  });
  await app.ready();
  return { app, lines, logger };
}

describe('lazyChildLogger', () => {
  it('makes no child for a request that writes no line at an enabled level', async () => {
    const { app, lines } = await serve('warn');
    const child = vi.spyOn(app.log, 'child');
    const response = await app.inject({ method: 'GET', url: '/quiet' });
    expect(response.statusCode).toBe(200);
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
    await app.close();
  });

  it("writes the real child's lines: the request id bound, secrets redacted, children and bindings kept", async () => {
    const { app, lines } = await serve('warn');
    const response = await app.inject({ method: 'GET', url: '/loud' });
    expect(response.json()).toEqual({ level: 'warn', bindings: { reqId: 'req-1' } });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, reqId: 'req-1', token: '[redacted]', outcome: 'x', msg: 'a warning' });
    expect(lines[1]).toMatchObject({ level: 50, reqId: 'req-1', part: 'inner', msg: 'from a child' });
    await app.close();
  });

  // Fastify's default log controller here (the app replaces it with request-log.ts): its two lines
  // go through the request's child, which the stand-in makes as the default factory would.
  it("logs Fastify's own request lines at info, as the default factory does", async () => {
    const { app, lines } = await serve('info');
    await app.inject({ method: 'GET', url: '/quiet' });
    expect(lines.map((line) => [line.reqId, line.msg])).toEqual([
      ['req-1', 'incoming request'],
      ['req-1', 'request completed'],
    ]);
    await app.close();
  });
});
