/**
 * `roomgate migrate` — brings the database named by ROOMGATE_DATABASE_URL (default
 * sqlite:./data/roomgate.db; the SQLite file's folder is created if needed) to the latest
 * schema and says what it applied. Safe to run twice, and from several machines at once.
 * Exit 0 on success, 1 if the database is unavailable or a migration failed, 2 on bad usage.
 */
import { EXIT_FAILURE, EXIT_OK, parseOptions } from '../command.js';
import { openStore } from '../../storage/open-store.js';
import { StoreError, UnsupportedDatabaseUrlError, redactDatabaseUrl } from '../../storage/store-errors.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/roomgate.db';

export async function run(argv: string[]): Promise<number> {
  parseOptions(argv, { options: {}, allowPositionals: false });
  const url = process.env.ROOMGATE_DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  const shown = redactDatabaseUrl(url);

  let store;
  try {
    store = await openStore(url, { poolSize: 1 });
  } catch (error) {
    if (error instanceof UnsupportedDatabaseUrlError) {
      console.error(`roomgate migrate: ROOMGATE_DATABASE_URL: ${error.message}`);
    } else {
      console.error(`roomgate migrate: cannot open ${shown}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return EXIT_FAILURE;
  }

  try {
    const applied = await store.migrate();
    if (applied.length === 0) {
      console.log(`roomgate migrate: ${shown} (${store.engine}) is up to date, nothing to apply`);
    } else {
      console.log(`roomgate migrate: applied ${applied.length} migration(s) to ${shown} (${store.engine}):`);
      for (const name of applied) console.log(`  ${name}`);
    }
    return EXIT_OK;
  } catch (error) {
    const reason = error instanceof StoreError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    console.error(`roomgate migrate: failed on ${shown}: ${reason}`);
    return EXIT_FAILURE;
  } finally {
    await store.close().catch(() => undefined);
  }
}
