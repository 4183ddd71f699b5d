/**
 * Where does a string still occur? Every table the database's catalogue lists (Kysely's
 * introspection: sqlite_master / information_schema, so tables added later are scanned too),
 * every row, every column, searched as text; the SQLite files' raw bytes (main file, -wal,
 * -shm); and any captured log text. For erasure tests, and for any test that must prove a value
 * is gone.
 */
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Store } from '../../src/storage/store.js';

export interface DatabaseTrace {
  readonly table: string;
  readonly column: string;
  /** The row, for the failure message. */
  readonly row: Record<string, unknown>;
}

/** Every (table, column, row) whose value contains `needle` (as written, or escaped inside JSON text), in every table. */
export async function findInDatabase(store: Store, needle: string): Promise<DatabaseTrace[]> {
  const needles = [...new Set([needle, JSON.stringify(needle).slice(1, -1)])];
  const tables = await store.db.introspection.getTables({ withInternalKyselyTables: true });
  expectSomeTables(tables.length);
  const traces: DatabaseTrace[] = [];
  for (const table of tables) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table.name)}`.execute(store.db);
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (asText(value).some((text) => needles.some((n) => text.includes(n)))) traces.push({ table: table.name, column, row });
      }
    }
  }
  return traces;
}

/** The tables in which `needle` occurs (a short summary for assertions). */
export async function tablesContaining(store: Store, needle: string): Promise<string[]> {
  return [...new Set((await findInDatabase(store, needle)).map((trace) => `${trace.table}.${trace.column}`))].sort();
}

/** The SQLite database file and its -wal and -shm companions, for a `sqlite:PATH` URL. */
export function sqliteFiles(databaseUrl: string): string[] {
  const file = databaseUrl.replace(/^sqlite:/, '');
  return [file, `${file}-wal`, `${file}-shm`];
}

/** The files (of those given; missing ones are skipped) whose raw bytes contain `needle` in UTF-8 or UTF-16. */
export async function filesContaining(files: readonly string[], needle: string): Promise<string[]> {
  const patterns = [Buffer.from(needle, 'utf8'), Buffer.from(needle, 'utf16le')];
  const found: string[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (patterns.some((pattern) => bytes.includes(pattern))) found.push(file);
  }
  return found;
}

/** The lines of a captured log that contain `needle`, as written or JSON-escaped. */
export function logLinesContaining(logs: string, needle: string): string[] {
  const escaped = JSON.stringify(needle).slice(1, -1);
  return logs.split('\n').filter((line) => line.includes(needle) || line.includes(escaped));
}

function asText(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Buffer.isBuffer(value)) return [value.toString('utf8'), value.toString('latin1')];
  if (value instanceof Date) return [value.toISOString()];
  if (typeof value === 'object') return [JSON.stringify(value)];
  return [String(value)];
}

function expectSomeTables(count: number): void {
  // A scan of nothing proves nothing: the catalogue must have listed the schema.
  if (count === 0) throw new Error('the catalogue lists no tables: wrong database?');
}
