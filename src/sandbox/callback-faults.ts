/**
 * Twilio's real delivery failures, between the emulator and the callback sender: a callback
 * dropped (never sent), held (sent when released — late, after the REST state moved on, or in
 * another order), duplicated, or delayed by real milliseconds. Rules match by event type and
 * room, fire with a probability (a seeded random in tests), a given number of times or for ever.
 * What each rule did is logged (`faults`).
 */
import type { FormParam } from '../core/signature/twilio-signature.js';
import type { CallbackMethod, CallbackSink } from './video-emulator.js';

export type CallbackFaultAction = 'drop' | 'hold' | 'duplicate' | 'delay';

export interface CallbackFaultRule {
  readonly action: CallbackFaultAction;
  /** Event types it applies to (StatusCallbackEvent); all when absent. */
  readonly events?: readonly string[];
  /** A room SID or UniqueName; every room when absent. */
  readonly room?: string;
  /** 0..1, default 1. */
  readonly probability?: number;
  /** How many callbacks it applies to; for ever when absent. */
  readonly count?: number;
  /** For 'delay': real milliseconds. */
  readonly delayMs?: number;
}

export interface AppliedFault {
  readonly action: CallbackFaultAction;
  readonly event: string;
  readonly roomSid: string | undefined;
}

interface Held {
  readonly url: string;
  readonly method: CallbackMethod;
  readonly params: readonly FormParam[];
}

export class CallbackFaults implements CallbackSink {
  private rules: { rule: CallbackFaultRule; left: number }[] = [];
  private held: Held[] = [];
  private readonly delayed = new Set<{ timer: NodeJS.Timeout; send: () => void }>();
  private readonly applied: AppliedFault[] = [];

  constructor(
    private readonly inner: CallbackSink,
    private readonly random: () => number = Math.random,
  ) {}

  add(rule: CallbackFaultRule): void {
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1))
      throw new RangeError('probability must be 0 to 1');
    this.rules.push({ rule, left: rule.count ?? Number.POSITIVE_INFINITY });
  }

  /** Removes every rule (held callbacks stay held until released). */
  clear(): void {
    this.rules = [];
  }

  get faults(): readonly AppliedFault[] {
    return this.applied;
  }

  /** How many callbacks are held. */
  get heldCount(): number {
    return this.held.length;
  }

  send(url: string, method: CallbackMethod, params: readonly FormParam[]): void {
    const event = value(params, 'StatusCallbackEvent') ?? 'unknown';
    const roomSid = value(params, 'RoomSid');
    const roomName = value(params, 'RoomName');
    // Each rule in turn draws its chance; the first that fires applies.
    const match = this.rules.find(
      (candidate) =>
        candidate.left > 0 &&
        (!candidate.rule.events || candidate.rule.events.includes(event)) &&
        (!candidate.rule.room || candidate.rule.room === roomSid || candidate.rule.room === roomName) &&
        this.random() < (candidate.rule.probability ?? 1),
    );
    if (!match) {
      this.inner.send(url, method, params);
      return;
    }
    match.left -= 1;
    this.applied.push({ action: match.rule.action, event, roomSid });
    switch (match.rule.action) {
      case 'drop':
        return;
      case 'hold':
        this.held.push({ url, method, params });
        return;
      case 'duplicate':
        this.inner.send(url, method, params);
        this.inner.send(url, method, params);
        return;
      case 'delay': {
        const entry = {
          send: () => this.inner.send(url, method, params),
          timer: setTimeout(() => {
            this.delayed.delete(entry);
            entry.send();
          }, match.rule.delayMs ?? 1000),
        };
        this.delayed.add(entry);
      }
    }
  }

  /**
   * Sends the held callbacks (of one room, or all), in the order they were held or reversed — as
   * they were stamped, so they arrive as late as the clock has moved since.
   * @returns how many were sent
   */
  release(options: { room?: string; order?: 'held' | 'reverse' } = {}): number {
    const chosen = this.held.filter(
      (h) => !options.room || value(h.params, 'RoomSid') === options.room || value(h.params, 'RoomName') === options.room,
    );
    this.held = this.held.filter((h) => !chosen.includes(h));
    if (options.order === 'reverse') chosen.reverse();
    for (const h of chosen) this.inner.send(h.url, h.method, h.params);
    return chosen.length;
  }

  /** True while a delayed callback waits for its time. */
  get busy(): boolean {
    return this.delayed.size > 0;
  }

  /** Drops what is delayed (the sandbox is closing). */
  close(): void {
    for (const entry of this.delayed) clearTimeout(entry.timer);
    this.delayed.clear();
  }
}

function value(params: readonly FormParam[], name: string): string | undefined {
  return params.find(([key]) => key === name)?.[1];
}
