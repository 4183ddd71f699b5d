import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

/** DROP INDEX, spelled for the engine: MySQL/MariaDB name the table, the others the index alone. */
export function dropIndex(db: Kysely<any>, capabilities: DialectCapabilities, name: string, table: string): Promise<void> {
  const drop = db.schema.dropIndex(name);
  return (capabilities.dropIndexNamesTable ? drop.on(table) : drop).execute();
}
