/** The waiting room's rows (lobby_entries): every query on them, written once. */
import type { Kysely } from 'kysely';
import type { Database, IsoTimestamp } from './schema.js';

type Db = Kysely<Database>;

export interface LobbyEntry {
  readonly consultationId: string;
  readonly identity: string;
  readonly role: string;
  readonly status: string;
  readonly joinedAt: IsoTimestamp;
  readonly decidedAt: IsoTimestamp | null;
  readonly leftAt: IsoTimestamp | null;
}

const toEntry = (row: Database['lobby_entries']): LobbyEntry => ({
  consultationId: row.consultation_id,
  identity: row.identity,
  role: row.role,
  status: row.status,
  joinedAt: row.joined_at,
  decidedAt: row.decided_at,
  leftAt: row.left_at,
});

/** One identity's entry. */
export async function findLobbyEntry(db: Db, consultationId: string, identity: string): Promise<LobbyEntry | undefined> {
  const row = await db
    .selectFrom('lobby_entries')
    .selectAll()
    .where('consultation_id', '=', consultationId)
    .where('identity', '=', identity)
    .executeTakeFirst();
  // MySQL compares with PAD SPACE: only the exact identity counts.
  return row && row.identity === identity ? toEntry(row) : undefined;
}

/** Writes the entry as given (insert, or update by its key). */
export async function saveLobbyEntry(db: Db, entry: LobbyEntry, exists: boolean): Promise<void> {
  const values = {
    role: entry.role,
    status: entry.status,
    joined_at: entry.joinedAt,
    decided_at: entry.decidedAt,
    left_at: entry.leftAt,
  };
  if (exists) {
    await db
      .updateTable('lobby_entries')
      .set(values)
      .where('consultation_id', '=', entry.consultationId)
      .where('identity', '=', entry.identity)
      .execute();
  } else {
    await db
      .insertInto('lobby_entries')
      .values({ consultation_id: entry.consultationId, identity: entry.identity, ...values })
      .execute();
  }
}

/** The lobby entries of these consultations, oldest first. */
export async function listLobbyEntries(db: Db, consultationIds: readonly string[]): Promise<LobbyEntry[]> {
  if (consultationIds.length === 0) return [];
  const rows = await db
    .selectFrom('lobby_entries')
    .selectAll()
    .where('consultation_id', 'in', consultationIds)
    .orderBy('joined_at')
    .orderBy('identity')
    .execute();
  return rows.map(toEntry);
}
