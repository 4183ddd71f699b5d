/**
 * A SQLite store whose statements run on a thread of their own (serve's default on a file): the
 * same results, errors and durability as on the caller's thread, and the write lock shared with
 * another connection to the file is waited for asynchronously on both sides.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-committer.js';
import { newId } from './ids.js';
import { insertCallbacks } from './inbox-repository.js';
import { openStore } from './open-store.js';
import { StoreConstraintError } from './store-errors.js';
import type { NewCallback, NewTenant } from './schema.js';
import type { Store } from './store.js';
import { findTenantIdBySlug, insertTenant } from './tenant-repository.js';

const NOW = '2025-03-01T10:00:00.000Z';
const tenant = (slug: string, id = newId('ten')): NewTenant => ({ id, slug, name: slug, kind: 'human', created_at: NOW });
const callback = (key: string): NewCallback => ({
  id: newId('cb'),
  dedupe_key: key,
  idempotency_token: null,
  account_sid: 'AC00000000000000000000000000000000',
  room_sid: 'RM00000000000000000000000000000000',
  composition_sid: null,
  event_type: 'room-created',
  event_timestamp: NOW,
  sequence_number: 0,
  participant_sid: null,
  participant_identity: null,
  params: '[]',
  status: 'accepted',
  received_at: NOW,
  processed_at: null,
});

describe('a SQLite store with its statements on their own thread', () => {
  let dir: string;
  const stores: Store[] = [];
  const open = async (sqliteThread: boolean) => {
    const store = await openStore(`sqlite:${path.join(dir, 'roomgate.db')}`, { sqliteThread });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates, group-commits, refuses duplicates, and what it committed is there after a reopen', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rg-sqlite-thread-'));
    const store = await open(true);
    await store.migrate();
    const committer = new GroupCommitter({ store, apply: (trx, keys: string[]) => insertCallbacks(trx, keys.map(callback)) });
    const inserted = await Promise.all(['a', 'b', 'a', 'c', 'b'].map((key) => committer.submit(key)));
    expect(inserted.filter(Boolean)).toHaveLength(3);
    await store.close();
    stores.length = 0;

    const again = await open(false);
    const keys = await again.db.selectFrom('callbacks').select('dedupe_key').orderBy('dedupe_key').execute();
    expect(keys.map((row) => row.dedupe_key)).toEqual(['a', 'b', 'c']);
  });

  it('maps SQLite errors as on the caller thread, and a failed transaction leaves nothing', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rg-sqlite-thread-'));
    const store = await open(true);
    await store.migrate();
    const id = newId('ten');
    await insertTenant(store.db, tenant('one', id));
    await expect(insertTenant(store.db, tenant('two', id))).rejects.toBeInstanceOf(StoreConstraintError);

    await expect(
      store.transaction(async (trx) => {
        await insertTenant(trx, tenant('three'));
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await findTenantIdBySlug(store.db, 'three')).toBeUndefined();
    // The connection is usable again: not left inside the failed transaction.
    await store.transaction((trx) => insertTenant(trx, tenant('four')));
    expect(await findTenantIdBySlug(store.db, 'four')).toBeDefined();
  });

  it('shares the write lock with a second connection to the file: both sides wait for it and commit', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rg-sqlite-thread-'));
    const threaded = await open(true);
    await threaded.migrate();
    const local = await open(false);
    await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        (index % 2 === 0 ? threaded : local).transaction(async (trx) => {
          await insertTenant(trx, tenant(`t${index}`));
          await insertTenant(trx, tenant(`u${index}`));
        }),
      ),
    );
    const count = await local.db
      .selectFrom('tenants')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(80);
  });
});
