/**
 * Who is signed in. The credential lives in memory and in sessionStorage (this tab, until it
 * closes) — never localStorage, never a cookie: it is gone when the browser session ends.
 */
export interface Session {
  readonly kind: 'tenant' | 'operator';
  readonly credential: string;
  /** The tenant's slug and the key's scopes (tenant sessions). */
  readonly tenant?: string;
  readonly scopes: readonly string[];
}

const KEY = 'roomgate-console-session';
let current: Session | undefined;

export function loadSession(): Session | undefined {
  if (current) return current;
  try {
    const stored = sessionStorage.getItem(KEY);
    current = stored ? (JSON.parse(stored) as Session) : undefined;
  } catch {
    current = undefined;
  }
  return current;
}

export function saveSession(session: Session): void {
  current = session;
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage refused (private mode): the session lasts as long as the page.
  }
}

export function clearSession(): void {
  current = undefined;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

export const can = (session: Session, scope: string) => session.scopes.includes(scope);
