/**
 * Callbacks over real HTTP to a test service listening on a real socket, and the record of a
 * consultation as the database holds it (what tests compare).
 */
import type { AddressInfo } from 'node:net';
import type { TestService } from './test-service.js';

export const WEBHOOK_PATH = '/webhooks/twilio/video';

export interface Listening {
  /** The URL Twilio signs and posts to (the Host header the server sees is 127.0.0.1:port). */
  readonly webhookUrl: string;
  post(request: { body: string; headers: Record<string, string>; url?: string }): Promise<number>;
}

/** Makes the service listen on an ephemeral port (closed by service.close()). */
export async function listen(service: TestService): Promise<Listening> {
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = service.app.server.address() as AddressInfo;
  const webhookUrl = `http://127.0.0.1:${port}${WEBHOOK_PATH}`;
  return {
    webhookUrl,
    async post({ body, headers, url }) {
      const response = await fetch(url ?? webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      return response.status;
    },
  };
}

/** Runs `work` over `items`, at most `width` at a time; results in order. */
export async function inParallel<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

/** A consultation's record without its ids: status, times, who was there when, recordings, billing. */
export async function recordOf(service: TestService, consultationId: string): Promise<unknown> {
  const db = service.store.db;
  const consultation = await db
    .selectFrom('consultations')
    .select(['status', 'started_at', 'ended_at'])
    .where('id', '=', consultationId)
    .executeTakeFirstOrThrow();
  const sessions = await db
    .selectFrom('participant_sessions')
    .select(['identity', 'connected_at', 'disconnected_at'])
    .where('consultation_id', '=', consultationId)
    .orderBy('identity')
    .orderBy('connected_at')
    .execute();
  const recordings = await db
    .selectFrom('recordings')
    .select(['track_name', 'status', 'duration', 'size'])
    .where('consultation_id', '=', consultationId)
    .orderBy('track_name')
    .execute();
  const billing = await db
    .selectFrom('billing_records')
    .select(['billable_seconds', 'rounded_seconds', 'intervals'])
    .where('consultation_id', '=', consultationId)
    .execute();
  return { consultation, sessions, recordings, billing };
}
