/**
 * Calls to Roomgate's API with the session's bearer credential. A 401 signs the console out
 * (the key was revoked or expired); an unreachable API or a 503 raises the banner until a call
 * gets through again. Every failure reaches the caller too, as an ApiError with the API's code.
 */
import { clearSession, loadSession } from './session.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiHooks {
  signedOut(message: string): void;
  apiDown(down: boolean): void;
}

let hooks: ApiHooks = { signedOut: () => undefined, apiDown: () => undefined };
export const setApiHooks = (next: ApiHooks) => void (hooks = next);
export const setApiDown = (down: boolean) => hooks.apiDown(down);

/** Signs out once: a 401 and the stream's end for the same revoked key must not redraw the sign-in form being filled. */
export function signOut(message: string, credential?: string): void {
  const session = loadSession();
  // A late answer for a credential no longer in use (signed out, or someone else signed in) changes nothing.
  if (!session || (credential !== undefined && session.credential !== credential)) return;
  clearSession();
  hooks.signedOut(message);
}

export const REVOKED_MESSAGE = 'You were signed out: the API key was revoked or has expired.';

export async function call<T>(method: string, path: string, body?: unknown, credential = loadSession()?.credential): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(credential ? { authorization: `Bearer ${credential}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: 'no-store',
    });
  } catch {
    hooks.apiDown(true);
    throw new ApiError(0, 'API_UNREACHABLE', 'The Roomgate API cannot be reached.');
  }
  hooks.apiDown(response.status === 503 || response.status === 502 || response.status === 504);
  if (response.status === 202 || response.status === 204) return undefined as T;
  const answer = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (response.ok) return answer as T;
  const error = new ApiError(response.status, answer.error?.code ?? 'ERROR', answer.error?.message ?? `HTTP ${response.status}`);
  // Only an answer to the session's own kind of route speaks for its credential: a tenant page's
  // late request must not sign out an operator who signed in meanwhile (nor the reverse).
  const session = loadSession();
  const ownRoute = session !== undefined && path.startsWith('/v1/operator/') === (session.kind === 'operator');
  if (response.status === 401 && credential !== undefined && ownRoute) signOut(REVOKED_MESSAGE, credential);
  throw error;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, body ?? {});
export const del = <T>(path: string) => call<T>('DELETE', path);

/** Every page of a cursor list (up to `max` items). */
export async function all<T>(path: string, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page: { data: T[]; nextCursor: string | null } = await get(
      `${path}${separator}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}
