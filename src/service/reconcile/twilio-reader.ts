/**
 * The REST reads the reconciler makes, paced per account (RateLimiter) and retried: a 429 pauses
 * every read of the account for Twilio's Retry-After (or a doubling backoff, at most 60 s), a
 * network failure or 5xx is retried with backoff; a few attempts, then the error goes up and the
 * consultation is tried again at the next pass.
 */
import type { Metrics } from '../metrics.js';
import {
  TwilioApiError,
  type TwilioComposition,
  type TwilioParticipant,
  type TwilioRestClient,
  type TwilioRoom,
  type TwilioRoomRecording,
} from '../twilio/twilio-rest-client.js';
import { RateLimiter } from './rate-limiter.js';

export interface TwilioReader {
  fetchRoom(sid: string): Promise<TwilioRoom>;
  listParticipants(roomSid: string): Promise<TwilioParticipant[]>;
  listCompositions(roomSid: string): Promise<TwilioComposition[]>;
  listRecordings(roomSid: string): Promise<TwilioRoomRecording[]>;
}

const MAX_ATTEMPTS = 5;
const MAX_BACKOFF_MS = 60_000;

export function createTwilioReader(options: {
  twilio: TwilioRestClient;
  ratePerSecond: number;
  metrics?: Metrics;
  sleep?: (ms: number) => Promise<void>;
  /** The limiter's clock (tests move it with their sleep). Default Date.now. */
  now?: () => number;
  /** First backoff after a 429 without Retry-After, or a 5xx. Default 1 s. */
  backoffMs?: number;
}): TwilioReader {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const limiter = new RateLimiter(options.ratePerSecond, options.now, sleep);
  const read = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      await limiter.take();
      try {
        const result = await call();
        options.metrics?.twilioReads.inc({ status: '200' });
        return result;
      } catch (error) {
        if (!(error instanceof TwilioApiError)) throw error;
        options.metrics?.twilioReads.inc({ status: error.status === undefined ? 'network' : String(error.status) });
        if (!error.retryable || attempt >= MAX_ATTEMPTS) throw error;
        const backoff = Math.min(MAX_BACKOFF_MS, (options.backoffMs ?? 1000) * 2 ** (attempt - 1));
        if (error.status === 429) limiter.pause(Math.min(MAX_BACKOFF_MS, error.retryAfterMs ?? backoff));
        else await sleep(backoff);
      }
    }
  };
  return {
    fetchRoom: (sid) => read(() => options.twilio.fetchRoom(sid)),
    listParticipants: (roomSid) => read(() => options.twilio.listParticipants(roomSid)),
    listCompositions: (roomSid) => read(() => options.twilio.listCompositions(roomSid)),
    listRecordings: (roomSid) => read(() => options.twilio.listRoomRecordings(roomSid)),
  };
}
