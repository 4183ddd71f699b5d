/**
 * When a failed webhook delivery is tried again, and when an endpoint counts as dead. Pure, so
 * the schedule can be proved: exponential backoff from `baseMs` doubling to `maxDelayMs`, with
 * full jitter in the upper half of each step (never two retries at the same instant from every
 * instance), for at least `retryForMs` (24 h by default) after the first attempt; a 429/503's
 * Retry-After is honoured (capped at `maxDelayMs`), never shortened by jitter.
 */

export interface RetryPolicy {
  readonly baseMs: number;
  readonly maxDelayMs: number;
  /** Retries continue while the next attempt starts within this long of the first. */
  readonly retryForMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 5_000, maxDelayMs: 3_600_000, retryForMs: 26 * 3_600_000 };

export interface FailedAttempt {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** When the first attempt was made (epoch ms). */
  readonly firstAttemptAt: number;
  /** When this attempt failed (epoch ms). */
  readonly failedAt: number;
  /** The answer's status, if any (a timeout or refused connection has none). */
  readonly status?: number;
  /** Retry-After of the answer, in ms. */
  readonly retryAfterMs?: number;
}

/** Epoch ms of the next attempt, or undefined: give up (the delivery fails for good). `random` in [0, 1). */
export function nextAttemptAt(
  failure: FailedAttempt,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random = Math.random(),
): number | undefined {
  const step = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** Math.min(failure.attempt - 1, 40));
  let delay = step / 2 + (step / 2) * random;
  const honoured = failure.status === 429 || failure.status === 503;
  if (honoured && failure.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(failure.retryAfterMs, policy.maxDelayMs));
  const at = failure.failedAt + Math.ceil(delay);
  return at - failure.firstAttemptAt <= policy.retryForMs ? at : undefined;
}

/** True when an answer means delivered. */
export function isDelivered(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/** True when an endpoint failing without a success since `failingSince` is to be disabled now. */
export function shouldDisable(failingSince: number | undefined, now: number, disableAfterMs: number): boolean {
  return failingSince !== undefined && now - failingSince >= disableAfterMs;
}
