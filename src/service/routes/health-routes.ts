import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Store } from '../../storage/store.js';

const Twilio = Type.Union([Type.Literal('sandbox'), Type.Literal('twilio')]);
const Live = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
const Ready = Type.Object({ status: Type.Literal('ready'), twilio: Twilio }, { additionalProperties: false });
const NotReady = Type.Object(
  { status: Type.Literal('unavailable'), reason: Type.String(), twilio: Twilio },
  { additionalProperties: false },
);

/**
 * Liveness and readiness (the store answers); no key required. `twilio` says whether the
 * built-in sandbox stands in for Twilio. `/metrics` is not here: it has its own listener
 * (metrics-app.ts).
 */
export async function healthRoutes(app: FastifyInstance, options: { store: Store; sandbox: boolean }): Promise<void> {
  const twilio = options.sandbox ? 'sandbox' : 'twilio';
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers.', response: { 200: Live } } }, async () => ({ status: 'ok' }));
  const readiness = { summary: 'Readiness: a callback could be stored now.', response: { 200: Ready, 503: NotReady } };
  app.get('/readyz', { schema: readiness }, async (_request, reply) => {
    try {
      await options.store.ping();
      return { status: 'ready', twilio };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'store', twilio });
    }
  });
}
