/**
 * The live streams (SSE and WebSocket) open on this instance, by API key and tenant: caps how
 * many each may hold at once, and ends a stream once its key no longer opens the API.
 *
 * A key can be revoked by the CLI writing the database directly, can expire, or can disappear
 * with its tenant — on any instance, on any engine. So nothing is pushed to us: every
 * RECHECK_INTERVAL_MS one query (batched) re-reads the keys behind this instance's open streams,
 * and every stream whose key is revoked, expired or gone is ended within a few seconds.
 */
import type { Logger } from 'pino';
import type { Store } from '../../storage/store.js';
import { findApiKeyValidity } from '../../storage/tenant-repository.js';

export type StreamEndReason = 'key-revoked' | 'key-expired' | 'key-removed' | 'server-stopping';

export interface StreamOwner {
  readonly tenantId: string;
  readonly apiKeyId: string;
}

/** Either a release function (call it when the stream closes; twice is harmless) or the cap that refused. */
export type StreamAdmission =
  { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly limit: 'key' | 'tenant' };

interface OpenStream extends StreamOwner {
  readonly end: (reason: StreamEndReason) => void;
  readonly release: () => void;
}

/** Well inside the 5 s the contract allows between a revocation and the stream's end. */
export const RECHECK_INTERVAL_MS = 1000;
/** Keys per query: keeps the IN list within every engine's comfortable size. */
const KEYS_PER_QUERY = 500;

export class LiveStreamRegistry {
  private readonly streams = new Set<OpenStream>();
  private readonly perKey = new Map<string, number>();
  private readonly perTenant = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly options: {
      readonly store: Store;
      readonly clock: () => Date;
      readonly logger: Logger;
      readonly maxPerKey: number;
      readonly maxPerTenant: number;
      readonly recheckIntervalMs?: number;
    },
  ) {}

  /** Admits a stream unless its key or tenant already holds its cap; `end` closes it for a reason. */
  open(owner: StreamOwner, end: (reason: StreamEndReason) => void): StreamAdmission {
    if ((this.perKey.get(owner.apiKeyId) ?? 0) >= this.options.maxPerKey) return { ok: false, limit: 'key' };
    if ((this.perTenant.get(owner.tenantId) ?? 0) >= this.options.maxPerTenant) return { ok: false, limit: 'tenant' };
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.streams.delete(stream);
      increment(this.perKey, owner.apiKeyId, -1);
      increment(this.perTenant, owner.tenantId, -1);
    };
    const stream: OpenStream = { tenantId: owner.tenantId, apiKeyId: owner.apiKeyId, end, release };
    this.streams.add(stream);
    increment(this.perKey, owner.apiKeyId, 1);
    increment(this.perTenant, owner.tenantId, 1);
    return { ok: true, release };
  }

  get size(): number {
    return this.streams.size;
  }

  /** Ends every open stream at once (the server is stopping). */
  endAll(reason: StreamEndReason): void {
    for (const stream of [...this.streams]) {
      stream.release();
      try {
        stream.end(reason);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'could not end a live stream');
      }
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.recheckIntervalMs ?? RECHECK_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** One pass: ends the streams whose key is revoked, expired or gone. Never throws. */
  check(): Promise<void> {
    // One pass at a time: a slow database must not pile queries up.
    this.checking ??= this.recheck().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async recheck(): Promise<void> {
    const keyIds = [...new Set([...this.streams].map((stream) => stream.apiKeyId))];
    if (keyIds.length === 0) return;
    const verdicts = new Map<string, StreamEndReason | undefined>();
    try {
      const now = this.options.clock().toISOString();
      for (let i = 0; i < keyIds.length; i += KEYS_PER_QUERY) {
        const batch = keyIds.slice(i, i + KEYS_PER_QUERY);
        const rows = await findApiKeyValidity(this.options.store.db, batch);
        for (const row of rows) {
          verdicts.set(row.id, row.revoked_at ? 'key-revoked' : row.expires_at && row.expires_at <= now ? 'key-expired' : undefined);
        }
        for (const id of batch) if (!verdicts.has(id)) verdicts.set(id, 'key-removed');
      }
    } catch (error) {
      // The database is unreachable: nothing new can be streamed either; try again next tick.
      if (!this.failing) this.options.logger.warn({ err: error }, 'could not re-check the API keys of live streams; retrying');
      this.failing = true;
      return;
    }
    this.failing = false;
    for (const stream of [...this.streams]) {
      const reason = verdicts.get(stream.apiKeyId);
      if (!reason) continue;
      this.options.logger.info({ apiKeyId: stream.apiKeyId, reason }, 'live stream ended: its API key no longer opens the API');
      // Released at once: a WebSocket's closing handshake may take a while, and it is not
      // asked to end twice.
      stream.release();
      try {
        stream.end(reason);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'could not end a live stream');
      }
    }
  }
}

function increment(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
