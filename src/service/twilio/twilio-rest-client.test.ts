/**
 * The Twilio REST client against real local servers answering like Twilio: what goes on the wire
 * (Basic auth, form encoding), how answers are typed (Twilio's code, retryable or not,
 * Retry-After), bodies that are not JSON, a Media redirect returned and never followed, and that
 * no error message carries the key's secret or the Authorization header.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTwilioRestClient, TwilioApiError } from './twilio-rest-client.js';

const SECRET = 'the-api-key-secret-0123456789';
const KEY = 'SK0123456789abcdef0123456789abcdef';
const AUTHORIZATION = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

async function twilio(handle: (request: Seen, response: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const one = { method: request.method!, url: request.url!, headers: request.headers, body };
      seen.push(one);
      handle(one, response);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { baseUrl, seen, client: createTwilioRestClient({ baseUrl, apiKeySid: KEY, apiKeySecret: SECRET, timeoutMs: 2_000 }) };
}

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

async function failure(promise: Promise<unknown>): Promise<TwilioApiError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TwilioApiError);
  const typed = error as TwilioApiError;
  // Never the secret, never the header that carries it.
  for (const text of [typed.message, String(typed.cause ?? ''), JSON.stringify(typed)]) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(AUTHORIZATION.slice('Basic '.length));
  }
  return typed;
}

describe('the Twilio REST client on the wire', () => {
  it('posts a composition form-encoded with Basic auth and reads the JSON answer', async () => {
    const { seen, client } = await twilio((request, response) =>
      json(response, 201, { sid: 'CJ1', room_sid: new URLSearchParams(request.body).get('RoomSid'), status: 'enqueued' }),
    );
    const created = await client.createComposition({
      roomSid: 'RM1',
      statusCallback: 'https://roomgate.example.com/cb',
      sources: { audio: ['a-clinician', 'a-patient'], video: ['v-clinician'] },
    });
    expect(created).toEqual({ sid: 'CJ1', room_sid: 'RM1', status: 'enqueued' });
    const request = seen[0]!;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/Compositions' });
    expect(request.headers).toMatchObject({
      authorization: AUTHORIZATION,
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(request.body)),
    });
    const form = new URLSearchParams(request.body);
    expect(form.getAll('AudioSources')).toEqual(['a-clinician', 'a-patient']);
    expect(JSON.parse(form.get('VideoLayout')!)).toEqual({ grid: { video_sources: ['v-clinician'] } });
    expect([form.get('Format'), form.get('StatusCallback'), form.get('StatusCallbackMethod')]).toEqual([
      'mp4',
      'https://roomgate.example.com/cb',
      'POST',
    ]);
  });

  it('gets a list with its query and no body, and keeps a path prefix of the base URL', async () => {
    const { baseUrl, seen } = await twilio((_request, response) => json(response, 200, { compositions: [{ sid: 'CJ2' }] }));
    const client = createTwilioRestClient({ baseUrl: `${baseUrl}/twilio`, apiKeySid: KEY, apiKeySecret: SECRET });
    expect(await client.listCompositions('RM 2')).toEqual([{ sid: 'CJ2' }]);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/twilio/v1/Compositions?RoomSid=RM%202&PageSize=50', body: '' });
    expect(seen[0]!.headers['content-type']).toBeUndefined();
  });

  it('types Twilio’s refusals (4xx, not retried) and outages (429 with Retry-After, 5xx: retried)', async () => {
    const { client } = await twilio((request, response) => {
      if (request.url.includes('refused')) json(response, 400, { code: 53113, message: 'Room exists' });
      else if (request.url.includes('busy')) json(response, 429, { code: 20429, message: 'Too many requests' }, { 'retry-after': '7' });
      else if (request.url.includes('dated'))
        json(response, 503, { message: 'down' }, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() });
      else response.writeHead(502).end('<html>bad gateway</html>');
    });
    const refused = await failure(client.fetchRoom('refused'));
    expect(refused).toMatchObject({ status: 400, twilioCode: 53113, retryable: false, retryAfterMs: undefined });
    expect(refused.message).toBe('Twilio GET /v1/Rooms/refused answered 400: Room exists');

    const busy = await failure(client.fetchRoom('busy'));
    expect(busy).toMatchObject({ status: 429, twilioCode: 20429, retryable: true, retryAfterMs: 7_000 });
    const dated = await failure(client.fetchRoom('dated'));
    expect(dated).toMatchObject({ status: 503, retryable: true });
    expect(dated.retryAfterMs).toBeGreaterThan(50_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(60_000);

    const gateway = await failure(client.fetchRoom('gateway'));
    expect(gateway).toMatchObject({ status: 502, twilioCode: undefined, retryable: true });
    expect(gateway.message).toBe('Twilio GET /v1/Rooms/gateway answered 502: no message');
  });

  it('refuses a 2xx answer that is not JSON, as retryable', async () => {
    const { client } = await twilio((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
    const error = await failure(client.fetchRoom('RM3'));
    expect(error).toMatchObject({ status: 200, retryable: true });
    expect(error.message).toBe('Twilio GET /v1/Rooms/RM3 answered with a body that is not JSON');
  });

  it('returns the Media redirect’s Location resolved against the base URL, without following it', async () => {
    const { baseUrl, seen, client } = await twilio((request, response) => {
      if (request.url.startsWith('/v1/Compositions/CJrelative/Media')) response.writeHead(302, { location: '/media/CJrelative.mp4' }).end();
      else if (request.url.startsWith('/v1/Compositions/CJabsolute/Media'))
        response.writeHead(307, { location: 'https://media.twiliocdn.com/CJabsolute.mp4?sig=x' }).end('{"redirect_to":"…"}');
      else if (request.url.startsWith('/v1/Compositions/CJgone/Media')) json(response, 404, { code: 20404, message: 'not found' });
      else json(response, 200, { unexpected: request.url });
    });
    expect(await client.compositionMediaUrl('CJrelative', 600)).toBe(`${baseUrl}/media/CJrelative.mp4`);
    expect(await client.compositionMediaUrl('CJabsolute', 60)).toBe('https://media.twiliocdn.com/CJabsolute.mp4?sig=x');
    expect(seen.map((request) => request.url)).toEqual([
      '/v1/Compositions/CJrelative/Media?Ttl=600',
      '/v1/Compositions/CJabsolute/Media?Ttl=60',
    ]);
    expect(seen[0]!.headers.authorization).toBe(AUTHORIZATION);

    const gone = await failure(client.compositionMediaUrl('CJgone', 600));
    expect(gone).toMatchObject({ status: 404, twilioCode: 20404, retryable: false });
    const notRedirected = await failure(client.compositionMediaUrl('CJplain', 600));
    expect(notRedirected).toMatchObject({ status: 200, retryable: true });
  });

  it('fails a refused connection as retryable, with no status', async () => {
    const { baseUrl } = await twilio(() => undefined);
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const client = createTwilioRestClient({ baseUrl, apiKeySid: KEY, apiKeySecret: SECRET });
    const error = await failure(client.listParticipants('RM4'));
    expect(error).toMatchObject({ status: undefined, twilioCode: undefined, retryable: true });
    expect(error.message).toMatch(/^Twilio GET \/v1\/Rooms\/RM4\/Participants\?PageSize=1000 failed: .*ECONNREFUSED/);
  });
});

describe('an upstream that stalls or floods', () => {
  it('times out a server that accepts and never answers, and one that stalls mid-body: retryable', async () => {
    const { baseUrl } = await twilio((request, response) => {
      // 'silent' never answers; 'stall' sends the head and half a body, then nothing.
      if (request.url.includes('stall')) {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        response.write('{"sid":"RM');
      }
    });
    const client = createTwilioRestClient({ baseUrl, apiKeySid: KEY, apiKeySecret: SECRET, timeoutMs: 300 });
    for (const sid of ['silent', 'stall']) {
      const started = performance.now();
      const error = await failure(client.fetchRoom(sid));
      expect(performance.now() - started, sid).toBeLessThan(2_000);
      expect(error, sid).toMatchObject({ status: undefined, retryable: true });
      expect(error.message, sid).toBe(`Twilio GET /v1/Rooms/${sid} failed: no complete answer within 300 ms`);
    }
  });

  it('refuses a body over 8 MiB, declared or streamed, without reading it all', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let streamed = 0;
    const { client } = await twilio((request, response) => {
      if (request.url.includes('declared')) {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
        response.write('{"sid":"');
        return;
      }
      // Chunked, no length: 64 MiB offered, a MiB at a time, as fast as the client reads.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.on('error', () => undefined);
      const more = () => {
        while (streamed < 64 && !response.destroyed) {
          streamed += 1;
          if (!response.write(chunk)) return void response.once('drain', more);
        }
        response.end();
      };
      more();
    });
    const declared = await failure(client.fetchRoom('declared'));
    expect(declared).toMatchObject({ status: undefined, retryable: true });
    expect(declared.message).toBe(
      'Twilio GET /v1/Rooms/declared failed: answered 200 with a body of 67108864 bytes, over the 8388608-byte bound',
    );
    const flood = await failure(client.fetchRoom('flood'));
    expect(flood).toMatchObject({ status: undefined, retryable: true });
    expect(flood.message).toBe('Twilio GET /v1/Rooms/flood failed: answered 200 with a body over the 8388608-byte bound');
    // The client hung up near the bound: the server could not write most of what it offered.
    expect(streamed).toBeLessThan(32);
  });

  it('fails an answer cut off mid-body as retryable', async () => {
    const { client } = await twilio((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      response.write('{"sid":"RM', () => response.socket?.destroy());
    });
    const error = await failure(client.fetchRoom('cut'));
    expect(error).toMatchObject({ status: undefined, retryable: true });
  });
});
