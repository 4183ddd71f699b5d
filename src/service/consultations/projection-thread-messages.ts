/** What the HTTP thread and the projection thread say to each other (structured-cloned). */
import type { OpenStoreOptions } from '../../storage/open-store.js';
import type { LiveEvent } from '../live/live-events.js';
import type { OutboxAlert } from '../outbox/outbox-handlers.js';
import type { TwilioRestClientOptions } from '../twilio/twilio-rest-client.js';
import type { IngestOutcome, SignedCallback } from '../webhook/callback-ingest.js';

/** Why a callback handed to the thread was not stored: the kinds of store error the route tells apart. */
export type IngestFailureKind = 'unavailable' | 'lock-timeout' | 'batch-failed' | 'closed';

/** One callback's answer from the thread's group commit. */
export type IngestResult =
  | { readonly ok: true; readonly outcome: IngestOutcome }
  | { readonly ok: false; readonly kind: IngestFailureKind; readonly message: string };

/** The projection thread's start-up data: it opens its own store connection. */
export interface ProjectionThreadData {
  readonly databaseUrl: string;
  readonly store: Omit<OpenStoreOptions, 'logger'>;
  readonly logLevel: string;
  readonly batchSize?: number;
  readonly sweepIntervalMs?: number;
  readonly gatherMs?: number;
  readonly pauseMs?: number;
  /** A group commit of callbacks not committed within this long fails (503). */
  readonly commitDeadlineMs?: number;
  /**
   * Run the outbox worker here, beside the folds that queue its entries, so the HTTP thread
   * neither runs its statements nor waits on their commits; absent: the HTTP thread runs it.
   */
  readonly outbox?: {
    readonly twilio: TwilioRestClientOptions;
    readonly pollIntervalMs: number;
    readonly leaseMs: number;
    readonly concurrency: number;
  };
}

export type ToProjectionThread =
  | { readonly type: 'dirty'; readonly ids: readonly string[] }
  /**
   * Store these verified callbacks (the webhook's inbox commit, done on the thread's connection);
   * answer `ingested` with the same batch number, one result per callback, in order.
   */
  | {
      readonly type: 'ingest';
      readonly batch: number;
      readonly callbacks: readonly SignedCallback[];
      readonly legacyAccountSid: string | undefined;
      /** Where Twilio sends composition callbacks (known once the HTTP server listens). */
      readonly statusCallbackUrl: string;
    }
  /** Run the outbox soon: entries were queued on the HTTP thread (consents, reconciliation). */
  | { readonly type: 'outbox'; readonly statusCallbackUrl: string }
  /** Answer `idle` with this token once nothing handed in so far is left to fold. */
  | { readonly type: 'idle'; readonly token: number }
  /** Finish what was handed in, close the store, exit. */
  | { readonly type: 'stop' };

export type FromProjectionThread =
  | { readonly type: 'ready' }
  | { readonly type: 'idle'; readonly token: number }
  | { readonly type: 'ingested'; readonly batch: number; readonly results: readonly IngestResult[] }
  /** Committed changes: a wake-up for streams on this and other instances (the log is the truth). */
  | { readonly type: 'live'; readonly events: readonly LiveEvent[] }
  /** New outbox entries were committed (only when the HTTP thread runs the outbox). */
  | { readonly type: 'outbox' }
  /** An outbox entry raised an alert (the thread's outbox worker). */
  | { readonly type: 'alert'; readonly alert: OutboxAlert }
  /** The outbox queue's gauges, as the thread's outbox worker read them. */
  | { readonly type: 'gauge'; readonly name: 'outboxDepth' | 'outboxOldestAgeSeconds'; readonly value: number }
  /** One consultation could not be folded (left to the sweep). */
  | { readonly type: 'failure' }
  /** A log line of the thread, as pino wrote it, for the service's own logger. */
  | { readonly type: 'log'; readonly line: string };
