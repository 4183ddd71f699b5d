import { HttpError } from '../errors.js';

/** Where a newest-first page ended: the last row's creation time and id (ids break ties). */
export interface PageCursor {
  readonly createdAt: string;
  readonly id: string;
}

/** Opaque to clients: base64url of `[createdAt, id]`. */
export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

/** The cursor a client sent back, or VALIDATION_FAILED (422). */
export function decodeCursor(text: string): PageCursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new HttpError('VALIDATION_FAILED', 'cursor is not valid');
}

/**
 * A newest-first page from rows fetched with `limit + 1`: the first `limit` rows, and the cursor
 * after the last of them when the extra row shows that more follow.
 */
export function pageOf<Row>(rows: readonly Row[], limit: number, cursorOf: (last: Row) => PageCursor) {
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  return { pageRows, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null };
}
