/**
 * Live streams over real sockets, on every engine: nothing outlives its key, and no key or
 * tenant holds more streams than its cap.
 *
 * - Two app instances share one database. SSE and WebSocket streams are open on both; then one
 *   key is revoked the way `roomgate key revoke` does it (a direct UPDATE, no request to any
 *   instance), one expires, one tenant is removed. Every one of their streams, on both
 *   instances, ends within 5 s — SSE with a `stream.end` event, the WebSocket with 1008 —
 *   while a fourth key's streams stay open.
 * - Streams beyond ROOMGATE_STREAMS_PER_KEY / _PER_TENANT get 429 TOO_MANY_STREAMS; a closed
 *   stream frees its slot.
 * - A WebSocket frame larger than ROOMGATE_WS_MAX_PAYLOAD closes the connection (1009).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteTenantAndKeys, findApiKey, revokeApiKey } from '../../src/storage/tenant-repository.js';
import { enginesUnderTest } from '../support/engines.js';
import { openSse, openWs, until, type SseClient, type WsClient } from '../support/live-clients.js';
import { startTestService, type TestService } from '../support/test-service.js';

const LIMITS = {
  ROOMGATE_STREAMS_PER_KEY: '3',
  ROOMGATE_STREAMS_PER_TENANT: '5',
  ROOMGATE_WS_MAX_PAYLOAD: '4096',
  // Short request timeouts: a live stream's request is complete once its headers are in, so the
  // streams below must outlive them (the kept ones stay open for seconds).
  ROOMGATE_HEADERS_TIMEOUT: '500ms',
  ROOMGATE_REQUEST_TIMEOUT: '1s',
};
const CONTRACT_BOUND_MS = 5000;

const listen = async (service: TestService) => {
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
};

const isOpen = (client: WsClient | { refused: number; body: string }): client is WsClient => 'socket' in client;

for (const engine of enginesUnderTest()) {
  describe(`live streams end with their key and are capped, on ${engine.name}`, () => {
    let a: TestService;
    let b: TestService;
    let baseA: string;
    let baseB: string;

    beforeAll(async () => {
      a = await startTestService(engine, { env: LIMITS });
      b = await startTestService(engine, {
        database: a.database,
        env: { ...LIMITS, TWILIO_ACCOUNT_SID: a.accountSid, TWILIO_AUTH_TOKEN: a.authToken },
      });
      baseA = await listen(a);
      baseB = await listen(b);
    });
    afterAll(async () => {
      await b?.app.close();
      await b?.store.close();
      await a?.close();
    });

    it('ends the SSE and WebSocket streams of a revoked, an expired and a removed key on both instances within 5 s', async () => {
      const revoked = await a.seedTenant('human', ['events:read']);
      const expiring = await a.seedKey(revoked.tenantId, ['events:read'], { expiresAt: new Date(Date.now() + 2500).toISOString() });
      const removed = await a.seedTenant('veterinary', ['events:read']);
      const kept = await a.seedTenant('human', ['events:read']);

      const open = async (key: string) => {
        const streams: { sse: SseClient[]; ws: WsClient[] } = { sse: [], ws: [] };
        for (const base of [baseA, baseB]) {
          const sse = await openSse(`${base}/v1/events`, key);
          expect(sse.status).toBe(200);
          streams.sse.push(sse);
          const ws = await openWs(`${base.replace('http', 'ws')}/v1/events/ws`, key);
          if (!isOpen(ws)) throw new Error(`WebSocket refused: ${ws.refused} ${ws.body}`);
          streams.ws.push(ws);
        }
        return streams;
      };
      const ended = (streams: { sse: SseClient[]; ws: WsClient[] }) =>
        streams.sse.every((sse) => sse.endedAt() !== undefined) && streams.ws.every((ws) => ws.closed() !== undefined);

      const revokedStreams = await open(revoked.key);
      const expiringStreams = await open(expiring.key);
      const removedStreams = await open(removed.key);
      const keptStreams = await open(kept.key);

      // What `roomgate key revoke ID` does: one UPDATE, straight to the database.
      const revokedAt = Date.now();
      await revokeApiKey(a.store.db, revoked.keyId, new Date().toISOString());
      // The tenant goes, with its keys.
      const removedAt = Date.now();
      await deleteTenantAndKeys(a.store.db, removed.tenantId);

      await until(() => ended(revokedStreams), CONTRACT_BOUND_MS, 'the revoked key’s streams to end');
      await until(() => ended(removedStreams), CONTRACT_BOUND_MS, 'the removed tenant’s streams to end');
      const expiresAt = Date.parse((await findApiKey(a.store.db, expiring.keyId))!.expires_at!);
      await until(() => ended(expiringStreams), expiresAt - Date.now() + CONTRACT_BOUND_MS, 'the expired key’s streams to end');

      for (const [streams, since, reason] of [
        [revokedStreams, revokedAt, 'key-revoked'],
        [removedStreams, removedAt, 'key-removed'],
        [expiringStreams, expiresAt, 'key-expired'],
      ] as const) {
        for (const sse of streams.sse) {
          expect(sse.endedAt()! - since).toBeLessThanOrEqual(CONTRACT_BOUND_MS);
          expect(sse.events.at(-1)).toEqual({ event: 'stream.end', data: { reason } });
        }
        for (const ws of streams.ws) {
          expect(ws.closed()!.code).toBe(1008);
          expect(ws.closed()!.at - since).toBeLessThanOrEqual(CONTRACT_BOUND_MS);
        }
      }
      // The other tenant's streams are untouched, on both instances — and outlived the request timeout.
      expect(Date.now() - revokedAt).toBeGreaterThan(1000);
      expect(keptStreams.sse.map((sse) => sse.endedAt())).toEqual([undefined, undefined]);
      expect(keptStreams.ws.map((ws) => ws.closed())).toEqual([undefined, undefined]);
      // A revoked key cannot open a new stream either.
      expect((await openSse(`${baseB}/v1/events`, revoked.key)).status).toBe(401);

      for (const ws of keptStreams.ws) ws.socket.close();
      for (const sse of keptStreams.sse) await sse.close();
    });

    it('refuses the stream beyond the per-key and per-tenant caps with 429, and frees a slot on close', async () => {
      const tenant = await a.seedTenant('human', ['events:read']);
      const second = await a.seedKey(tenant.tenantId, ['events:read']);
      const wsUrl = `${baseA.replace('http', 'ws')}/v1/events/ws`;

      // Per key (3): SSE and WebSocket count together.
      const first = [await openSse(`${baseA}/v1/events`, tenant.key), await openSse(`${baseA}/v1/events`, tenant.key)];
      const ws = await openWs(wsUrl, tenant.key);
      expect(first.map((sse) => sse.status)).toEqual([200, 200]);
      expect(isOpen(ws)).toBe(true);
      const overSse = await fetch(`${baseA}/v1/events`, { headers: { authorization: `Bearer ${tenant.key}` } });
      expect(overSse.status).toBe(429);
      expect(((await overSse.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
      const overWs = await openWs(wsUrl, tenant.key);
      expect(isOpen(overWs) ? 'open' : overWs.refused).toBe(429);
      if (!isOpen(overWs)) expect(JSON.parse(overWs.body)).toMatchObject({ error: { code: 'TOO_MANY_STREAMS' } });

      // Per tenant (5): the second key gets the two slots left, then 429.
      const moreSse = await openSse(`${baseA}/v1/events`, second.key);
      const moreWs = await openWs(wsUrl, second.key);
      expect(moreSse.status).toBe(200);
      expect(isOpen(moreWs)).toBe(true);
      const overTenant = await openWs(wsUrl, second.key);
      expect(isOpen(overTenant) ? 'open' : overTenant.refused).toBe(429);

      // Closing one stream frees its slot, once the server sees the client leave (asynchronous:
      // the open is retried for a moment).
      await first[0]!.close();
      let reopened = 0;
      for (let attempt = 0; attempt < 50 && reopened !== 200; attempt++) {
        const next = await openSse(`${baseA}/v1/events`, tenant.key);
        reopened = next.status;
        if (next.status === 200) await next.close();
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(reopened).toBe(200);

      // The cap is per instance: instance B still admits this key.
      const onB = await openSse(`${baseB}/v1/events`, tenant.key);
      expect(onB.status).toBe(200);

      await onB.close();
      await first[1]!.close();
      await moreSse.close();
      for (const client of [ws, moreWs]) if (isOpen(client)) client.socket.close();
    });

    it('closes a WebSocket that sends a frame over ROOMGATE_WS_MAX_PAYLOAD (1009); small frames are ignored', async () => {
      const tenant = await a.seedTenant('human', ['events:read']);
      const ws = await openWs(`${baseA.replace('http', 'ws')}/v1/events/ws`, tenant.key);
      if (!isOpen(ws)) throw new Error(`refused ${ws.refused}`);
      ws.socket.send('x'.repeat(100));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ws.closed()).toBeUndefined();
      ws.socket.send(Buffer.alloc(4097, 0x61));
      await until(() => ws.closed() !== undefined, CONTRACT_BOUND_MS, 'the oversized frame to close the socket');
      expect(ws.closed()!.code).toBe(1009);
      expect((await fetch(`${baseA}/healthz`)).status).toBe(200);
    });
  });
}
