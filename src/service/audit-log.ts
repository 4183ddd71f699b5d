/**
 * The append-only audit log: API key use, token issuance, erasures, configuration reloads,
 * key management. Written off the request path in batches; rows are never updated or deleted
 * except by retention.
 */
import type { Logger } from 'pino';
import { newId } from '../storage/ids.js';
import type { Store } from '../storage/store.js';
import { BufferedWriter, logDropped } from './buffered-writer.js';

export interface AuditEntry {
  readonly tenantId: string | null;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly outcome: string;
  readonly detail?: Record<string, unknown>;
}

export class AuditLog {
  private readonly writer: BufferedWriter<AuditEntry & { at: Date }>;

  constructor(
    store: Store,
    logger: Logger,
    private readonly clock: () => Date,
  ) {
    this.writer = new BufferedWriter(
      async (rows) => {
        await store.db
          .insertInto('audit_log')
          .values(
            rows.map((row) => ({
              id: newId('aud'),
              tenant_id: row.tenantId,
              actor: row.actor,
              action: row.action,
              target: row.target,
              outcome: row.outcome,
              detail: JSON.stringify(row.detail ?? {}),
              created_at: row.at.toISOString(),
            })),
          )
          .execute();
      },
      logDropped(logger, 'audit entries'),
    );
  }

  record(entry: AuditEntry): void {
    this.writer.add({ ...entry, at: this.clock() });
  }

  drain(): Promise<void> {
    return this.writer.drain();
  }
}
