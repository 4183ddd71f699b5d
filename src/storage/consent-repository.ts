/**
 * The consent ledger (migration 0013): append-only — rows are inserted, never updated or deleted,
 * except by subject erasure (which pseudonymises the identity and keeps the fact) and retention
 * (which removes the consultation's rows with the rest of its record).
 */
import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import { lockConsultations } from './row-locks.js';
import type { Database, IsoTimestamp, StoreTransaction } from './schema.js';

type Db = Kysely<Database>;

export interface ConsentEntry {
  readonly id: string;
  readonly consultationId: string;
  readonly position: number;
  readonly identity: string;
  readonly kind: string;
  readonly decision: string;
  readonly textVersion: string;
  readonly recordedBy: string | null;
  readonly apiKeyId: string | null;
  readonly recordedAt: IsoTimestamp;
}

const toEntry = (row: Database['consents']): ConsentEntry => ({
  id: row.id,
  consultationId: row.consultation_id,
  position: row.position,
  identity: row.identity,
  kind: row.kind,
  decision: row.decision,
  textVersion: row.text_version,
  recordedBy: row.recorded_by,
  apiKeyId: row.api_key_id,
  recordedAt: row.recorded_at,
});

/**
 * Appends one decision at the end of the consultation's ledger. The consultation's row is locked
 * first, so two appends at once take positions one after the other (the UNIQUE position refuses
 * a second row at the same place on any engine).
 */
export async function appendConsent(
  trx: StoreTransaction,
  entry: Omit<ConsentEntry, 'id' | 'position'> & { readonly tenantId: string },
): Promise<ConsentEntry> {
  await lockConsultations(trx, [entry.consultationId]);
  const last = await trx
    .selectFrom('consents')
    .select((eb) => eb.fn.max('position').as('position'))
    .where('consultation_id', '=', entry.consultationId)
    .executeTakeFirst();
  const row: Database['consents'] = {
    id: newId('cns'),
    tenant_id: entry.tenantId,
    consultation_id: entry.consultationId,
    position: Number(last?.position ?? 0) + 1,
    identity: entry.identity,
    kind: entry.kind,
    decision: entry.decision,
    text_version: entry.textVersion,
    recorded_by: entry.recordedBy,
    api_key_id: entry.apiKeyId,
    recorded_at: entry.recordedAt,
  };
  await trx.insertInto('consents').values(row).execute();
  return toEntry(row);
}

/** The ledgers of these consultations, each in its order. */
export async function listConsents(db: Db, consultationIds: readonly string[]): Promise<ConsentEntry[]> {
  if (consultationIds.length === 0) return [];
  const rows = await db
    .selectFrom('consents')
    .selectAll()
    .where('consultation_id', 'in', consultationIds)
    .orderBy('consultation_id')
    .orderBy('position')
    .execute();
  return rows.map(toEntry);
}

/** The consent mode of the consultation's tenant (NULL: off), with its room and status. */
export async function findConsentContext(db: Db, consultationId: string) {
  return db
    .selectFrom('consultations')
    .innerJoin('tenants', 'tenants.id', 'consultations.tenant_id')
    .select(['consultations.id', 'consultations.room_sid', 'consultations.status', 'consultations.record', 'tenants.consent_mode'])
    .where('consultations.id', '=', consultationId)
    .executeTakeFirst();
}

/** The identities connected to the consultation's room now, as the record knows them. */
export async function connectedIdentities(db: Db, consultationId: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('participant_sessions')
    .select('identity')
    .where('consultation_id', '=', consultationId)
    .where('disconnected_at', 'is', null)
    .execute();
  return new Set(rows.map((row) => row.identity));
}

/** Flags a recording of a participant who had not consented. */
export async function flagRecordingConsent(db: Db, recordingSid: string, flag: 'not-consented'): Promise<void> {
  await db.updateTable('recordings').set({ consent_flag: flag }).where('recording_sid', '=', recordingSid).execute();
}
