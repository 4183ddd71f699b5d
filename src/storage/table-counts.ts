/** Row counts per table: for operators' summaries, benches and tests, never a request path. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function countRows(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
