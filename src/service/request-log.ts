/**
 * One log line per request, written when its response has been sent: `request completed` at
 * `info`, with what Fastify's two default lines ("incoming request", "request completed") carried
 * between them — the request id, `req` (method; URL as logger.ts writes it: never the query
 * string, an API key or an identity; client address), `res` (status code) and the response time
 * in ms. Two lines per request doubled the HTTP thread's CPU per callback at `info`.
 *
 * `incoming request` is still written, at `debug`: what shows a request that has started and not
 * finished (a hang, a stop waiting for it). A response that failed while being sent is
 * `request errored` at `error`, with the error, as Fastify's own.
 *
 * Lines are written through requestLineLogger (logger.ts: the app's stream, no redaction — a
 * request line has no field it could change) with the request id in them, not through the
 * request's child logger: the same line, without making a child per request
 * (lazy-child-logger.ts). The request's own logger still decides whether a line is written (its
 * level, a route's log level), and `disableRequestLogging` is honoured as by Fastify.
 */
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { requestLineLogger, type Logger } from './logger.js';

/** Fastify's type leaves it out; pino's loggers and lazy-child-logger.ts's stand-ins have it. */
const enabled = (log: FastifyBaseLogger, level: string) =>
  (log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled(level);

export class OneRequestLine extends LogController {
  private readonly lines: Logger;

  /** `logger`: the app's (Fastify's `loggerInstance`); an errored request's line goes through it, redacted. */
  constructor(private readonly logger: Logger) {
    super();
    this.lines = requestLineLogger(logger);
  }

  override incomingRequest(request: FastifyRequest): void {
    if (!enabled(request.log, 'debug') || this.isLogDisabled(request)) return;
    this.lines.debug({ [this.requestIdLogLabel]: request.id, req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!enabled(reply.log, error ? 'error' : 'info') || this.isLogDisabled(request)) return;
    const line = { [this.requestIdLogLabel]: request.id, req: request, res: reply, responseTime: reply.elapsedTime };
    // An error may carry anything (its own properties are written): through the redacting logger.
    if (error) this.logger.error({ ...line, err: error }, 'request errored');
    else this.lines.info(line, 'request completed');
  }
}
