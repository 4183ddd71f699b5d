/**
 * The identity policy, for token issuance and every callback: an identity is an opaque
 * pseudonym, never personal data (Twilio's own guidance) and never a privileged name.
 * ASCII letters, digits and `. _ - :`, 3 to 100 characters; not shaped like an e-mail address
 * or a phone number; not a reserved value or one of its prefixes, in any case.
 */
export type IdentityRejection = 'too-short' | 'too-long' | 'invalid-characters' | 'email-like' | 'phone-like' | 'reserved';

export type IdentityCheck = { readonly ok: true } | { readonly ok: false; readonly reason: IdentityRejection; readonly message: string };

/**
 * Names that could pass for the platform, Twilio, an automated or a privileged participant (the
 * README lists exactly these; a test compares the two). An identity that
 * starts with one of them (any case, after leading separators, digit look-alikes read as letters)
 * is refused: `Admin-1`, `system:x`, `twilio_bot`, `_root`, `adm1n`.
 */
export const RESERVED_IDENTITIES = [
  'admin',
  'administrator',
  'root',
  'system',
  'twilio',
  'support',
  'recorder',
  'recording',
  'operator',
  'moderator',
  'superuser',
  'staff',
  'service',
  'null',
  'undefined',
  'anonymous',
  'guest',
  'everyone',
  'roomgate',
  'webhook',
  'bot',
] as const;

export const IDENTITY_MIN_LENGTH = 3;
export const IDENTITY_MAX_LENGTH = 100;

const ALLOWED = /^[A-Za-z0-9._:-]+$/;

// Real addresses (refused for their shape even though `@` is also outside the alphabet), and the
// usual spellings that dodge the `@`: `jane_at_example.org`, `jane.doe.example.com`.
const EMAIL_ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const EMAIL_SPELLED = new RegExp(
  String.raw`^(mailto:)?[a-z0-9._-]+([._-]at[._-]|\.|\(at\)|\[at\])[a-z0-9-]+(\.[a-z0-9-]+)*\.` +
    String.raw`(com|org|net|edu|gov|mil|int|io|co|me|us|uk|ca|au|nz|ie|de|fr|nl|be|ch|at|es|it|pt|se|no|dk|fi|pl|info|biz|health|vet|email|mail)$`,
  'i',
);

// Seven or more digits, optionally `+` or `00` first, separated by spaces, dots, dashes,
// slashes or brackets, perhaps behind a scheme (`tel:`, `whatsapp:` — Twilio's address forms)
// and with an extension: national numbers, E.164, 00-prefixed international numbers.
const PHONE_SHAPE = /^((tel|sms|mms|phone|mobile|whatsapp|fax)[:._-]?)?\+?[\d\s.\-/()_:]+((x|ext\.?)\d{1,6})?$/i;
const PHONE_MIN_DIGITS = 7;

/**
 * Checks an identity against the policy; the reason is the most telling one (an e-mail address is
 * `email-like`, not merely `invalid-characters`).
 *
 * @example
 * checkIdentity('pt_7f3a9c')   // { ok: true }
 * checkIdentity('Admin-1')     // { ok: false, reason: 'reserved', message: 'identity must not be or start with a reserved name' }
 * checkIdentity('+14155551234') // { ok: false, reason: 'phone-like', ... }
 */
export function checkIdentity(identity: string): IdentityCheck {
  if (typeof identity !== 'string') return reject('invalid-characters', 'must be a string');
  if (identity.length < IDENTITY_MIN_LENGTH) return reject('too-short', `must be at least ${IDENTITY_MIN_LENGTH} characters`);
  if (identity.length > IDENTITY_MAX_LENGTH) return reject('too-long', `must be at most ${IDENTITY_MAX_LENGTH} characters`);
  // Shapes first, so an e-mail address or a formatted phone number is named as such.
  if (EMAIL_ADDRESS.test(identity) || EMAIL_SPELLED.test(identity)) return reject('email-like', 'must not look like an e-mail address');
  if (looksLikePhoneNumber(identity)) return reject('phone-like', 'must not look like a phone number');
  // ASCII only: refuses Unicode look-alikes (Cyrillic а), control, space and zero-width characters.
  if (!ALLOWED.test(identity)) return reject('invalid-characters', 'may hold only ASCII letters, digits and . _ - :');
  if (isReserved(identity)) return reject('reserved', 'must not be or start with a reserved name');
  return { ok: true };
}

function looksLikePhoneNumber(identity: string): boolean {
  if (!PHONE_SHAPE.test(identity)) return false;
  const digits = identity.replace(/(x|ext\.?)\d{1,6}$/i, '').replace(/\D/g, '');
  return digits.length >= PHONE_MIN_DIGITS;
}

function isReserved(identity: string): boolean {
  const bare = identity.replace(/^[._:-]+/, '').toLowerCase();
  // Digit look-alikes: `adm1n`, `r00t`, `sy5tem`, `nu11`. `1` reads as `i` or `l`.
  const spellings = new Set([bare, deLeet(bare, 'i'), deLeet(bare, 'l')]);
  return RESERVED_IDENTITIES.some((reserved) => [...spellings].some((spelling) => spelling.startsWith(reserved)));
}

function deLeet(text: string, one: 'i' | 'l'): string {
  return text.replace(/[013457]/g, (digit) => ({ '0': 'o', '1': one, '3': 'e', '4': 'a', '5': 's', '7': 't' })[digit] ?? digit);
}

function reject(reason: IdentityRejection, message: string): IdentityCheck {
  return { ok: false, reason, message: `identity ${message}` };
}
