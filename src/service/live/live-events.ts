/**
 * Live changes of consultations, fanned out to a tenant's SSE and WebSocket subscribers.
 * In-process by default; on PostgreSQL every instance LISTENs on one channel and publishes with
 * NOTIFY, so a change recorded on one instance reaches subscribers on all of them.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';

export interface LiveEvent {
  readonly tenantId: string;
  readonly consultationId: string;
  readonly type:
    | 'consultation.status'
    | 'participant.joined'
    | 'participant.left'
    | 'recording.available'
    | 'composition.available'
    | 'billing.recorded';
  readonly at: string;
  readonly data: Record<string, unknown>;
}

export interface LiveEvents {
  publish(events: readonly LiveEvent[]): Promise<void>;
  /** Calls `listener` for each event of this tenant; returns the unsubscribe function. */
  subscribe(tenantId: string, listener: (event: LiveEvent) => void): () => void;
  close(): Promise<void>;
}

const CHANNEL = 'roomgate_live_events';

export function createLocalLiveEvents(): LiveEvents {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(events) {
      for (const event of events) emitter.emit(event.tenantId, event);
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

/** LISTEN/NOTIFY over a dedicated connection, reconnecting if it drops. */
export async function createPostgresLiveEvents(options: { connectionString: string; logger: Logger }): Promise<LiveEvents> {
  const local = createLocalLiveEvents();
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  let listener: pg.Client | undefined;
  let closed = false;

  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: options.connectionString });
    client.on('notification', (message) => {
      if (!message.payload) return;
      try {
        void local.publish([JSON.parse(message.payload) as LiveEvent]);
      } catch (error) {
        options.logger.warn({ err: error }, 'ignored a malformed live event notification');
      }
    });
    client.on('error', (error) => {
      options.logger.warn({ err: error }, 'live events listener lost its connection; reconnecting');
      listener = undefined;
      if (!closed) setTimeout(() => void connect().catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    listener = client;
  };
  await connect();

  return {
    async publish(events) {
      for (const event of events) await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(event)]);
    },
    subscribe: (tenantId, callback) => local.subscribe(tenantId, callback),
    async close() {
      closed = true;
      await listener?.end().catch(() => undefined);
      await pool.end();
      await local.close();
    },
  };
}
