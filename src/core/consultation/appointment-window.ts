/**
 * The appointment window of a scheduled consultation: joining opens `joinEarlyMinutes` before
 * `scheduledAt` and closes `graceMinutes` after the slot's end. Pure: time is passed in.
 * A consultation without `durationMinutes` has no window (today's behaviour: any time).
 */
export const WINDOW_DEFAULTS = { joinEarlyMinutes: 15, graceMinutes: 15 } as const;
/** Twilio's bounds on a room's MaxParticipantDuration, in seconds. */
export const MAX_PARTICIPANT_DURATION = { min: 600, max: 86_400 } as const;

export interface AppointmentWindow {
  readonly opensAt: Date;
  readonly closesAt: Date;
}

export function appointmentWindow(input: {
  readonly scheduledAt: string | null;
  readonly durationMinutes: number | null;
  readonly joinEarlyMinutes: number | null;
  readonly graceMinutes: number | null;
}): AppointmentWindow | null {
  if (!input.scheduledAt || input.durationMinutes === null) return null;
  const start = Date.parse(input.scheduledAt);
  const early = input.joinEarlyMinutes ?? WINDOW_DEFAULTS.joinEarlyMinutes;
  const grace = input.graceMinutes ?? WINDOW_DEFAULTS.graceMinutes;
  return {
    opensAt: new Date(start - early * 60_000),
    closesAt: new Date(start + (input.durationMinutes + grace) * 60_000),
  };
}

export type WindowCheck = { readonly ok: true } | { readonly ok: false; readonly reason: 'window-not-open' | 'window-closed' };

/** Open from `opensAt` (inclusive) to `closesAt` (exclusive). */
export function checkWindow(window: AppointmentWindow | null, now: Date): WindowCheck {
  if (!window) return { ok: true };
  if (now.getTime() < window.opensAt.getTime()) return { ok: false, reason: 'window-not-open' };
  if (now.getTime() >= window.closesAt.getTime()) return { ok: false, reason: 'window-closed' };
  return { ok: true };
}

/** A token's lifetime: the service's TTL, cut at the window's end. */
export function tokenTtlSeconds(window: AppointmentWindow | null, now: Date, ttlSeconds: number): number {
  if (!window) return ttlSeconds;
  const left = Math.floor((window.closesAt.getTime() - now.getTime()) / 1000);
  return Math.max(1, Math.min(ttlSeconds, left));
}

/**
 * The room's MaxParticipantDuration: the whole window (a participant who joins as it opens may
 * stay to its end), within Twilio's 600–86,400 s. Undefined without a window (Twilio's default).
 */
export function maxParticipantDurationSeconds(window: AppointmentWindow | null): number | undefined {
  if (!window) return undefined;
  const seconds = Math.ceil((window.closesAt.getTime() - window.opensAt.getTime()) / 1000);
  return Math.min(MAX_PARTICIPANT_DURATION.max, Math.max(MAX_PARTICIPANT_DURATION.min, seconds));
}
