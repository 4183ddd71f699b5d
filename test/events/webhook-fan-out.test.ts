/**
 * Fan-out from the tenant event log to endpoints, exactly once per endpoint, on every engine:
 * two stores (two instances' connections) fan out over and over while events are appended, and
 * every event ends up as exactly one message per endpoint that takes its type — none missing,
 * none twice; a disabled endpoint gets nothing and keeps its cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { fanOutWebhooks } from '../../src/service/webhooks/webhook-fan-out.js';
import { appendTenantEvents } from '../../src/storage/event-log-repository.js';
import { newId } from '../../src/storage/ids.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { insertWebhookEndpoint, updateWebhookEndpoint } from '../../src/storage/webhook-repository.js';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';

const EVENTS = 120;

for (const engine of enginesUnderTest()) {
  describe(`webhook fan-out on ${engine.name}`, () => {
    let database: TestDatabase;
    let stores: Store[];
    beforeAll(async () => {
      database = await engine.createTestDatabase();
      stores = [await openStore(database.url), await openStore(database.url)];
      await stores[0]!.migrate();
    });
    afterAll(async () => {
      for (const store of stores ?? []) await store.close();
      await database?.drop();
    });

    it('makes exactly one message per endpoint and event while two instances race', async () => {
      const [a, b] = stores as [Store, Store];
      const tenantId = await createTenant(a, { slug: `fan-${newId('t').slice(-6).toLowerCase()}`, name: 'Fan-out clinic', kind: 'human' });
      const now = () => new Date().toISOString();
      const endpoint = (eventTypes: string[] | null, enabled = true) =>
        a.transaction((trx) =>
          insertWebhookEndpoint(trx, {
            tenantId,
            url: 'https://hooks.invalid/x',
            eventTypes,
            description: null,
            enabled,
            secret: 'whsec_x',
            now: now(),
          }),
        );
      const all = await endpoint(null);
      const joinedOnly = await endpoint(['participant.joined']);
      const off = await endpoint(null);
      await a.transaction((trx) => updateWebhookEndpoint(trx, tenantId, off, { enabled: false }, now()));

      const consultations = [newId('con'), newId('con'), newId('con')];
      let appended = 0;
      let appending = true;
      const writer = (async () => {
        while (appended < EVENTS) {
          const batch = Array.from({ length: 4 }, (_, i) => ({
            tenantId,
            consultationId: consultations[(appended + i) % 3]!,
            type: (appended + i) % 2 === 0 ? ('participant.joined' as const) : ('participant.left' as const),
            at: now(),
            data: { identity: 'p-1', at: now() },
          }));
          await a.transaction((trx) => appendTenantEvents(trx, batch));
          appended += batch.length;
        }
        appending = false;
      })();
      const racer = async (store: Store) => {
        while (appending) await fanOutWebhooks(store, () => new Date());
        await fanOutWebhooks(store, () => new Date());
      };
      await Promise.all([writer, racer(a), racer(b), racer(b)]);
      await fanOutWebhooks(a, () => new Date());

      const messages = await a.db.selectFrom('webhook_messages').select(['endpoint_id', 'event_id', 'event_type']).execute();
      const events = await a.db.selectFrom('tenant_events').select(['id', 'type']).where('tenant_id', '=', tenantId).execute();
      expect(events).toHaveLength(EVENTS);
      const of = (id: string) =>
        messages
          .filter((message) => message.endpoint_id === id)
          .map((message) => message.event_id)
          .sort();
      expect(of(all)).toEqual(events.map((event) => event.id).sort());
      expect(of(joinedOnly)).toEqual(
        events
          .filter((event) => event.type === 'participant.joined')
          .map((event) => event.id)
          .sort(),
      );
      expect(of(off)).toEqual([]);
      const cursors = await a.db.selectFrom('webhook_endpoints').select(['id', 'log_cursor']).where('tenant_id', '=', tenantId).execute();
      const cursor = (id: string) => Number(cursors.find((row) => row.id === id)!.log_cursor);
      expect([cursor(all), cursor(joinedOnly), cursor(off)]).toEqual([EVENTS, EVENTS, 0]);
    });
  });
}
