import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './open-store.js';
import type { CommitDurability } from './commit-durability.js';

const dir = mkdtempSync(path.join(tmpdir(), 'roomgate-durability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('commit durability on SQLite', () => {
  it('each transaction commits at its own level, however transactions interleave', async () => {
    const store = await openStore(`sqlite:${path.join(dir, 'a.db')}`);
    try {
      const levels: CommitDurability[] = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 'relaxed' : 'full'));
      const seen = await Promise.all(
        levels.map((durability, i) =>
          store.transaction(
            async (trx) => {
              await new Promise((resolve) => setTimeout(resolve, i % 5));
              const row = await sql<{ synchronous: number }>`pragma synchronous`.execute(trx);
              return row.rows[0]!.synchronous;
            },
            { durability, ...(i % 2 === 0 ? { deadlineMs: 5_000 } : {}) },
          ),
        ),
      );
      // SQLite's levels: 1 = NORMAL (WAL not fsync'd at commit), 2 = FULL.
      expect(seen).toEqual(levels.map((level) => (level === 'relaxed' ? 1 : 2)));
      // A transaction that names no level is fsync'd, whatever ran before it.
      await store.transaction(async () => undefined, { durability: 'relaxed' });
      expect(
        await store.transaction(async (trx) => (await sql<{ synchronous: number }>`pragma synchronous`.execute(trx)).rows[0]!.synchronous),
      ).toBe(2);
    } finally {
      await store.close();
    }
  });
});
