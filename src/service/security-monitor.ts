/**
 * Where every refused or suspicious callback goes: a metric always, a security_events row
 * (bounded per window, so a forged flood cannot turn into a write flood), and — when refusals
 * in a window pass the threshold — one alert log line per window, not one per request; the same
 * for quarantined callbacks past their own threshold ('quarantine-rate').
 * Never given the signature or any secret, so it cannot leak them.
 */
import type { Logger } from 'pino';
import { BufferedWriter } from './buffered-writer.js';
import type { Metrics } from './metrics.js';

export interface SecurityEvent {
  readonly reason: string;
  readonly remoteAddress: string;
  readonly path: string;
  readonly claimedAccountSid?: string | undefined;
  readonly detail?: Record<string, string | number | undefined>;
}

export interface SecurityEventSink {
  record(events: readonly (SecurityEvent & { at: Date })[]): Promise<void>;
}

export interface SecurityMonitorOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sink: SecurityEventSink;
  readonly clock: () => Date;
  readonly alertThreshold: number;
  readonly windowMs: number;
  /** Rows written per window at most; the rest are counted in the window's alert line. */
  readonly maxStoredPerWindow?: number;
  /** Quarantined callbacks within a window above this raise one 'quarantine-rate' alert (default 5). */
  readonly quarantineAlertThreshold?: number;
  /** Called once per window when the threshold is crossed (e.g. the signed alert POST). */
  readonly onAlert?: (alert: SecurityAlert) => void;
}

export interface SecurityAlert {
  /**
   * 'reconciliation-changed-record': the reconciler filled a record from Twilio's REST API (callbacks are being lost).
   * 'unconsented-recording': Twilio reported a recording of a participant who had not consented (issue 20).
   * 'webhook-endpoint-disabled': a tenant's webhook endpoint failed for too long and was disabled.
   */
  readonly kind:
    | 'callback-refusals'
    | 'quarantine'
    | 'quarantine-rate'
    | 'reconciliation-changed-record'
    | 'unconsented-recording'
    | 'webhook-endpoint-disabled';
  readonly windowStart: string;
  readonly count: number;
  readonly byReason: Record<string, number>;
}

export class SecurityMonitor {
  private windowStart = 0;
  private counts = new Map<string, number>();
  private total = 0;
  private stored = 0;
  private alerted = false;
  private quarantined = 0;
  private quarantineCounts = new Map<string, number>();
  private quarantineAlerted = false;
  private readonly writer: BufferedWriter<SecurityEvent & { at: Date }>;

  constructor(private readonly options: SecurityMonitorOptions) {
    this.writer = new BufferedWriter(
      (rows) => options.sink.record(rows),
      (error, dropped) => {
        options.metrics.storeErrors.inc({ operation: 'security-event' });
        options.logger.error({ err: error, dropped }, 'could not store security events');
      },
    );
  }

  /** A callback refused with 403 (or a signed one quarantined): count, store, maybe alert. */
  refuse(event: SecurityEvent): void {
    const { metrics, logger, clock } = this.options;
    metrics.refusals.inc({ reason: event.reason });
    const now = clock();
    this.rollWindow(now.getTime());
    this.total += 1;
    this.counts.set(event.reason, (this.counts.get(event.reason) ?? 0) + 1);
    logger.debug({ security: event }, 'callback refused');
    if (this.stored < (this.options.maxStoredPerWindow ?? 100)) {
      this.stored += 1;
      this.writer.add({ ...event, at: now });
    }
    if (!this.alerted && this.total >= this.options.alertThreshold) {
      this.alerted = true;
      this.raise('callback-refusals');
    }
  }

  /** A signed callback kept aside (identity policy, never-issued identity): alert at once. */
  quarantine(event: SecurityEvent): void {
    this.options.metrics.alerts.inc({ kind: 'quarantine' });
    this.options.logger.warn({ alert: 'quarantine', security: event }, 'security alert: callback quarantined');
    const now = this.options.clock();
    this.rollWindow(now.getTime());
    // Marked, so the operator console tells quarantined callbacks from refusals.
    this.writer.add({ ...event, detail: { ...event.detail, outcome: 'quarantined' }, at: now });
    this.quarantined += 1;
    this.quarantineCounts.set(event.reason, (this.quarantineCounts.get(event.reason) ?? 0) + 1);
    this.options.onAlert?.({
      kind: 'quarantine',
      windowStart: new Date(this.windowStart).toISOString(),
      count: 1,
      byReason: { [event.reason]: 1 },
    });
    if (!this.quarantineAlerted && this.quarantined > (this.options.quarantineAlertThreshold ?? 5)) {
      this.quarantineAlerted = true;
      this.raise('quarantine-rate');
    }
  }

  /** Resolves when every event handed in so far has been written (or dropped on error). */
  drain(): Promise<void> {
    return this.writer.drain();
  }

  private raise(kind: 'callback-refusals' | 'quarantine-rate'): void {
    const quarantine = kind === 'quarantine-rate';
    const count = quarantine ? this.quarantined : this.total;
    const alert: SecurityAlert = {
      kind,
      windowStart: new Date(this.windowStart).toISOString(),
      count,
      byReason: Object.fromEntries(quarantine ? this.quarantineCounts : this.counts),
    };
    this.options.metrics.alerts.inc({ kind });
    this.options.logger.warn(
      { alert },
      `security alert: ${count} callbacks ${quarantine ? 'quarantined' : 'refused'} within ${this.options.windowMs / 1000}s`,
    );
    this.options.onAlert?.(alert);
  }

  private rollWindow(now: number): void {
    if (now - this.windowStart < this.options.windowMs) return;
    this.windowStart = now;
    this.counts = new Map();
    this.total = 0;
    this.stored = 0;
    this.alerted = false;
    this.quarantined = 0;
    this.quarantineCounts = new Map();
    this.quarantineAlerted = false;
  }
}
