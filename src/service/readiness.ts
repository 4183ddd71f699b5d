/**
 * Ready means: a callback could be stored now. Not `select 1` on a fresh connection, which
 * answers while the disk is full, while the webhook's connections hang, while the committer is
 * stuck. So, in order:
 *
 * 1. a group-commit transaction running for longer than the commit deadline → not ready;
 * 2. a transaction committed within the last `recentMs`, after any store failure → ready;
 * 3. otherwise (idle, or the last outcome was a failure) a real write decides: this instance's
 *    heartbeat row upserted, in a transaction with the commit deadline. Its outcome is kept for
 *    `cacheMs`, and concurrent probes share one write, so probes never load the database.
 */
import { randomUUID } from 'node:crypto';
import type { GroupCommitterHealth } from '../storage/group-committer.js';
import { writeHeartbeat } from '../storage/heartbeat-repository.js';
import type { Store } from '../storage/store.js';

export type ReadinessVerdict =
  { readonly ready: true; readonly basis: 'recent-commit' | 'write' } | { readonly ready: false; readonly basis: 'stuck-commit' | 'write' };

export interface ReadinessOptions {
  readonly store: Store;
  readonly committer: () => GroupCommitterHealth;
  /** The commit deadline: longer in flight is stuck; the heartbeat write gets as long. */
  readonly deadlineMs: number;
  readonly recentMs?: number;
  readonly cacheMs?: number;
  readonly clock?: () => Date;
}

export class Readiness {
  readonly #instanceId = `rg-${randomUUID()}`;
  #lastWrite: { at: number; ok: boolean } | undefined;
  #writing: Promise<boolean> | undefined;

  constructor(private readonly options: ReadinessOptions) {}

  async check(): Promise<ReadinessVerdict> {
    const now = Date.now();
    const health = this.options.committer();
    if (health.inFlightSince !== undefined && now - health.inFlightSince > this.options.deadlineMs) {
      return { ready: false, basis: 'stuck-commit' };
    }
    const lastCommit = health.lastCommitAt ?? -Infinity;
    if (now - lastCommit <= (this.options.recentMs ?? 5000) && lastCommit >= (health.lastFailureAt ?? -Infinity)) {
      return { ready: true, basis: 'recent-commit' };
    }
    return (await this.#write(now)) ? { ready: true, basis: 'write' } : { ready: false, basis: 'write' };
  }

  #write(now: number): Promise<boolean> {
    const cached = this.#lastWrite;
    if (cached && now - cached.at <= (this.options.cacheMs ?? 1000)) return Promise.resolve(cached.ok);
    this.#writing ??= this.options.store
      .transaction((trx) => writeHeartbeat(trx, this.#instanceId, this.options.clock?.() ?? new Date()), {
        deadlineMs: this.options.deadlineMs,
      })
      .then(
        () => true,
        () => false,
      )
      .then((ok) => {
        this.#lastWrite = { at: Date.now(), ok };
        this.#writing = undefined;
        return ok;
      });
    return this.#writing;
  }
}
