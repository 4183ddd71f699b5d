/**
 * The append-only audit log: API key use, token issuance, erasures, configuration reloads,
 * key management. Written off the request path in batches; rows are never updated or deleted
 * except by retention, and by an erasure, which replaces the erased identity in them.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { insertAuditRows as insertAuditRowsInto } from '../storage/audit-repository.js';
import type { Database } from '../storage/schema.js';
import type { Store, StoreTransaction } from '../storage/store.js';
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
    this.writer = new BufferedWriter((rows) => insertAuditRows(store.db, rows), logDropped(logger, 'audit entries'));
  }

  record(entry: AuditEntry): void {
    this.writer.add({ ...entry, at: this.clock() });
  }

  /** Writes the entry now, inside the caller's transaction: it commits with the work it records. */
  async recordIn(trx: StoreTransaction, entry: AuditEntry): Promise<void> {
    await insertAuditRows(trx, [{ ...entry, at: this.clock() }]);
  }

  drain(): Promise<void> {
    return this.writer.drain();
  }
}

async function insertAuditRows(db: Kysely<Database>, rows: readonly (AuditEntry & { at: Date })[]): Promise<void> {
  await insertAuditRowsInto(
    db,
    rows.map((row) => ({ ...row, at: row.at.toISOString() })),
  );
}
