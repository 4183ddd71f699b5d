/**
 * Wake-ups for the tenant's streams: a change was committed. The events themselves are read from
 * the tenant event log (event-log-follower.ts), so a lost notification delays an event by one
 * poll, never loses it. In-process by default; on PostgreSQL every instance LISTENs on one
 * channel and publishes with NOTIFY, so the wake-up reaches streams on all instances at once.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import type { TenantEventType } from '../../core/events/tenant-event.js';
import { PoolSockets } from '../../storage/pool-sockets.js';

export interface LiveEvent {
  readonly tenantId: string;
  readonly consultationId: string;
  readonly type: TenantEventType;
  readonly at: string;
  readonly data: Record<string, unknown>;
}

export interface LiveEvents {
  /** Committed changes: wakes their tenants' streams, here and on the other instances. */
  publish(events: readonly LiveEvent[]): Promise<void>;
  /**
   * Calls `listener` when the tenant's log may have grown (at most once per publish, however
   * many of its events it carried); returns the unsubscribe function.
   */
  subscribe(tenantId: string, listener: () => void): () => void;
  close(): Promise<void>;
}

const CHANNEL = 'roomgate_live_events';

/** In-process wake-ups; `wake` is also how another instance's NOTIFY reaches this one's streams. */
export function createLocalLiveEvents(): LiveEvents & { wake(tenantIds: Iterable<string>): void } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const wake = (tenantIds: Iterable<string>) => {
    for (const tenantId of new Set(tenantIds)) emitter.emit(tenantId);
  };
  return {
    wake,
    async publish(events) {
      wake(events.map((event) => event.tenantId));
    },
    subscribe(tenantId, listener) {
      emitter.on(tenantId, listener);
      return () => emitter.off(tenantId, listener);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

export interface PostgresLiveEventsOptions {
  readonly connectionString: string;
  readonly logger: Logger;
  /** Bound on connecting and on each NOTIFY / health query. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** How often the LISTEN connection proves it is alive (a silent partition is noticed). Default 10 s. */
  readonly healthIntervalMs?: number;
  /** Reconnect delays: from `minBackoffMs`, doubling to `maxBackoffMs`, for ever. Defaults 250 ms, 2 s. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Called each time an established LISTEN connection is lost (a metric counts them). */
  readonly onListenLost?: () => void;
  /** Called with true when LISTEN is in place, false when it is not (a gauge). */
  readonly onListening?: (listening: boolean) => void;
}

/** What travels in a NOTIFY: the tenants whose logs grew, and the instance that published it. */
interface Envelope {
  readonly origin: string;
  readonly tenants: readonly string[];
}

/** Tenants per NOTIFY: ids of up to 64 characters stay far below PostgreSQL's 8,000-byte payload limit. */
const TENANTS_PER_NOTIFY = 100;

/**
 * LISTEN/NOTIFY. Publishing delivers to this instance's own subscribers directly (they get the
 * event even when NOTIFY fails) and NOTIFYs the others; the echo of our own NOTIFY is skipped,
 * so no local subscriber sees an event twice. The LISTEN connection is re-made, with backoff,
 * for ever: the database may restart, fail over or be partitioned any number of times. While it
 * is down, streams still see other instances' events by polling the log.
 */
export async function createPostgresLiveEvents(options: PostgresLiveEventsOptions): Promise<LiveEvents> {
  const { logger } = options;
  const origin = randomUUID();
  const timeoutMs = options.timeoutMs ?? 5000;
  const minBackoffMs = options.minBackoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 2000;
  const local = createLocalLiveEvents();
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: 2,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // Without these a restarting server's 'error' on an idle or checked-out client ends the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'live events: idle publish connection lost'));
  const sockets = new PoolSockets();
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn({ err: error }, 'live events: publish connection lost'));
    sockets.add((client as unknown as { connection?: { stream?: Socket } }).connection?.stream);
  });

  let closed = false;
  let listener: pg.Client | undefined;
  let wakeSleep: (() => void) | undefined;
  let settleFirst!: () => void;
  const firstAttempt = new Promise<void>((resolve) => (settleFirst = resolve));

  const deliver = (payload: string | undefined) => {
    if (!payload) return;
    try {
      const parsed = JSON.parse(payload) as Envelope | { origin: string; event: LiveEvent } | LiveEvent;
      if ('origin' in parsed && parsed.origin === origin) return; // delivered locally when it was published
      // Instances of older versions send one event, bare or in an envelope.
      const tenants = 'tenants' in parsed ? parsed.tenants : 'event' in parsed ? [parsed.event.tenantId] : [parsed.tenantId];
      local.wake(tenants);
    } catch (error) {
      logger.warn({ err: error }, 'ignored a malformed live event notification');
    }
  };

  /** One LISTEN connection, from connect until it is lost: 'failed' if it never listened. */
  const listenOnce = async (): Promise<'lost' | 'failed'> => {
    const client = new pg.Client({ connectionString: options.connectionString, connectionTimeoutMillis: timeoutMs, keepAlive: true });
    let markLost!: () => void;
    const lost = new Promise<void>((resolve) => (markLost = resolve));
    client.on('error', (error) => {
      logger.warn({ err: error }, 'live events: LISTEN connection error');
      markLost();
    });
    client.on('end', () => markLost());
    client.on('notification', (message) => deliver(message.payload));
    try {
      await withTimeout(client.connect(), timeoutMs, 'connect');
      await withTimeout(client.query(`LISTEN ${CHANNEL}`), timeoutMs, 'LISTEN');
    } catch (error) {
      destroy(client);
      logger.warn({ err: error }, 'live events: cannot LISTEN');
      settleFirst();
      return 'failed';
    }
    if (closed) {
      destroy(client);
      return 'lost';
    }
    listener = client;
    options.onListening?.(true);
    logger.info('live events: listening');
    settleFirst();
    // A silent partition raises no error: a health query that does not come back in time ends it.
    const health = setInterval(() => {
      withTimeout(client.query('select 1'), timeoutMs, 'health check').catch((error: unknown) => {
        logger.warn({ err: error }, 'live events: LISTEN connection does not answer');
        markLost();
      });
    }, options.healthIntervalMs ?? 10_000);
    health.unref();
    await lost;
    clearInterval(health);
    listener = undefined;
    destroy(client);
    options.onListening?.(false);
    return 'lost';
  };

  const keepListening = async () => {
    let delay = minBackoffMs;
    let attempt = 0;
    while (!closed) {
      const outcome = await listenOnce();
      if (closed) return;
      if (outcome === 'lost') {
        options.onListenLost?.();
        logger.warn('live events: LISTEN connection lost; reconnecting');
        delay = minBackoffMs;
        attempt = 0;
      } else {
        attempt += 1;
        logger.warn({ attempt, retryInMs: delay }, 'live events: LISTEN reconnect attempt failed; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay * (0.75 + Math.random() * 0.5));
        timer.unref();
        wakeSleep = () => (clearTimeout(timer), resolve());
      });
      wakeSleep = undefined;
      delay = Math.min(maxBackoffMs, delay * 2);
    }
  };

  // The first connection is tried before returning (events flow at once when the database is
  // up), but its failure is no reason to stop: the loop keeps trying.
  options.onListening?.(false);
  void keepListening();
  await firstAttempt;

  // Wake-ups coalesce: the tenants of publishes made while a NOTIFY is on its way wait and go
  // together in the next one. One NOTIFY (a transaction on the server, and an echo to every
  // listener) per moment, not one per event: a busy record thread publishes several per fold.
  let waiting = new Set<string>();
  let inFlight: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  const notify = async (tenants: readonly string[]) => {
    for (let start = 0; start < tenants.length; start += TENANTS_PER_NOTIFY) {
      const envelope: Envelope = { origin, tenants: tenants.slice(start, start + TENANTS_PER_NOTIFY) };
      await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(envelope)]);
    }
  };
  /** Resolves once the waiting tenants have been notified (rejects if that NOTIFY failed). */
  const notifyWaiting = (): Promise<void> =>
    (queued ??= inFlight
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        const tenants = [...waiting];
        waiting = new Set();
        inFlight = notify(tenants);
        return inFlight;
      }));

  return {
    async publish(events) {
      await local.publish(events);
      if (events.length === 0) return;
      for (const event of events) waiting.add(event.tenantId);
      await notifyWaiting();
    },
    subscribe: (tenantId, callback) => local.subscribe(tenantId, callback),
    async close() {
      closed = true;
      wakeSleep?.();
      if (listener) destroy(listener);
      await sockets.end(() => pool.end()).catch(() => undefined);
      await local.close();
    },
  };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`live events: ${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Ends a client at once, also when its socket is silent (end() would wait for the server). */
function destroy(client: pg.Client): void {
  // pg keeps its socket at client.connection.stream; destroying it fails what is in flight.
  (client as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
  void client.end().catch(() => undefined);
}
