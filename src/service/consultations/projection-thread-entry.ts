/**
 * The projection thread (worker_threads): its own store connection — on SQLite a second
 * better-sqlite3 connection to the same WAL file, on PostgreSQL/MySQL its own pool — and the same
 * ProjectionWorker that runs in-process otherwise. The HTTP thread hands it consultation ids;
 * it answers with wake-ups (live events, outbox) and its log lines. Started by
 * projection-thread.ts, never imported.
 */
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../../storage/open-store.js';
import { createLogger } from '../logger.js';
import type { LiveEvents } from '../live/live-events.js';
import type { FromProjectionThread, ProjectionThreadData, ToProjectionThread } from './projection-thread-messages.js';
import { ProjectionWorker } from './projection-worker.js';

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
const projection = new ProjectionWorker({
  store,
  logger,
  live,
  clock: () => new Date(),
  onOutbox: () => post({ type: 'outbox' }),
  onProjectionFailure: () => post({ type: 'failure' }),
  ...(data.batchSize ? { batchSize: data.batchSize } : {}),
  ...(data.sweepIntervalMs ? { sweepIntervalMs: data.sweepIntervalMs } : {}),
  ...(data.gatherMs !== undefined ? { gatherMs: data.gatherMs } : {}),
  ...(data.pauseMs ? { pauseMs: data.pauseMs } : {}),
});

port.on('message', (message: ToProjectionThread) => {
  switch (message.type) {
    case 'dirty':
      projection.markDirty(message.ids);
      break;
    case 'idle':
      void projection.idle().then(() => post({ type: 'idle', token: message.token }));
      break;
    case 'stop':
      void (async () => {
        await projection.stop();
        await store.close();
        port.close();
      })();
      break;
  }
});

await projection.start();
post({ type: 'ready' });
