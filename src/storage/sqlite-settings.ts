/** The SQLite session settings that decide durability, as the engine reports them (benches print them). */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function sqliteDurabilitySettings(db: Kysely<Database>): Promise<{ journalMode: string; synchronous: string }> {
  const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db);
  const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(db);
  const level = sync.rows[0]?.synchronous;
  return { journalMode: String(mode.rows[0]?.journal_mode), synchronous: level === 2 ? 'FULL' : String(level) };
}
