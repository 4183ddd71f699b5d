/**
 * What each kind of outbox entry does, wired once for wherever the outbox worker runs: the HTTP
 * thread (no record thread) or the record thread (projection-thread-entry.ts). What must reach
 * the operator (the alerts counter, the alert webhook) goes through `onAlert`, which the record
 * thread relays to the HTTP thread.
 */
import type { Logger } from 'pino';
import type { Store } from '../../storage/store.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { createCompositionHandler } from './composition-handler.js';
import { APPLY_RECORDING_RULES, REPORT_UNCONSENTED_RECORDING } from './consent-effects.js';
import type { OutboxHandler } from './outbox-worker.js';
import { createRecordingRulesHandler } from './recording-rules-handler.js';

/** An alert the outbox raises: counted; an unconsented recording is also sent to the alert webhook. */
export interface OutboxAlert {
  readonly kind: 'composition-failed' | 'unconsented-recording' | 'outbox-failed';
  readonly byReason?: Readonly<Record<string, number>>;
}

export function createOutboxHandlers(options: {
  store: Store;
  twilio: TwilioRestClient;
  clock: () => Date;
  logger: Logger;
  statusCallbackUrl: () => string;
  onAlert: (alert: OutboxAlert) => void;
}): Record<string, OutboxHandler> {
  const { store, twilio, clock, logger, onAlert } = options;
  return {
    'request-composition': createCompositionHandler({ store, twilio, clock, statusCallbackUrl: options.statusCallbackUrl }),
    'report-composition-failure': async (entry) => {
      onAlert({ kind: 'composition-failed' });
      logger.error({ alert: 'composition-failed', consultationId: entry.payload.consultationId }, 'composition failed after every retry');
    },
    [APPLY_RECORDING_RULES]: createRecordingRulesHandler({ store, twilio }),
    // Queued by the fold with the flag, so the alert is raised once, even across a crash.
    [REPORT_UNCONSENTED_RECORDING]: async (entry) => {
      logger.error(
        { alert: 'unconsented-recording', consultationId: entry.payload.consultationId, recordingSid: entry.payload.recordingSid },
        'Twilio recorded a participant who had not consented to recording: the recording is flagged in the record',
      );
      onAlert({ kind: 'unconsented-recording', byReason: { [String(entry.payload.kind ?? 'track')]: 1 } });
    },
  };
}
