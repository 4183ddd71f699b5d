/**
 * SQL is written in src/storage/ only (one repository per table family, src/storage/README.md):
 * routes, workers, CLI commands, test support and benches call repositories and never build a
 * query. Tests may READ tables directly — an independent view of what the service wrote, which
 * must not go through the code under test — but every write goes through a repository, except
 * in the files listed below, each with the reason it must write SQL itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/roomgate-process.js';

/** A Kysely write, a read, raw SQL (kysely's sql tag, a driver's query/prepare/exec). */
const WRITES = /\.(insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(/;
const READS = /\.selectFrom\(/;
const RAW = /\bsql(<[^>]*>)?`|\bsql\.(raw|ref|id|lit|table|join)\(|\.(query|prepare|exec)\(\s*['"`]/;

const ALLOWED: Record<string, string> = {
  'src/service/live/live-events.ts':
    'PostgreSQL LISTEN/pg_notify on a dedicated pg connection outside Kysely (the cross-instance bus, not a table)',
  'test/support/engines.ts': 'creates and drops the per-test databases through the admin connection (DDL, not Roomgate’s schema)',
  'test/support/identity-scan.ts': 'reads every table the catalogue lists with `select *`, whatever its columns: the privacy oracle',
  'bench/servers/express-baseline.ts': 'the naive baseline under comparison: one plain INSERT per callback into its own table',
  'bench/support/baseline-db.ts': 'counts the baseline’s own table (not Roomgate’s schema)',
  'test/webhook/webhook-outage.test.ts':
    'a second SQLite connection holds the write lock (`begin immediate`) to make the store unavailable: fault injection',
  'src/service/retention/retention.test.ts':
    'seeds rows of chosen ages in every table retention touches, including states no code path writes (past dates, orphans)',
  'test/privacy/subject-erasure.test.ts':
    'writes an outbox entry as a future feature would (an identity in its payload and last_error) to prove erasure reaches it',
  'test/reliability/poisoned-consultation.test.ts':
    'a trigger that refuses updates of one consultation row: the fault injection that makes its fold fail',
  'test/faults/partition-and-held-rows.test.ts':
    'a second session holds an inbox row and a consultation row inside an open transaction, as a dead host leaves them: fault injection',
  'test/faults/sqlite-faults.test.ts':
    'a second SQLite connection takes and holds the write lock (`begin immediate`) mid-load: fault injection',
  'test/billing/billing-evidence.test.ts':
    'edits a billing record and a billing chain entry directly, as someone with database access would: the tampering `billing verify` must name',
  'test/faults/support/own-postgres.ts': 'creates the database of a private PostgreSQL cluster (DDL, not Roomgate’s schema)',
};

function sources(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const isTest = (file: string) => file.endsWith('.test.ts') || file.startsWith('test/');

/** The files outside src/storage/ that build SQL, with what they build. */
function offenders(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const root of ['src', 'test', 'bench']) {
    for (const path of sources(join(ROOT, root))) {
      const file = relative(ROOT, path);
      // The storage layer, its own tests included, and this file's examples.
      if (file.startsWith('src/storage/') || file === 'test/architecture/sql-only-in-storage.test.ts') continue;
      const kinds: string[] = [];
      const text = readFileSync(path, 'utf8');
      if (WRITES.test(text)) kinds.push('writes');
      if (RAW.test(text)) kinds.push('raw SQL');
      if (READS.test(text) && !isTest(file)) kinds.push('reads');
      if (kinds.length > 0) found.set(file, kinds);
    }
  }
  return found;
}

describe('SQL lives in src/storage/', () => {
  const found = offenders();

  it('no file outside src/storage/ builds SQL, except the justified allow-list', () => {
    const unexpected = [...found].filter(([file]) => !(file in ALLOWED)).map(([file, kinds]) => `${file}: ${kinds.join(', ')}`);
    expect(unexpected).toEqual([]);
  });

  it('every allow-list entry is still needed (the list only shrinks)', () => {
    expect(Object.keys(ALLOWED).filter((file) => !found.has(file))).toEqual([]);
  });

  it('the rule sees what it forbids', () => {
    expect(WRITES.test("db.insertInto('x')")).toBe(true);
    expect(READS.test("db.selectFrom('x')")).toBe(true);
    expect(RAW.test('sql`select 1`')).toBe(true);
    expect(RAW.test('sql<{ n: number }>`select 1`')).toBe(true);
    expect(RAW.test("pool.query('SELECT 1')")).toBe(true);
    expect(RAW.test('client.query(`LISTEN x`)')).toBe(true);
  });
});
