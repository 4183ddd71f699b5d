/**
 * The record thread (worker_threads): its own store connection — on SQLite a second
 * better-sqlite3 connection to the same WAL file, on PostgreSQL/MySQL its own pool — the
 * webhook's group commit, the same ProjectionWorker that runs in-process otherwise, and (with
 * `data.outbox`) the outbox worker the folds fill. The HTTP thread hands it verified callbacks
 * and answers each once its commit returned; the consultations they change are folded here, and
 * their effects run here, without a round trip. It answers with the callbacks' outcomes,
 * wake-ups (live events), the outbox's alerts and gauges, and its log lines. On SQLite the inbox commits and the folds
 * share one connection, taking turns, so neither waits on the other's lock. Started by
 * projection-thread.ts, never imported.
 */
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../../storage/open-store.js';
import { createLogger } from '../logger.js';
import type { LiveEvents } from '../live/live-events.js';
import type { FromProjectionThread, ProjectionThreadData, ToProjectionThread } from './projection-thread-messages.js';
import { ProjectionWorker } from './projection-worker.js';
import { createStoreIngest } from '../webhook/store-ingest.js';
import { createOutboxHandlers } from '../outbox/outbox-handlers.js';
import { OutboxWorker, type OutboxMetrics } from '../outbox/outbox-worker.js';
import { createTwilioRestClient } from '../twilio/twilio-rest-client.js';
import { ingestFailureOf } from '../webhook/thread-ingest.js';

const port = parentPort!;
const data = workerData as ProjectionThreadData;
const post = (message: FromProjectionThread) => port.postMessage(message);

// Log lines go to the HTTP thread's logger: one destination, whatever the service was given.
const logger = createLogger({
  level: data.logLevel,
  destination: new Writable({
    write(chunk, _encoding, callback) {
      post({ type: 'log', line: String(chunk) });
      callback();
    },
  }),
}).child({ thread: 'projection' });

// The notification is only a wake-up; the HTTP thread publishes it (NOTIFY on PostgreSQL).
const live: LiveEvents = {
  async publish(events) {
    post({ type: 'live', events });
  },
  subscribe: () => () => undefined,
  async close() {},
};

const store = await openStore(data.databaseUrl, { ...data.store, logger });
const clock = () => new Date();

// The HTTP thread's settings decide: the account of rooms created before rooms recorded theirs,
// and where Twilio sends composition callbacks. Each ingest and outbox message brings them.
let legacyAccountSid: string | undefined;
let statusCallbackUrl = '';

// The outbox beside the folds that queue its entries: its statements share this connection.
const outboxMetrics: OutboxMetrics = {
  alerts: { inc: ({ kind }) => post({ type: 'alert', alert: { kind } }) },
  outboxDepth: { set: (value) => post({ type: 'gauge', name: 'outboxDepth', value }) },
  outboxOldestAgeSeconds: { set: (value) => post({ type: 'gauge', name: 'outboxOldestAgeSeconds', value }) },
};
const outbox = data.outbox
  ? new OutboxWorker({
      store,
      logger,
      clock,
      metrics: outboxMetrics,
      pollIntervalMs: data.outbox.pollIntervalMs,
      leaseMs: data.outbox.leaseMs,
      concurrency: data.outbox.concurrency,
      handlers: createOutboxHandlers({
        store,
        twilio: createTwilioRestClient(data.outbox.twilio),
        clock,
        logger,
        statusCallbackUrl: () => statusCallbackUrl,
        onAlert: (alert) => post({ type: 'alert', alert }),
      }),
    })
  : undefined;
let outboxStarted = false;

const projection = new ProjectionWorker({
  store,
  logger,
  live,
  clock,
  onOutbox: () => (outbox ? outbox.wake() : post({ type: 'outbox' })),
  onProjectionFailure: () => post({ type: 'failure' }),
  ...(data.batchSize ? { batchSize: data.batchSize } : {}),
  ...(data.sweepIntervalMs ? { sweepIntervalMs: data.sweepIntervalMs } : {}),
  ...(data.gatherMs !== undefined ? { gatherMs: data.gatherMs } : {}),
  ...(data.pauseMs ? { pauseMs: data.pauseMs } : {}),
});

const ingest = createStoreIngest({
  store,
  ...(data.commitDeadlineMs ? { deadlineMs: data.commitDeadlineMs } : {}),
  clock,
  logger,
  onCommitted: (ids) => projection.markDirty(ids),
  onTenantEvents: (wakeUps) => post({ type: 'live', events: wakeUps }),
  legacyAccountSid: () => legacyAccountSid,
});

port.on('message', (message: ToProjectionThread) => {
  switch (message.type) {
    case 'ingest': {
      legacyAccountSid = message.legacyAccountSid;
      statusCallbackUrl = message.statusCallbackUrl;
      // Submitted in one turn: they join one group commit (or the next, if one is running).
      void Promise.allSettled(message.callbacks.map((callback) => ingest.submit(callback))).then((settled) =>
        post({
          type: 'ingested',
          batch: message.batch,
          results: settled.map((result) =>
            result.status === 'fulfilled' ? { ok: true, outcome: result.value } : { ok: false, ...ingestFailureOf(result.reason) },
          ),
        }),
      );
      break;
    }
    case 'outbox':
      statusCallbackUrl = message.statusCallbackUrl;
      // The first one (sent when this thread is ready) starts the worker: the URL is known then.
      if (outboxStarted) outbox?.wake();
      else outbox?.start();
      outboxStarted = true;
      break;
    case 'dirty':
      projection.markDirty(message.ids);
      break;
    case 'idle':
      void projection.idle().then(() => post({ type: 'idle', token: message.token }));
      break;
    case 'stop':
      void (async () => {
        // The last callbacks' commits first, then their folds.
        await ingest.close();
        await projection.stop();
        await outbox?.stop();
        await store.close();
        port.close();
      })();
      break;
  }
});

await projection.start();
post({ type: 'ready' });
