// Hono (or any host with a fetch Request: Workers, Deno, Bun), here on Node through @hono/node-server.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createTwilioVerifier } from '@roomgate/twilio-verifier';
import { verifyFetchRequest } from '@roomgate/twilio-verifier/fetch';

const verifier = createTwilioVerifier({ secrets: [{ id: 'primary', algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN }] });
const app = new Hono();
app.post('/webhooks/twilio', async (c) => {
  const result = await verifyFetchRequest(c.req.raw, {
    verifier,
    publicUrl: process.env.PUBLIC_URL, // the base URL configured at Twilio, e.g. https://api.example.com
    // replayWindow: { maxAgeMs: 15 * 60_000, futureSkewMs: 5 * 60_000 } is the default; false turns it off
  });
  if (!result.ok) {
    console.warn(`refused: ${result.reason}`); // for your logs only; never the signature
    return c.text('Forbidden', 403);
  }
  const params = new Map(result.params);
  console.log(`verified: ${params.get('StatusCallbackEvent')} ${params.get('RoomSid')}`);
  return c.body(null, 204);
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? '127.0.0.1' }, (info) =>
  console.log(`listening on http://${info.address}:${info.port}`),
);
