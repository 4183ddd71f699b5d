import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Readiness } from '../readiness.js';

const Twilio = Type.Union([Type.Literal('sandbox'), Type.Literal('twilio')]);
const Live = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
const Ready = Type.Object({ status: Type.Literal('ready'), twilio: Twilio }, { additionalProperties: false });
const NotReady = Type.Object(
  { status: Type.Literal('unavailable'), reason: Type.String(), twilio: Twilio },
  { additionalProperties: false },
);

/**
 * Liveness and readiness; no key required. Ready means a callback could be stored now
 * (readiness.ts): the committer's recent success, or a real write. `twilio` says whether the
 * built-in sandbox stands in for Twilio. `/metrics` is not here: it has its own listener
 * (metrics-app.ts).
 */
export async function healthRoutes(app: FastifyInstance, options: { readiness: Readiness; sandbox: boolean }): Promise<void> {
  const twilio = options.sandbox ? 'sandbox' : 'twilio';
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers.', response: { 200: Live } } }, async () => ({ status: 'ok' }));
  const schema = { summary: 'Readiness: a callback could be stored now.', response: { 200: Ready, 503: NotReady } };
  app.get('/readyz', { schema }, async (_request, reply) => {
    const verdict = await options.readiness.check();
    if (verdict.ready) return { status: 'ready', twilio } as const;
    return reply
      .code(503)
      .header('retry-after', '1')
      .send({ status: 'unavailable', reason: verdict.basis === 'stuck-commit' ? 'committer' : 'store', twilio });
  });
}
