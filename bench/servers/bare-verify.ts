/**
 * The ceiling: a bare node:http handler that only verifies the signature (Roomgate's verifier)
 * and answers 204, storing nothing.
 *
 *   TWILIO_ACCOUNT_SID=… TWILIO_AUTH_TOKEN=… PORT=… tsx bench/servers/bare-verify.ts
 */
import http from 'node:http';
import { createTwilioVerifier } from '../../src/core/signature/verifier.js';

const verifier = createTwilioVerifier({
  secrets: [{ id: 'primary', accountSid: process.env.TWILIO_ACCOUNT_SID, algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN! }],
});
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const signature = req.headers['x-twilio-signature'];
    const verdict = verifier.verify({
      url: `http://${req.headers.host}${req.url}`,
      signature: typeof signature === 'string' ? signature : undefined,
      contentType: req.headers['content-type'],
      body: Buffer.concat(chunks),
    });
    res.statusCode = verdict.ok ? 204 : 403;
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ listening: typeof address === 'object' && address ? address.port : 0 }));
});
