/**
 * The Twilio REST client's request path as it was before it moved to node:http (at 90c819d):
 * the global fetch (undici) with AbortSignal.timeout — kept only for bench/twilio-client.bench.ts
 * to compare against, and only for the two calls the outbox makes per composition. `call` is the
 * old code as it was; the forms, paths, types and errors are the client's own.
 */
import {
  compositionForm,
  compositionsOfRoomPath,
  parseRetryAfter,
  TwilioApiError,
  type TwilioComposition,
  type TwilioRestClient,
  type TwilioRestClientOptions,
} from '../../src/service/twilio/twilio-rest-client.js';

export function createFetchTwilioClient(
  options: TwilioRestClientOptions,
): Pick<TwilioRestClient, 'createComposition' | 'listCompositions'> {
  const authorization = `Basic ${Buffer.from(`${options.apiKeySid}:${options.apiKeySecret}`).toString('base64')}`;

  async function call<T>(method: 'GET' | 'POST', path: string, form?: Record<string, string> | URLSearchParams): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${options.baseUrl}${path}`, {
        method,
        headers: {
          authorization,
          accept: 'application/json',
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: form ? new URLSearchParams(form).toString() : undefined,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new TwilioApiError(`Twilio ${method} ${path} failed: ${(error as Error).message}`, undefined, undefined, true, {
        cause: error,
      });
    }
    const text = await response.text();
    const body = safeJson(text) as { code?: number; message?: string } | undefined;
    if (!response.ok) {
      const retryable = response.status === 429 || response.status >= 500;
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      throw new TwilioApiError(
        `Twilio ${method} ${path} answered ${response.status}: ${body?.message ?? 'no message'}`,
        response.status,
        body?.code,
        retryable,
        retryAfterMs === undefined ? undefined : { retryAfterMs },
      );
    }
    if (!body) throw new TwilioApiError(`Twilio ${method} ${path} answered with a body that is not JSON`, response.status, undefined, true);
    return body as T;
  }

  return {
    createComposition: (input) => call('POST', '/v1/Compositions', compositionForm(input)),
    listCompositions: async (roomSid) =>
      (await call<{ compositions: TwilioComposition[] }>('GET', compositionsOfRoomPath(roomSid))).compositions,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
