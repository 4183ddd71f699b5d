/**
 * GDPR erasure of one participant identity within a tenant: every stored trace of the identity
 * is replaced by a pseudonym, in one transaction, by the rules of core/identity/identity-scrubber.
 *
 * What is touched: the tenant's rows (its consultations' participants, sessions, issued
 * identities, recordings and callbacks, its audit rows) and rows that belong to no tenant
 * (callbacks of rooms no consultation knows, operator audit rows, security events and outbox
 * entries that name no consultation of another tenant). Another tenant's rows are never touched:
 * the same string there is that tenant's subject, to erase with its own key.
 *
 * Participant ids are replaced by fresh random ids whatever their shape: an id built from (or
 * hashed from) the identity would keep it, or let anyone who guesses it find the row, and a
 * later token for the same identity must be able to create its participant again.
 */
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import { IdentityScrubber, jsonFragment, type StoredParam } from '../core/identity/identity-scrubber.js';
import { capabilitiesOf } from './dialect-capabilities.js';
import { newId } from './ids.js';
import { lockConsultations } from './row-locks.js';
import type { Database, StoreTransaction } from './schema.js';

export interface SubjectErasure {
  readonly tenantId: string;
  readonly identity: string;
  /** Replaces the identity; must not contain it (see core/identity/erasure-pseudonym.ts). */
  readonly pseudonym: string;
}

/** Rows changed, per kind. A repeated erasure finds nothing left and changes nothing. */
export interface ErasureCounts {
  participants: number;
  sessions: number;
  issuedIdentities: number;
  recordings: number;
  callbacks: number;
  auditEntries: number;
  securityEvents: number;
  outbox: number;
  /** Events of the tenant's event log (migration 0009) whose payload named the identity. */
  events: number;
  /** Consent ledger entries (migration 0013) of or recorded by the identity: the fact is kept. */
  consents: number;
}

/** Replaces the identity everywhere it is stored (see the file comment); returns what changed. */
export async function eraseSubject(trx: StoreTransaction, subject: SubjectErasure): Promise<ErasureCounts> {
  const scrub = new IdentityScrubber(subject.identity, subject.pseudonym);
  const { tenantId, identity } = subject;
  const tenantConsultations = trx.selectFrom('consultations').select('consultations.id').where('consultations.tenant_id', '=', tenantId);

  // The projector folds these consultations from their callbacks: it must not write back what
  // it read before this transaction changed it (PostgreSQL/MySQL row locks; SQLite holds the
  // whole database already).
  const touched = await trx
    .selectFrom('consultations')
    .select('consultations.id')
    .where('consultations.tenant_id', '=', tenantId)
    .where((eb) =>
      eb.or([
        eb.exists(
          eb
            .selectFrom('issued_identities')
            .select('issued_identities.consultation_id')
            .whereRef('issued_identities.consultation_id', '=', 'consultations.id')
            .where('issued_identities.identity', '=', identity),
        ),
        eb.exists(
          eb
            .selectFrom('participant_sessions')
            .select('participant_sessions.consultation_id')
            .whereRef('participant_sessions.consultation_id', '=', 'consultations.id')
            .where('participant_sessions.identity', '=', identity),
        ),
        eb.exists(
          eb
            .selectFrom('callbacks')
            .select('callbacks.id')
            .whereRef('callbacks.room_sid', '=', 'consultations.room_sid')
            .where('callbacks.participant_identity', '=', identity),
        ),
        // …or of any of its earlier rooms (rejoining, migration 0012).
        eb.exists(
          eb
            .selectFrom('callbacks')
            .innerJoin('consultation_rooms', 'consultation_rooms.room_sid', 'callbacks.room_sid')
            .select('callbacks.id')
            .whereRef('consultation_rooms.consultation_id', '=', 'consultations.id')
            .where('callbacks.participant_identity', '=', identity),
        ),
      ]),
    )
    .execute();
  await lockConsultations(
    trx,
    touched.map((row) => row.id),
  );
  // Their folded state names the identity: cleared, so the next projection folds them again from
  // the scrubbed callbacks (a NULL state means exactly that).
  if (touched.length > 0) {
    await trx
      .updateTable('consultations')
      .set({ fold_state: null })
      .where(
        'id',
        'in',
        touched.map((row) => row.id),
      )
      .execute();
  }

  const counts: ErasureCounts = {
    participants: 0,
    sessions: 0,
    issuedIdentities: 0,
    recordings: 0,
    callbacks: 0,
    auditEntries: 0,
    securityEvents: 0,
    outbox: 0,
    events: 0,
    consents: 0,
  };

  // MySQL compares with PAD SPACE ('a' = 'a '): rows are selected by the index, then kept only
  // when they are exactly the identity, and changed by key.
  const participants = await trx
    .selectFrom('participants')
    .select(['id', 'identity'])
    .where('consultation_id', 'in', tenantConsultations)
    .where('identity', '=', identity)
    .execute();
  for (const row of participants.filter((p) => p.identity === identity)) {
    await trx
      .updateTable('participants')
      .set({ id: newId('par'), identity: subject.pseudonym })
      .where('id', '=', row.id)
      .execute();
    counts.participants += 1;
  }

  const sessions = await trx
    .selectFrom('participant_sessions')
    .select(['id', 'identity'])
    .where('consultation_id', 'in', tenantConsultations)
    .where('identity', '=', identity)
    .execute();
  for (const row of sessions.filter((s) => s.identity === identity)) {
    await trx.updateTable('participant_sessions').set({ identity: subject.pseudonym }).where('id', '=', row.id).execute();
    counts.sessions += 1;
  }

  // The waiting room's entries (migration 0010): pseudonymised like the participants.
  const lobby = await trx
    .selectFrom('lobby_entries')
    .select(['consultation_id', 'identity'])
    .where('consultation_id', 'in', tenantConsultations)
    .where('identity', '=', identity)
    .execute();
  for (const row of lobby.filter((entry) => entry.identity === identity)) {
    await trx
      .updateTable('lobby_entries')
      .set({ identity: subject.pseudonym })
      .where('consultation_id', '=', row.consultation_id)
      .where('identity', '=', row.identity)
      .execute();
  }

  // The consent ledger (migration 0013): the decision stays, as evidence, under the pseudonym —
  // whether the identity consented or recorded someone's consent.
  const consents = await trx
    .selectFrom('consents')
    .select(['id', 'identity', 'recorded_by'])
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('identity', '=', identity), eb('recorded_by', '=', identity)]))
    .execute();
  for (const row of consents) {
    const changed = {
      identity: row.identity === identity ? subject.pseudonym : row.identity,
      recorded_by: row.recorded_by === identity ? subject.pseudonym : row.recorded_by,
    };
    if (changed.identity === row.identity && changed.recorded_by === row.recorded_by) continue;
    await trx.updateTable('consents').set(changed).where('id', '=', row.id).execute();
    counts.consents += 1;
  }

  const issued = await trx
    .selectFrom('issued_identities')
    .select(['consultation_id', 'identity'])
    .where('consultation_id', 'in', tenantConsultations)
    .where('identity', '=', identity)
    .execute();
  for (const row of issued.filter((i) => i.identity === identity)) {
    await trx
      .updateTable('issued_identities')
      .set({ identity: subject.pseudonym })
      .where('consultation_id', '=', row.consultation_id)
      .where('identity', '=', row.identity)
      .execute();
    counts.issuedIdentities += 1;
  }

  // Track names are chosen by the client's app and often carry the identity (`audio-<identity>`).
  const recordings = await trx
    .selectFrom('recordings')
    .select(['id', 'track_name'])
    .where('consultation_id', 'in', tenantConsultations)
    .where(contains('track_name', identity))
    .execute();
  for (const row of recordings) {
    const trackName = row.track_name === null ? null : scrub.text(row.track_name);
    if (trackName === row.track_name) continue;
    await trx.updateTable('recordings').set({ track_name: trackName }).where('id', '=', row.id).execute();
    counts.recordings += 1;
  }

  // The tenant's callbacks (by any room of its consultations), and those of rooms no consultation
  // knows; any status.
  const callbacks = await trx
    .selectFrom('callbacks')
    .leftJoin('consultation_rooms', 'consultation_rooms.room_sid', 'callbacks.room_sid')
    .leftJoin('consultations', (join) =>
      join.on((eb) =>
        eb.or([
          eb('consultations.id', '=', eb.ref('consultation_rooms.consultation_id')),
          eb('consultations.room_sid', '=', eb.ref('callbacks.room_sid')),
        ]),
      ),
    )
    .select(['callbacks.id', 'callbacks.params', 'callbacks.status', 'callbacks.participant_identity'])
    .distinct()
    .where((eb) => eb.or([eb('consultations.tenant_id', '=', tenantId), eb('consultations.id', 'is', null)]))
    .where((eb) => eb.or([eb('callbacks.participant_identity', '=', identity), contains('callbacks.params', jsonFragment(identity))]))
    .execute();
  for (const row of callbacks) {
    const applied = row.status === 'accepted';
    const params = JSON.stringify(scrub.callbackParams(JSON.parse(row.params) as StoredParam[], applied));
    const participantIdentity = row.participant_identity === null ? null : scrub.callbackIdentity(row.participant_identity, applied);
    if (params === row.params && participantIdentity === row.participant_identity) continue;
    await trx.updateTable('callbacks').set({ params, participant_identity: participantIdentity }).where('id', '=', row.id).execute();
    counts.callbacks += 1;
  }

  const auditRows = await trx
    .selectFrom('audit_log')
    .select(['id', 'target', 'detail'])
    .where((eb) => eb.or([eb('tenant_id', '=', tenantId), eb('tenant_id', 'is', null)]))
    .where((eb) => eb.or([contains('target', identity), contains('detail', jsonFragment(identity))]))
    .execute();
  for (const row of auditRows) {
    const changed = { target: scrub.text(row.target), detail: scrub.json(row.detail) };
    if (changed.target === row.target && changed.detail === row.detail) continue;
    await trx.updateTable('audit_log').set(changed).where('id', '=', row.id).execute();
    counts.auditEntries += 1;
  }

  // Security events and outbox entries have no tenant column: their JSON names the consultation
  // or room they are about, if any. Those that name another tenant's are left alone.
  const events = await trx
    .selectFrom('security_events')
    .select(['id', 'path', 'detail'])
    .where((eb) => eb.or([contains('path', identity), contains('detail', jsonFragment(identity))]))
    .execute();
  const eventOwners = await ownersOf(
    trx,
    events.map((row) => row.detail),
  );
  for (const [index, row] of events.entries()) {
    if (!eventOwners[index]!.every((owner) => owner === tenantId)) continue;
    const changed = { path: scrub.text(row.path), detail: scrub.json(row.detail) };
    if (changed.path === row.path && changed.detail === row.detail) continue;
    await trx.updateTable('security_events').set(changed).where('id', '=', row.id).execute();
    counts.securityEvents += 1;
  }

  const outbox = await trx
    .selectFrom('outbox')
    .select(['id', 'payload', 'last_error'])
    .where((eb) => eb.or([contains('payload', jsonFragment(identity)), contains('last_error', identity)]))
    .execute();
  const outboxOwners = await ownersOf(
    trx,
    outbox.map((row) => row.payload),
  );
  for (const [index, row] of outbox.entries()) {
    if (!outboxOwners[index]!.every((owner) => owner === tenantId)) continue;
    const changed = { payload: scrub.json(row.payload), last_error: row.last_error === null ? null : scrub.text(row.last_error) };
    if (changed.payload === row.payload && changed.last_error === row.last_error) continue;
    await trx.updateTable('outbox').set(changed).where('id', '=', row.id).execute();
    counts.outbox += 1;
  }

  const tenantEvents = await trx
    .selectFrom('tenant_events')
    .select(['id', 'payload'])
    .where('tenant_id', '=', tenantId)
    .where(contains('payload', jsonFragment(identity)))
    .execute();
  for (const row of tenantEvents) {
    const payload = scrub.json(row.payload);
    if (payload === row.payload) continue;
    await trx.updateTable('tenant_events').set({ payload }).where('id', '=', row.id).execute();
    counts.events += 1;
  }
  return counts;
}

/**
 * Makes the erased bytes leave the database's files, where that is Roomgate's to do (see the
 * `afterErasure` capability). On SQLite, `secure_delete` has zeroed what the erasure freed, but
 * the pages as they were stay in the WAL until a checkpoint; TRUNCATE copies every page home
 * and empties the WAL file. A reader (another process) holding an old snapshot makes the
 * checkpoint busy: it is retried until `timeoutMs`, then false (the next checkpoint finishes it).
 */
export async function purgeErasedBytes(db: Kysely<Database>, options: { timeoutMs?: number } = {}): Promise<boolean> {
  if (capabilitiesOf(db).afterErasure !== 'wal-checkpoint-truncate') return true;
  const deadline = Date.now() + (options.timeoutMs ?? 2000);
  for (;;) {
    const { rows } = await sql<{ busy: number }>`pragma wal_checkpoint(truncate)`.execute(db);
    if ((rows[0]?.busy ?? 0) === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `column LIKE '%value%'`, with LIKE's wildcards in the value escaped (case-insensitive on SQLite: a pre-filter only). */
function contains(column: string, value: string): Expression<SqlBool> {
  const pattern = `%${value.replace(/[!%_]/g, (char) => `!${char}`)}%`;
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '!'`;
}

const OWNER_KEYS = { tenantId: 'tenant', consultationId: 'consultation', roomSid: 'room' } as const;

/**
 * For each JSON document, the tenants it names — by `tenantId`, or the consultation of a
 * `consultationId` or `roomSid`, at any depth. Empty: it belongs to no tenant (or to one whose
 * consultation is gone).
 */
async function ownersOf(trx: StoreTransaction, documents: readonly string[]): Promise<string[][]> {
  const refs = documents.map((document) => {
    const found: { kind: (typeof OWNER_KEYS)[keyof typeof OWNER_KEYS]; value: string }[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value !== null && typeof value === 'object') {
        for (const [key, item] of Object.entries(value)) {
          const kind = OWNER_KEYS[key as keyof typeof OWNER_KEYS];
          if (kind && typeof item === 'string') found.push({ kind, value: item });
          else walk(item);
        }
      }
    };
    try {
      walk(JSON.parse(document));
    } catch {
      // Not JSON: names nothing.
    }
    return found;
  });
  const consultationIds = [
    ...new Set(
      refs
        .flat()
        .filter((ref) => ref.kind === 'consultation')
        .map((ref) => ref.value),
    ),
  ];
  const roomSids = [
    ...new Set(
      refs
        .flat()
        .filter((ref) => ref.kind === 'room')
        .map((ref) => ref.value),
    ),
  ];
  const byConsultation = new Map<string, string>();
  const byRoom = new Map<string, string>();
  if (consultationIds.length > 0 || roomSids.length > 0) {
    const rows = await trx
      .selectFrom('consultations')
      .select(['id', 'room_sid', 'tenant_id'])
      .where((eb) =>
        eb.or([
          ...(consultationIds.length > 0 ? [eb('id', 'in', consultationIds)] : []),
          ...(roomSids.length > 0 ? [eb('room_sid', 'in', roomSids)] : []),
        ]),
      )
      .execute();
    for (const row of rows) {
      byConsultation.set(row.id, row.tenant_id);
      if (row.room_sid) byRoom.set(row.room_sid, row.tenant_id);
    }
  }
  return refs.map((found) =>
    found
      .map((ref) => (ref.kind === 'tenant' ? ref.value : (ref.kind === 'consultation' ? byConsultation : byRoom).get(ref.value)))
      .filter((owner): owner is string => owner !== undefined),
  );
}
