/**
 * The WWW-Authenticate challenge of an auth failure (RFC 6750 §3): a 401 names the realm, and
 * `error="invalid_token"` when a credential was sent (a request without one gets no error code);
 * a 403 for a missing scope says `insufficient_scope` and which scope.
 */
import type { ErrorCode } from '../errors.js';

export function bearerChallenge(code: ErrorCode, authorization: string | undefined, scope: string | undefined): string | undefined {
  if (code === 'UNAUTHENTICATED') {
    return authorization === undefined || authorization.trim() === ''
      ? 'Bearer realm="roomgate"'
      : 'Bearer realm="roomgate", error="invalid_token"';
  }
  if (code === 'FORBIDDEN_SCOPE' && scope) return `Bearer realm="roomgate", error="insufficient_scope", scope="${scope}"`;
  return undefined;
}
