/**
 * Follows one tenant's event log from a sequence on, for one stream (SSE or WebSocket). The log
 * is the source on every engine: a live notification (in-process, or PostgreSQL NOTIFY from
 * another instance) only wakes the follower early; a short poll finds what other instances
 * committed where nothing notifies (SQLite, MySQL/MariaDB) or a notification was lost.
 * Events are handed over page by page, in sequence order, each once; the next page is read
 * only after `deliver` has settled (a slow client slows its own reads, nothing else).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { TenantEvent } from '../../core/events/tenant-event.js';
import { listTenantEvents } from '../../storage/event-log-repository.js';
import type { Store } from '../../storage/store.js';
import type { LiveEvents } from './live-events.js';

export interface EventLogFollowerOptions {
  readonly store: Store;
  readonly live: LiveEvents;
  readonly logger: FastifyBaseLogger;
  /** How often the log is read when nothing woke the follower. Default 1000 ms. */
  readonly pollIntervalMs?: number;
}

const PAGE = 200;

/** Starts following after `after`; returns the function that stops it. */
export function followTenantEvents(
  options: EventLogFollowerOptions,
  tenantId: string,
  after: number,
  deliver: (events: readonly TenantEvent[]) => Promise<void> | void,
): () => void {
  let cursor = after;
  let stopped = false;
  let woken = false;
  let wake: (() => void) | undefined;
  let failing = false;
  const unsubscribe = options.live.subscribe(tenantId, () => {
    woken = true;
    wake?.();
  });
  const loop = async () => {
    while (!stopped) {
      woken = false;
      let full = false;
      try {
        const events = await listTenantEvents(options.store.db, tenantId, cursor, PAGE);
        failing = false;
        if (stopped) return;
        if (events.length > 0) {
          cursor = events.at(-1)!.sequence;
          await deliver(events);
          full = events.length === PAGE;
        }
      } catch (error) {
        // The database is unreachable: the stream stays open and catches up once it is back.
        if (!failing) options.logger.warn({ err: error }, 'could not read the event log for a stream; retrying');
        failing = true;
      }
      if (full || woken || stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollIntervalMs ?? 1000);
        timer.unref();
        wake = () => (clearTimeout(timer), resolve());
      });
      wake = undefined;
    }
  };
  void loop();
  return () => {
    stopped = true;
    unsubscribe();
    wake?.();
  };
}
