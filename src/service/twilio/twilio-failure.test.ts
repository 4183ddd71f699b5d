import { describe, expect, it } from 'vitest';
import { twilioFailure } from './twilio-failure.js';
import { TwilioApiError } from './twilio-rest-client.js';

const answer = (status: number | undefined, code?: number, retryable = status === undefined || status === 429 || status >= 500) =>
  new TwilioApiError(`Twilio answered ${status}`, status, code, retryable);

describe('Twilio failures as the API answers them', () => {
  it('reads "the room has ended" (400 53112/53118, 404) as a conflict', () => {
    expect(twilioFailure(answer(400, 53112)).code).toBe('CONFLICT');
    expect(twilioFailure(answer(400, 53118)).code).toBe('CONFLICT');
    expect(twilioFailure(answer(404, 20404)).code).toBe('CONFLICT');
  });

  it('tells a refusal (other 4xx) from an outage (5xx, 429, no answer), naming Twilio’s status and code', () => {
    const refused = twilioFailure(answer(401, 20003));
    expect(refused.code).toBe('TWILIO_REJECTED');
    expect(refused.message).toContain('401 (code 20003)');
    expect(twilioFailure(answer(400, 53113)).code).toBe('TWILIO_REJECTED');
    for (const status of [500, 503, 429, undefined])
      expect(twilioFailure(answer(status)).code, String(status)).toBe('UPSTREAM_UNAVAILABLE');
    expect(twilioFailure(new Error('socket hang up')).code).toBe('UPSTREAM_UNAVAILABLE');
  });
});
