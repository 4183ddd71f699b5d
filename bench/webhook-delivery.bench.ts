/**
 * Outbound webhooks: delivery throughput and the latency from an event's commit to its arrival
 * at the receiver, p50 / p99. Figures are printed, never asserted.
 *
 *   npx tsx bench/webhook-delivery.bench.ts [--engine sqlite|postgres|mysql] [--events 2000]
 *                                           [--consultations 100] [--concurrency 8] [--rate 200]
 *
 * One tenant, one endpoint, a receiver on loopback (node:http, in this process) that verifies
 * every delivery with the `standardwebhooks` package and answers 204. The delivery worker is the
 * service's own (fan-out from the log, leased claims, signed SSRF-checked sends, one transaction
 * per outcome), on a fresh database of the engine.
 *   throughput  EVENTS events appended (20 per transaction, spread over CONSULTATIONS
 *               consultations) while the worker is stopped; then the worker starts and the
 *               time until the receiver has them all gives deliveries per second. A
 *               consultation's events go one after the other (order), so at most
 *               min(CONCURRENCY, CONSULTATIONS) are in flight.
 *   latency     EVENTS events appended one per transaction at RATE per second with the worker
 *               running and woken after each commit (as a fold's commit wakes it): arrival at
 *               the receiver minus the commit's return.
 */
import { enginesUnderTest } from '../test/support/engines.js';
import { startWebhookReceiver } from '../test/support/webhook-receiver.js';
import { newWebhookSecret } from '../src/core/outbound/standard-webhook-signature.js';
import { loadConfig } from '../src/service/config.js';
import { createLogger } from '../src/service/logger.js';
import { createTenant } from '../src/service/tenants/tenant-admin.js';
import { WebhookDeliveryWorker } from '../src/service/webhooks/webhook-delivery-worker.js';
import { appendTenantEvents } from '../src/storage/event-log-repository.js';
import { newId } from '../src/storage/ids.js';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';
import { insertWebhookEndpoint } from '../src/storage/webhook-repository.js';
import { benchArgs, fmt } from './support/bench-args.js';

const args = benchArgs(
  process.argv.slice(2),
  { engine: 'sqlite', events: 2000, consultations: 100, concurrency: 8, rate: 200 },
  'tsx bench/webhook-delivery.bench.ts [--engine sqlite|postgres|mysql] [--events N] [--consultations C] [--concurrency K] [--rate R]',
);
const EVENTS = Math.floor(args.events);
const CONSULTATIONS = Math.max(1, Math.floor(args.consultations));

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function main(): Promise<void> {
  const engine = enginesUnderTest().find((candidate) => candidate.name === args.engine);
  if (!engine) throw new Error(`unknown engine ${args.engine}`);
  const database = await engine.createTestDatabase();
  const store = await openStore(database.url);
  const receiver = await startWebhookReceiver(() => 204);
  try {
    await store.migrate();
    // Transactions per delivery: the figure that bounds throughput on SQLite (one fsync each).
    let transactions = 0;
    const counted: Store = {
      ...store,
      transaction: (fn, options) => {
        transactions += 1;
        return store.transaction(fn, options);
      },
    };
    const config = loadConfig({
      ROOMGATE_DATABASE_URL: database.url,
      ROOMGATE_WEBHOOK_ALLOW_HTTP: '1',
      ROOMGATE_WEBHOOK_ALLOW_ADDRESSES: '127.0.0.1',
      ROOMGATE_WEBHOOK_CONCURRENCY: String(Math.floor(args.concurrency)),
    });
    const tenantId = await createTenant(store, { slug: 'bench', name: 'bench', kind: 'human' });
    const secret = newWebhookSecret();
    receiver.secrets = [secret];
    await store.transaction((trx) =>
      insertWebhookEndpoint(trx, {
        tenantId,
        url: receiver.url,
        eventTypes: null,
        description: null,
        enabled: true,
        secret,
        now: new Date().toISOString(),
      }),
    );
    const consultations = Array.from({ length: CONSULTATIONS }, () => newId('con'));
    const draft = (n: number) => ({
      tenantId,
      consultationId: consultations[n % CONSULTATIONS]!,
      type: 'participant.joined' as const,
      at: new Date().toISOString(),
      data: { identity: `p-${n}`, role: 'patient', at: new Date().toISOString() },
    });
    const worker = () =>
      new WebhookDeliveryWorker({ store: counted, config: config.webhooks, sandbox: false, logger: createLogger({ level: 'silent' }) });
    const arrived = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => (receiver.deliveries.length >= count ? resolve() : setTimeout(check, 2));
        check();
      });

    // Throughput: a backlog of EVENTS, then the worker starts.
    for (let n = 0; n < EVENTS; n += 20) {
      await store.transaction((trx) =>
        appendTenantEvents(
          trx,
          Array.from({ length: Math.min(20, EVENTS - n) }, (_, i) => draft(n + i)),
        ),
      );
    }
    const backlog = worker();
    const before = transactions;
    const started = performance.now();
    backlog.start();
    await arrived(EVENTS);
    const seconds = (performance.now() - started) / 1000;
    await backlog.stop();
    const perDelivery = (transactions - before) / EVENTS;

    // Latency: one event per commit at RATE/s, the worker woken after each commit.
    const live = worker();
    live.start();
    const committedAt = new Map<string, number>();
    const intervalMs = 1000 / Math.max(1, args.rate);
    const first = performance.now();
    for (let n = 0; n < EVENTS; n += 1) {
      const [event] = await store.transaction((trx) => appendTenantEvents(trx, [draft(EVENTS + n)]));
      committedAt.set(event!.id, Date.now());
      live.wake();
      const due = first + (n + 1) * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await arrived(2 * EVENTS);
    await live.stop();

    const latencies = receiver.deliveries
      .filter((delivery) => committedAt.has(delivery.webhookId))
      .map((delivery) => delivery.receivedAt - committedAt.get(delivery.webhookId)!)
      .sort((a, b) => a - b);
    const verified = receiver.deliveries.every((delivery) => delivery.verifiedWith.length === 1);
    const once = new Set(receiver.deliveries.map((delivery) => delivery.webhookId)).size === receiver.deliveries.length;
    console.log(
      `webhook delivery on ${args.engine}: ${fmt(EVENTS)} events over ${fmt(CONSULTATIONS)} consultations, concurrency ${fmt(args.concurrency)}\n` +
        `  throughput  ${fmt(EVENTS / seconds)} deliveries/s (backlog of ${fmt(EVENTS)} in ${fmt(seconds, 2)} s, ${fmt(perDelivery, 2)} transactions per delivery)\n` +
        `  latency     commit → receiver at ${fmt(args.rate)} events/s: p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(percentile(latencies, 99))} ms, max ${fmt(latencies.at(-1)!)} ms\n` +
        `  checks      every delivery verified (standardwebhooks): ${verified}; each event once: ${once}`,
    );
    if (!verified || !once) process.exitCode = 1;
  } finally {
    await receiver.close();
    await store.close();
    await database.drop();
  }
}

await main();
