/**
 * Participants, issued identities and participant sessions: every query on them, written once.
 * An identity is issued (an access token) before Twilio sees it; a session is what Twilio's
 * callbacks say happened.
 */
import type { Insertable, Kysely } from 'kysely';
import { newId } from './ids.js';
import { shapedStatement } from './shaped-statement.js';
import { insertIfAbsent } from './insert-if-absent.js';
import type { Database, IsoTimestamp, ParticipantSessionsTable } from './schema.js';

type Db = Kysely<Database>;

export interface IssuedParticipant {
  readonly consultationId: string;
  readonly identity: string;
  readonly role: string;
  readonly issuedAt: IsoTimestamp;
  readonly expiresAt: IsoTimestamp;
}

/**
 * Issues identities: a participant row and an issued_identities row each, unless the
 * consultation already has that identity (the natural key decides; the first role stays).
 */
export async function issueParticipant(db: Db, participant: IssuedParticipant): Promise<void> {
  const { consultationId, identity, role } = participant;
  await insertIfAbsent(
    db,
    'participants',
    { consultation_id: consultationId, identity },
    {
      // Random: an id built from the identity would collide for long identities (ids are
      // 64 characters) and would carry the identity itself. The natural key decides.
      id: newId('par'),
      consultation_id: consultationId,
      identity,
      role,
      participant_sid: null,
      created_at: participant.issuedAt,
    },
  );
  await insertIfAbsent(
    db,
    'issued_identities',
    { consultation_id: consultationId, identity },
    { consultation_id: consultationId, identity, role, issued_at: participant.issuedAt, expires_at: participant.expiresAt },
  );
}

/** Seeds fresh consultations' identities in bulk (no conflict handling: the rows must be new). */
export async function insertIssuedParticipants(db: Db, participants: readonly IssuedParticipant[]): Promise<void> {
  for (let start = 0; start < participants.length; start += 200) {
    const chunk = participants.slice(start, start + 200);
    await db
      .insertInto('issued_identities')
      .values(
        chunk.map((p) => ({
          consultation_id: p.consultationId,
          identity: p.identity,
          role: p.role,
          issued_at: p.issuedAt,
          expires_at: p.expiresAt,
        })),
      )
      .execute();
    await db
      .insertInto('participants')
      .values(
        chunk.map((p) => ({
          id: newId('par'),
          consultation_id: p.consultationId,
          identity: p.identity,
          role: p.role,
          participant_sid: null,
          created_at: p.issuedAt,
        })),
      )
      .execute();
  }
}

/** A consultation's participants (identity, role), by identity. */
export async function listConsultationParticipants(db: Db, consultationId: string) {
  return db
    .selectFrom('participants')
    .select(['identity', 'role'])
    .where('consultation_id', '=', consultationId)
    .orderBy('identity')
    .execute();
}

/** The roles these identities were issued with in these consultations: one statement for a batch. */
export async function findIssuedRoles(db: Db, consultationIds: readonly string[], identities: readonly string[]) {
  if (consultationIds.length === 0 || identities.length === 0) return [];
  return (await issuedRoles(db, { consultationIds, identities })).rows;
}

// Compiled once per shape (shaped-statement.ts): the record thread runs these for every batch.
const issuedRoles = shapedStatement('findIssuedRoles', (db, args: { consultationIds: readonly string[]; identities: readonly string[] }) =>
  db
    .selectFrom('issued_identities')
    .select(['consultation_id', 'identity', 'role'])
    .where('consultation_id', 'in', args.consultationIds)
    .where('identity', 'in', args.identities),
);
const issuedIdentities = shapedStatement(
  'findIssuedIdentities',
  (db, args: { consultationIds: readonly string[]; identities: readonly string[] }) =>
    db
      .selectFrom('issued_identities')
      .select(['consultation_id', 'identity'])
      .where('consultation_id', 'in', args.consultationIds)
      .where('identity', 'in', args.identities),
);

/** Which of these identities were issued for which of these consultations. */
export async function findIssuedIdentities(db: Db, consultationIds: readonly string[], identities: readonly string[]) {
  if (consultationIds.length === 0 || identities.length === 0) return [];
  return (await issuedIdentities(db, { consultationIds, identities })).rows;
}

/** A consultation's sessions, by connection time. */
export async function listConsultationSessions(db: Db, consultationId: string) {
  return db
    .selectFrom('participant_sessions')
    .select(['participant_sid', 'identity', 'connected_at', 'disconnected_at'])
    .where('consultation_id', '=', consultationId)
    .orderBy('connected_at')
    .execute();
}

export interface SessionFields {
  readonly identity: string;
  readonly connected_at: IsoTimestamp;
  readonly disconnected_at: IsoTimestamp | null;
}

/** New sessions of a consultation: one multi-row INSERT (one round trip however many). */
export async function insertSessions(
  db: Db,
  consultationId: string,
  sessions: readonly { participantSid: string; fields: SessionFields }[],
): Promise<void> {
  if (sessions.length === 0) return;
  await insertSessionRows(
    db,
    sessions.map(({ participantSid, fields }) => ({
      id: newId('ps'), // the UNIQUE (consultation, participant SID) decides, not the id
      consultation_id: consultationId,
      participant_sid: participantSid,
      ...fields,
    })),
  );
}

const insertSessionRows = shapedStatement('insertSessions', (db, rows: Insertable<ParticipantSessionsTable>[]) =>
  db.insertInto('participant_sessions').values(rows),
);
const updateSessionRow = shapedStatement(
  'updateSession',
  (db, args: { consultationId: string; participantSid: string; fields: SessionFields }) =>
    db
      .updateTable('participant_sessions')
      .set(args.fields)
      .where('consultation_id', '=', args.consultationId)
      .where('participant_sid', '=', args.participantSid),
);

export async function updateSession(db: Db, consultationId: string, participantSid: string, fields: SessionFields): Promise<void> {
  await updateSessionRow(db, { consultationId, participantSid, fields });
}

export async function deleteSessions(db: Db, consultationId: string, participantSids: readonly string[]): Promise<void> {
  if (participantSids.length === 0) return;
  await db
    .deleteFrom('participant_sessions')
    .where('consultation_id', '=', consultationId)
    .where('participant_sid', 'in', participantSids)
    .execute();
}
