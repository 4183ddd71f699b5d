import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';

/** The store named by ROOMGATE_DATABASE_URL (default ./data/roomgate.db), migrated. */
export async function openCliStore(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  const url = env.ROOMGATE_DATABASE_URL?.trim() || 'sqlite:./data/roomgate.db';
  if (url.startsWith('sqlite:') && !url.includes(':memory:')) mkdirSync(dirname(url.slice('sqlite:'.length)), { recursive: true });
  const store = await openStore(url);
  await store.migrate();
  return store;
}
