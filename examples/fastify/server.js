// Fastify: the plugin guards the routes of the scope it is registered in, and only those.
import Fastify from 'fastify';
import { twilioWebhook } from '@roomgate/twilio-verifier/fastify';

const app = Fastify();
app.register(async (webhooks) => {
  await webhooks.register(twilioWebhook, {
    secrets: [{ id: 'primary', algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN }],
    publicUrl: process.env.PUBLIC_URL, // the base URL configured at Twilio, e.g. https://api.example.com
    // replayWindow: { maxAgeMs: 15 * 60_000, futureSkewMs: 5 * 60_000 } is the default; false turns it off
    onFailure: (reason) => console.warn(`refused: ${reason}`), // 403 already sent; never the signature
  });
  webhooks.post('/webhooks/twilio', async (request, reply) => {
    const params = new Map(request.twilio.params);
    console.log(`verified: ${params.get('StatusCallbackEvent')} ${params.get('RoomSid')}`);
    return reply.code(204).send();
  });
});

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
console.log(`listening on ${address}`);
