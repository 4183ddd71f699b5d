import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openStore } from '../storage/open-store.js';
import { newId } from '../storage/ids.js';
import type { Store } from '../storage/store.js';

/** The store named by ROOMGATE_DATABASE_URL (default ./data/roomgate.db), migrated. */
export async function openCliStore(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  const url = env.ROOMGATE_DATABASE_URL?.trim() || 'sqlite:./data/roomgate.db';
  if (url.startsWith('sqlite:') && !url.includes(':memory:')) mkdirSync(dirname(url.slice('sqlite:'.length)), { recursive: true });
  const store = await openStore(url);
  await store.migrate();
  return store;
}

/** An audit row for an operator's CLI action (key and tenant management). */
export async function auditCli(
  store: Store,
  entry: { tenantId: string | null; action: string; target: string; outcome: string; detail?: Record<string, unknown> },
): Promise<void> {
  await store.db
    .insertInto('audit_log')
    .values({
      id: newId('aud'),
      tenant_id: entry.tenantId,
      actor: 'operator:cli',
      action: entry.action,
      target: entry.target,
      outcome: entry.outcome,
      detail: JSON.stringify(entry.detail ?? {}),
      created_at: new Date().toISOString(),
    })
    .execute();
}
