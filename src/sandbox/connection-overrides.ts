/**
 * Twilio's webhook connection overrides, read from the callback URL's fragment
 * (`https://x.test/cb#rc=2&rt=3000&ct=1000&tt=10000&rp=ct,5xx`). The fragment is never sent
 * and never signed: it only tells the sender how to deliver.
 */
export type RetryReason = 'ct' | 'rt' | '4xx' | '5xx';

export interface ConnectionOverrides {
  /** Retries after the first attempt (`rc`, 0–5). */
  readonly retryCount: number;
  /** Connect timeout in ms (`ct`, 100–10000). */
  readonly connectTimeoutMs: number;
  /** Read timeout in ms, from connected to a complete answer (`rt`, 100–15000). */
  readonly readTimeoutMs: number;
  /** All attempts together, in ms (`tt`, 100–15000). */
  readonly totalTimeMs: number;
  /** What is retried (`rp`: ct, rt, 4xx, 5xx, all). */
  readonly retryOn: ReadonlySet<RetryReason>;
}

export const TWILIO_DEFAULT_OVERRIDES: ConnectionOverrides = Object.freeze({
  retryCount: 1,
  connectTimeoutMs: 5_000,
  readTimeoutMs: 15_000,
  totalTimeMs: 15_000,
  // Twilio retries a connection failure. A 5xx is retried too: Roomgate answers 503 exactly when
  // it wants a retry (store unavailable); whether Twilio Video does is unconfirmed.
  retryOn: new Set<RetryReason>(['ct', '5xx']),
});

/** Splits a configured callback URL into the URL that is requested and signed, and its overrides. */
export function parseCallbackUrl(
  configured: string,
  defaults: ConnectionOverrides = TWILIO_DEFAULT_OVERRIDES,
): { url: string; overrides: ConnectionOverrides } {
  const hash = configured.indexOf('#');
  if (hash < 0) return { url: configured, overrides: defaults };
  const url = configured.slice(0, hash);
  const fragment = new URLSearchParams(configured.slice(hash + 1));
  const number = (key: string, fallback: number, min: number, max: number): number => {
    const text = fragment.get(key);
    if (text === null || !/^\d+$/.test(text)) return fallback;
    return Math.min(max, Math.max(min, Number(text)));
  };
  let retryOn = defaults.retryOn;
  const rp = fragment.get('rp');
  if (rp !== null) {
    const reasons = new Set<RetryReason>();
    for (const part of rp.split(',').map((p) => p.trim().toLowerCase())) {
      if (part === 'all') for (const r of ['ct', 'rt', '4xx', '5xx'] as const) reasons.add(r);
      else if (part === 'ct' || part === 'rt' || part === '4xx' || part === '5xx') reasons.add(part);
    }
    retryOn = reasons;
  }
  return {
    url,
    overrides: {
      retryCount: number('rc', defaults.retryCount, 0, 5),
      connectTimeoutMs: number('ct', defaults.connectTimeoutMs, 100, 10_000),
      readTimeoutMs: number('rt', defaults.readTimeoutMs, 100, 15_000),
      totalTimeMs: number('tt', defaults.totalTimeMs, 100, 15_000),
      retryOn,
    },
  };
}
