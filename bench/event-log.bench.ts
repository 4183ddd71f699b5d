/**
 * The tenant event log: appends per second with concurrent writers of one tenant (each append
 * serialises on the tenant's counter row until commit), and the latency from an append's commit
 * to a stream follower on the same instance handing it over (woken by the in-process
 * notification), p50 / p99. Figures are printed, never asserted.
 *
 *   npx tsx bench/event-log.bench.ts [--engine sqlite|postgres|mysql]   (EVENTS=4000 WRITERS=16)
 */
import { enginesUnderTest } from '../test/support/engines.js';
import { createLogger } from '../src/service/logger.js';
import { followTenantEvents } from '../src/service/live/event-log-follower.js';
import { createLocalLiveEvents } from '../src/service/live/live-events.js';
import { appendTenantEvents } from '../src/storage/event-log-repository.js';
import { createTenant } from '../src/service/tenants/tenant-admin.js';
import { openStore } from '../src/storage/open-store.js';

const EVENTS = Number(process.env.EVENTS ?? 4000);
const WRITERS = Number(process.env.WRITERS ?? 16);
const engineName = process.argv[process.argv.indexOf('--engine') + 1] ?? 'sqlite';

async function main(): Promise<void> {
  const engine = enginesUnderTest().find((candidate) => candidate.name === engineName);
  if (!engine) throw new Error(`unknown engine ${engineName}`);
  const database = await engine.createTestDatabase();
  const store = await openStore(database.url);
  try {
    await store.migrate();
    const tenantId = await createTenant(store, { slug: 'bench', name: 'bench', kind: 'human' });
    const live = createLocalLiveEvents();
    const committedAt = new Map<string, number>();
    const latencies: number[] = [];
    let received = 0;
    let allReceived!: () => void;
    const done = new Promise<void>((resolve) => (allReceived = resolve));
    const stop = followTenantEvents({ store, live, logger: createLogger({ level: 'silent' }) }, tenantId, 0, (events) => {
      const now = performance.now();
      for (const event of events) {
        const at = committedAt.get(String(event.data.n));
        if (at !== undefined) latencies.push(now - at);
      }
      received += events.length;
      if (received >= EVENTS) allReceived();
    });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (next < EVENTS) {
          const n = next++;
          const draft = {
            tenantId,
            consultationId: 'con_bench',
            type: 'consultation.status' as const,
            at: new Date().toISOString(),
            data: { n },
          };
          await store.transaction((trx) => appendTenantEvents(trx, [draft]));
          committedAt.set(String(n), performance.now());
          await live.publish([draft]);
        }
      }),
    );
    const appendSeconds = (performance.now() - started) / 1000;
    await done;
    stop();
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
    console.log(
      `event log on ${engineName}: ${EVENTS} appends by ${WRITERS} writers of one tenant: ${Math.round(EVENTS / appendSeconds)} appends/s; ` +
        `commit → stream follower p50 ${at(0.5)} ms, p99 ${at(0.99)} ms (${latencies.length} measured)`,
    );
    await live.close();
  } finally {
    await store.close();
    await database.drop();
  }
}

await main();
