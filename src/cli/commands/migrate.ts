/**
 * `roomgate migrate` — brings the database named by ROOMGATE_DATABASE_URL (default
 * sqlite:./data/roomgate.db; only the default's ./data is created) to the latest schema and
 * says what it applied. Safe to run twice, and from several machines at once.
 * Exit 0 on success, 1 if the database is unavailable or a migration failed, 2 on a bad URL.
 */
import { redactDatabaseUrl, StoreError } from '../../storage/store-errors.js';
import { databaseUrlFrom } from '../../service/config.js';
import { EXIT_OK } from '../command.js';
import { openCliStore } from '../cli-store.js';

export async function migrate(): Promise<number> {
  const shown = redactDatabaseUrl(databaseUrlFrom());
  const store = await openCliStore({ migrate: false, poolSize: 1 });
  try {
    let applied: string[];
    try {
      applied = await store.migrate();
    } catch (error) {
      const reason =
        error instanceof StoreError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
      throw new Error(`cannot migrate the database ${shown}: ${reason}`, { cause: error });
    }
    if (applied.length === 0) {
      console.log(`roomgate migrate: ${shown} (${store.engine}) is up to date, nothing to apply`);
    } else {
      console.log(`roomgate migrate: applied ${applied.length} migration(s) to ${shown} (${store.engine}):`);
      for (const name of applied) console.log(`  ${name}`);
    }
    return EXIT_OK;
  } finally {
    await store.close().catch(() => undefined);
  }
}
