/**
 * GET /v1/audit-log on every engine, with real API keys: a tenant sees its own rows only,
 * newest first, paged by cursor or bounded by `since`; every authenticated request is recorded
 * (key id, route, status) without a write on the request path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../../../test/support/engines.js';
import { startTestService, type TestService } from '../../../test/support/test-service.js';
import { insertAuditRows } from '../../storage/audit-repository.js';
import { newId } from '../../storage/ids.js';

interface AuditRow {
  id: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail: unknown;
  createdAt: string;
}

for (const engine of enginesUnderTest()) {
  describe(`GET /v1/audit-log on ${engine.name}`, () => {
    let service: TestService;
    let a: { tenantId: string; key: string; keyId: string };
    let b: { tenantId: string; key: string; keyId: string };
    let noScope: { key: string; keyId: string };
    const seededA: string[] = [];
    const startedAt = new Date().toISOString();

    const get = (key: string | undefined, query = '') =>
      service.app.inject({ method: 'GET', url: `/v1/audit-log${query}`, headers: key ? { authorization: `Bearer ${key}` } : {} });
    const seed = async (tenantId: string | null, createdAt: string, action = 'token.issue') => {
      const id = newId('aud');
      await insertAuditRows(service.store.db, [
        { id, tenantId, actor: 'key_seed', action, target: 'con_x', outcome: 'issued', detail: { n: createdAt }, at: createdAt },
      ]);
      return id;
    };

    beforeAll(async () => {
      service = await startTestService(engine);
      a = await service.seedTenant('human', ['audit:read', 'consultations:read']);
      b = await service.seedTenant('veterinary', ['audit:read']);
      noScope = await service.seedKey(a.tenantId, ['consultations:read']);
      // Two rows share a timestamp: the id breaks the tie, and paging must not skip either.
      for (const at of [
        '2020-01-01T00:00:05.000Z',
        '2020-01-01T00:00:04.000Z',
        '2020-01-01T00:00:03.000Z',
        '2020-01-01T00:00:03.000Z',
        '2020-01-01T00:00:01.000Z',
      ]) {
        seededA.push(await seed(a.tenantId, at));
      }
      for (const at of ['2020-01-01T00:00:02.000Z', '2020-01-01T00:00:06.000Z']) await seed(b.tenantId, at);
      await seed(null, '2020-01-01T00:00:07.000Z', 'config.reload');
    });
    afterAll(async () => {
      await service?.app.roomgate.drain();
      await service?.close();
    });

    it("returns only the caller's tenant rows, newest first", async () => {
      const response = await get(a.key);
      expect(response.statusCode).toBe(200);
      const body = response.json<{ data: AuditRow[]; nextCursor: string | null }>();
      expect(body.nextCursor).toBeNull();
      expect(body.data).toHaveLength(5);
      const times = body.data.map((row) => row.createdAt);
      expect(times).toEqual([...times].sort().reverse());
      expect(body.data.every((row) => row.action === 'token.issue' && row.actor === 'key_seed')).toBe(true);
      expect(new Set(body.data.map((row) => row.id))).toEqual(new Set(seededA));

      const other = (await get(b.key)).json<{ data: AuditRow[] }>().data;
      expect(other.map((row) => row.createdAt)).toEqual(['2020-01-01T00:00:06.000Z', '2020-01-01T00:00:02.000Z']);
    });

    it('records each authenticated request: key id, route and status', async () => {
      expect(
        (await service.app.inject({ method: 'GET', url: '/v1/consultations', headers: { authorization: `Bearer ${a.key}` } })).statusCode,
      ).toBe(200);
      expect(
        (await service.app.inject({ method: 'GET', url: '/v1/consultations/con_nope', headers: { authorization: `Bearer ${a.key}` } }))
          .statusCode,
      ).toBe(404);
      await service.app.roomgate.drain();
      const rows = (await get(a.key, `?since=${startedAt}`)).json<{ data: AuditRow[] }>().data;
      const uses = rows.filter((row) => row.action === 'api.request').map((row) => [row.actor, row.target, row.outcome]);
      expect(uses).toContainEqual([a.keyId, 'GET /v1/consultations', '200']);
      expect(uses).toContainEqual([a.keyId, 'GET /v1/consultations/:id', '404']);
      expect(uses).toContainEqual([a.keyId, 'GET /v1/audit-log', '200']);
      // Tenant B's use is B's: never in A's log, always in B's.
      expect(rows.every((row) => row.actor !== b.keyId)).toBe(true);
      const bRows = (await get(b.key, `?since=${startedAt}`)).json<{ data: AuditRow[] }>().data;
      expect(bRows.length).toBeGreaterThan(0);
      expect(bRows.every((row) => row.actor === b.keyId && row.action === 'api.request')).toBe(true);
    });

    it('pages by cursor without gaps or repeats, and bounds by since', async () => {
      await service.app.roomgate.drain();
      const all = (await get(a.key, '?limit=500')).json<{ data: AuditRow[] }>().data;
      const collected: AuditRow[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: AuditRow[]; nextCursor: string | null } = (
          await get(a.key, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        ).json();
        expect(page.data.length).toBeLessThanOrEqual(2);
        collected.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      // Newest first, no repeats, nothing of the earlier listing skipped; the only extra rows are
      // the audit-log reads recorded while paging.
      const ids = collected.map((row) => row.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expect.arrayContaining(all.map((row) => row.id)));
      const times = collected.map((row) => row.createdAt);
      expect(times).toEqual([...times].sort().reverse());
      const extra = collected.filter((row) => !all.some((known) => known.id === row.id));
      expect(extra.every((row) => row.target === 'GET /v1/audit-log')).toBe(true);

      const since = (await get(a.key, '?since=2020-01-01T00:00:03.000Z&limit=500')).json<{ data: AuditRow[] }>().data;
      const seededSince = since.filter((row) => row.action === 'token.issue').map((row) => row.createdAt);
      expect(seededSince).toEqual([
        '2020-01-01T00:00:05.000Z',
        '2020-01-01T00:00:04.000Z',
        '2020-01-01T00:00:03.000Z',
        '2020-01-01T00:00:03.000Z',
      ]);
      // Any ISO 8601 offset means the same instant.
      const offset = (await get(a.key, `?since=${encodeURIComponent('2020-01-01T01:00:04+01:00')}&limit=500`)).json<{ data: AuditRow[] }>()
        .data;
      expect(offset.filter((row) => row.action === 'token.issue')).toHaveLength(2);
    });

    it('refuses bad keys, a key without audit:read, and bad parameters', async () => {
      expect((await get(undefined)).statusCode).toBe(401);
      expect((await get('rgk_not-a-key')).statusCode).toBe(401);
      const forbidden = await get(noScope.key);
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json()).toMatchObject({ error: { code: 'FORBIDDEN_SCOPE' } });
      for (const query of [
        '?limit=0',
        '?limit=501',
        '?limit=x',
        '?since=yesterday',
        '?since=2029-13-45T00:00:00Z',
        '?cursor=%%%',
        '?cursor=bm9wZQ',
      ]) {
        const response = await get(a.key, query);
        expect(response.statusCode, query).toBe(422);
        expect(response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
      }
    });
  });
}
