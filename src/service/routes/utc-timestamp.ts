import { HttpError } from '../errors.js';

/**
 * An RFC 3339 instant (already checked by the schema's `date-time` format) in the stored form —
 * UTC with milliseconds — so that comparing strings compares times. A date Date cannot
 * represent (e.g. month 13) is refused with 422 naming the field.
 */
export function toUtcTimestamp(value: string, field: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new HttpError('VALIDATION_FAILED', `${field} must be an RFC 3339 date-time`, { details: { field } });
  return new Date(time).toISOString();
}
