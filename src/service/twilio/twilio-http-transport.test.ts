/**
 * The wire under the Twilio client, against real local servers: connections are kept alive and
 * bounded (8 at most, however many requests are in flight), and https works — with the
 * certificate checked: a server the client does not trust is refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTwilioHttpTransport } from './twilio-http-transport.js';

const servers: (Server | TlsServer)[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listening(server: Server | TlsServer) {
  servers.push(server);
  let connections = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  server.on('connection', () => (connections += 1));
  server.on('request', (_request, response) => {
    mostInFlight = Math.max(mostInFlight, ++inFlight);
    response.on('finish', () => (inFlight -= 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => connections, mostInFlight: () => mostInFlight };
}

/** A throwaway self-signed certificate for 127.0.0.1 (openssl, as on every CI image this runs on). */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'twilio-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ].concat(['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the Twilio HTTP transport', () => {
  it('keeps connections alive and opens at most 8, however many requests are in flight', async () => {
    const server = await listening(createServer((_request, response) => setTimeout(() => response.end('{}'), 20)));
    const send = createTwilioHttpTransport({ baseUrl: `http://127.0.0.1:${server.port}`, timeoutMs: 5_000, maxBodyBytes: 1024 });
    for (let i = 0; i < 5; i += 1) expect((await send({ method: 'GET', path: '/one', headers: {} })).body).toBe('{}');
    expect(server.connections()).toBe(1);

    const answers = await Promise.all(Array.from({ length: 40 }, () => send({ method: 'POST', path: '/many', headers: {}, body: 'a=b' })));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(server.mostInFlight()).toBe(8);
    expect(server.connections()).toBeLessThanOrEqual(8);
  });

  it('speaks https, checking the certificate', async () => {
    const { key, cert } = selfSignedCertificate();
    const server = await listening(
      createTlsServer({ key, cert }, (request, response) => response.end(JSON.stringify({ path: request.url }))),
    );
    const baseUrl = `https://127.0.0.1:${server.port}`;
    const trusting = createTwilioHttpTransport({ baseUrl, timeoutMs: 5_000, maxBodyBytes: 1024, ca: cert });
    expect(await trusting({ method: 'GET', path: '/v1/Rooms/RM1', headers: {} })).toMatchObject({
      status: 200,
      body: '{"path":"/v1/Rooms/RM1"}',
    });
    expect((await trusting({ method: 'GET', path: '/again', headers: {} })).status).toBe(200);
    expect(server.connections()).toBe(1);

    const untrusting = createTwilioHttpTransport({ baseUrl, timeoutMs: 5_000, maxBodyBytes: 1024 });
    await expect(untrusting({ method: 'GET', path: '/v1/Rooms/RM1', headers: {} })).rejects.toThrow(/self[- ]signed/i);
  });

  it('refuses a URL of another protocol than the base URL’s', async () => {
    const send = createTwilioHttpTransport({ baseUrl: 'ftp://127.0.0.1', timeoutMs: 1_000, maxBodyBytes: 1024 });
    await expect(send({ method: 'GET', path: '/x', headers: {} })).rejects.toThrow('unsupported protocol ftp:');
  });
});
