/**
 * The sandbox's rooms, participants, recordings, compositions and clock, kept in its data
 * directory (`sandbox-state.json`, mode 0600), so a restarted sandbox still knows the rooms
 * Roomgate created (no 409, no 404 for a room that was there). Written atomically (a temporary
 * file renamed over the old one) a moment after each change and on close.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export const SANDBOX_STATE_VERSION = 1;

/** Dates become `{ "$date": ISO }` on the way out and Dates again on the way in. */
export function writeStateFile(file: string, state: unknown): void {
  const text = JSON.stringify({ version: SANDBOX_STATE_VERSION, state: toPlain(state) });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}

/** The saved state, or undefined when there is none (a first start). Throws on a file that is not ours. */
export function readStateFile(file: string): unknown {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; state?: unknown };
  if (parsed.version !== SANDBOX_STATE_VERSION) throw new Error(`${file}: not a sandbox state file of version ${SANDBOX_STATE_VERSION}`);
  return fromPlain(parsed.state);
}

function toPlain(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof Map) return { $map: [...value.entries()].map(([k, v]) => [k, toPlain(v)]) };
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  return value;
}

function fromPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromPlain);
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$date === 'string') return new Date(record.$date);
    if (Array.isArray(record.$map)) return new Map((record.$map as [string, unknown][]).map(([k, v]) => [k, fromPlain(v)]));
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fromPlain(v)]));
  }
  return value;
}
