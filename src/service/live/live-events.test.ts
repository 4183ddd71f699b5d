/**
 * Live wake-ups over PostgreSQL LISTEN/NOTIFY coalesce: a burst of publishes carrying many
 * events wakes each tenant's streams on another instance once or twice, not once per event, and
 * never misses a tenant. Real server, two instances (two LISTEN connections).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { createLogger } from '../logger.js';
import { createPostgresLiveEvents, type LiveEvent, type LiveEvents } from './live-events.js';

const postgres = enginesUnderTest().find((engine) => engine.name === 'postgres');
const logger = createLogger({ level: 'silent' });

const event = (tenantId: string, n: number): LiveEvent => ({
  tenantId,
  consultationId: `con-${n}`,
  type: 'participant.joined',
  at: new Date().toISOString(),
  data: { n },
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for wake-ups');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.runIf(postgres)('PostgreSQL live wake-ups', () => {
  let database: TestDatabase;
  let a: LiveEvents;
  let b: LiveEvents;

  beforeAll(async () => {
    database = await postgres!.createTestDatabase();
    a = await createPostgresLiveEvents({ connectionString: database.url, logger });
    b = await createPostgresLiveEvents({ connectionString: database.url, logger });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  it('wakes every tenant on the other instance, once per burst instead of once per event', async () => {
    const tenants = ['ten-a', 'ten-b', 'ten-c', 'ten-d', 'ten-e'];
    const remote = new Map(tenants.map((tenant) => [tenant, 0]));
    const local = new Map(tenants.map((tenant) => [tenant, 0]));
    const stops = tenants.flatMap((tenant) => [
      b.subscribe(tenant, () => remote.set(tenant, remote.get(tenant)! + 1)),
      a.subscribe(tenant, () => local.set(tenant, local.get(tenant)! + 1)),
    ]);
    // Ten folds' worth of publishes at once, 8 events each, every tenant in each.
    await Promise.all(
      Array.from({ length: 10 }, (_, fold) => a.publish(Array.from({ length: 8 }, (_, n) => event(tenants[(fold + n) % 5]!, n)))),
    );
    await until(() => [...remote.values()].every((count) => count > 0));
    // Let any further NOTIFY arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tenant of tenants) {
      expect(remote.get(tenant), tenant).toBeGreaterThanOrEqual(1);
      expect(remote.get(tenant), tenant).toBeLessThanOrEqual(2);
      // Here, once per publish that named the tenant (each names every tenant): not per event.
      expect(local.get(tenant), tenant).toBe(10);
    }
    for (const stop of stops) stop();
  });

  it('wakes a tenant published after a burst in a NOTIFY of its own', async () => {
    let woken = 0;
    const stop = b.subscribe('ten-late', () => (woken += 1));
    await a.publish([event('ten-late', 1)]);
    await until(() => woken === 1);
    await a.publish([event('ten-late', 2), event('ten-late', 3)]);
    await until(() => woken === 2);
    stop();
  });
});
