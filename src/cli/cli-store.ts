import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { databaseUrlFrom } from '../service/config.js';
import { openStore } from '../storage/open-store.js';
import { insertAuditRows } from '../storage/audit-repository.js';
import { redactDatabaseUrl } from '../storage/store-errors.js';
import type { Store } from '../storage/store.js';

/**
 * The store named by ROOMGATE_DATABASE_URL (default ./data/roomgate.db), migrated unless told
 * not to. Every command opens the database here, so a bad URL (ConfigError, exit 2) and an
 * unreachable database (exit 1) read the same whatever the command.
 */
export async function openCliStore(options: { env?: NodeJS.ProcessEnv; migrate?: boolean; poolSize?: number } = {}): Promise<Store> {
  const url = databaseUrlFrom(options.env ?? process.env);
  const shown = redactDatabaseUrl(url);
  // Only the default's ./data can be missing here (config refuses other missing directories).
  if (url.startsWith('sqlite:') && !url.includes(':memory:')) mkdirSync(dirname(url.slice('sqlite:'.length)), { recursive: true });
  let store: Store;
  try {
    store = await openStore(url, options.poolSize ? { poolSize: options.poolSize } : {});
  } catch (error) {
    throw new Error(`cannot open the database ${shown}: ${message(error)}`, { cause: error });
  }
  if (options.migrate === false) return store;
  try {
    await store.migrate();
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new Error(`cannot migrate the database ${shown}: ${message(error)}`, { cause: error });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An audit row for an operator's CLI action (key and tenant management). */
export async function auditCli(
  store: Store,
  entry: { tenantId: string | null; action: string; target: string; outcome: string; detail?: Record<string, unknown> },
): Promise<void> {
  await insertAuditRows(store.db, [{ ...entry, actor: 'operator:cli', at: new Date().toISOString() }]);
}
