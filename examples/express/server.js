// Express: the guard needs the raw body, so express.raw runs before it (and no other body parser).
import express from 'express';
import { twilioWebhookGuard } from '@roomgate/twilio-verifier/express';

const app = express();
app.post(
  '/webhooks/twilio',
  express.raw({ type: ['application/x-www-form-urlencoded', 'application/json'], limit: '64kb' }),
  twilioWebhookGuard({
    secrets: [{ id: 'primary', algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN }],
    publicUrl: process.env.PUBLIC_URL, // the base URL configured at Twilio, e.g. https://api.example.com
    // replayWindow: { maxAgeMs: 15 * 60_000, futureSkewMs: 5 * 60_000 } is the default; false turns it off
    onFailure: (reason) => console.warn(`refused: ${reason}`), // 403 already sent; never the signature
  }),
  (req, res) => {
    const params = new Map(req.twilio.params);
    console.log(`verified: ${params.get('StatusCallbackEvent')} ${params.get('RoomSid')}`);
    res.sendStatus(204);
  },
);

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening on http://${server.address().address}:${server.address().port}`);
});
