/**
 * The slice of Twilio's Video REST API the outbox worker calls after a recorded room ends
 * (list / create composition), answered locally so a benchmark never leaves 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';

export interface TwilioStub {
  readonly url: string;
  readonly calls: () => number;
  close(): Promise<void>;
}

export function startTwilioStub(): Promise<TwilioStub> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls += 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stub');
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && url.pathname === '/v1/Compositions') {
        res.end(JSON.stringify({ compositions: [] }));
      } else if (req.method === 'POST' && url.pathname === '/v1/Compositions') {
        const roomSid = new URLSearchParams(Buffer.concat(chunks).toString()).get('RoomSid') ?? '';
        res.statusCode = 201;
        res.end(JSON.stringify({ sid: `CJ${randomBytes(16).toString('hex')}`, room_sid: roomSid, status: 'enqueued' }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ code: 20404, message: 'not in the bench stub' }));
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
        calls: () => calls,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
