/** Every scope a tenant API key can carry; each /v1 route names exactly one. */
export const SCOPES = [
  'consultations:read',
  'consultations:write',
  'tokens:issue',
  'recordings:read',
  'billing:read',
  'events:read',
  'privacy:erase',
  'audit:read',
  'keys:manage',
  'webhooks:manage',
  'settings:manage',
  'consents:write',
  /** Sign in to the console (/console); what it shows then needs each page's own scope. */
  'console:read',
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
