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
