/**
 * The Express baseline's own table, on its own database: not Roomgate's schema, so not a
 * Roomgate repository — the naive handler under comparison writes and counts it itself.
 */
/** Rows the Express baseline stored (its own table, on its own database). */
export async function baselineCount(url: string): Promise<number> {
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      return Number((db.prepare('SELECT count(*) AS n FROM callbacks').get() as { n: number }).n);
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM baseline_callbacks')).rows[0]!.n);
  } finally {
    await client.end();
  }
}
