/**
 * The identity policy, for token issuance and every callback: an identity is an opaque
 * pseudonym, never personal data (Twilio's own guidance) and never a privileged name.
 * ASCII letters, digits and `. _ - :`, 3 to 100 characters; not shaped like an e-mail address
 * or a phone number; not a reserved value or one of its prefixes, in any case.
 *
 * @example checkIdentity('pt_7f3a9c') → { ok: true }; checkIdentity('Admin-1').ok === false
 */
export type IdentityRejection = 'too-short' | 'too-long' | 'invalid-characters' | 'email-like' | 'phone-like' | 'reserved';

export type IdentityCheck = { readonly ok: true } | { readonly ok: false; readonly reason: IdentityRejection; readonly message: string };

export const RESERVED_IDENTITIES = [
  'admin',
  'administrator',
  'root',
  'system',
  'sys',
  'twilio',
  'support',
  'recorder',
  'operator',
  'moderator',
  'superuser',
  'staff',
  'service',
  'bot',
  'null',
  'undefined',
  'anonymous',
  'guest',
  'everyone',
  'roomgate',
] as const;

const MIN_LENGTH = 3;
const MAX_LENGTH = 100;
const ALLOWED = /^[A-Za-z0-9._:-]+$/;
const EMAIL_LIKE = /^[^@\s]+@[^@\s]+$|^[A-Za-z0-9._-]+(\.|_at_|-at-)[A-Za-z0-9-]+\.(com|org|net|edu|gov|io|co|uk|de|fr|nl|info)$/i;
// Seven or more digits, however separated: national numbers, E.164, 00-prefixed international.
const PHONE_LIKE = /^(\+|00)?[\d.\-:_]*$/;

export function checkIdentity(identity: string): IdentityCheck {
  if (identity.length < MIN_LENGTH) return reject('too-short', `must be at least ${MIN_LENGTH} characters`);
  if (identity.length > MAX_LENGTH) return reject('too-long', `must be at most ${MAX_LENGTH} characters`);
  if (!ALLOWED.test(identity)) return reject('invalid-characters', 'may hold only ASCII letters, digits and . _ - :');
  if (EMAIL_LIKE.test(identity)) return reject('email-like', 'must not look like an e-mail address');
  if (PHONE_LIKE.test(identity) && (identity.match(/\d/g)?.length ?? 0) >= 7) {
    return reject('phone-like', 'must not look like a phone number');
  }
  const lower = identity.toLowerCase();
  if (RESERVED_IDENTITIES.some((reserved) => lower.startsWith(reserved))) {
    return reject('reserved', 'must not be or start with a reserved name');
  }
  return { ok: true };
}

function reject(reason: IdentityRejection, message: string): IdentityCheck {
  return { ok: false, reason, message: `identity ${message}` };
}
