/**
 * Every migration can be undone, on every engine: the whole chain goes down to an empty database
 * and up again, and the tables and columns after the second climb are those after the first. A
 * down that no test ran was found broken this way (DROP INDEX spelled for MySQL only).
 */
import { Migrator, NO_MIGRATIONS } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { capabilitiesOf } from '../dialect-capabilities.js';
import { openStore } from '../open-store.js';
import type { Store } from '../store.js';
import { migrationProvider } from './migration-provider.js';

for (const engine of enginesUnderTest()) {
  describe(`migrations down and up again on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    const schema = async () =>
      (await store.db.introspection.getTables())
        .map((table) => `${table.name}(${table.columns.map((column) => `${column.name} ${column.dataType}`).join(', ')})`)
        .sort();

    it('undoes every migration, then applies them all again to the same tables', async () => {
      const migrated = await schema();
      const migrator = new Migrator({ db: store.db, provider: migrationProvider(capabilitiesOf(store.db)) });
      const down = await migrator.migrateTo(NO_MIGRATIONS);
      expect(down.error).toBeUndefined();
      expect(down.results?.every((result) => result.status === 'Success')).toBe(true);
      expect(await schema()).toEqual([]);
      const up = await migrator.migrateToLatest();
      expect(up.error).toBeUndefined();
      expect(await schema()).toEqual(migrated);
    });
  });
}
