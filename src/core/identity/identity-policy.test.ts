import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkIdentity, IDENTITY_MAX_LENGTH, RESERVED_IDENTITIES, type IdentityRejection } from './identity-policy.js';

const GOOD = [
  'pt_7f3a9c',
  'clin-42',
  'owner:8812a',
  'a1b',
  'x'.repeat(IDENTITY_MAX_LENGTH),
  'vet.clin-9',
  'p-1234-56', // six digits: not a phone number
  '123456',
  'pt_550e8400-e29b-41d4-a716-446655440000', // a UUID holds long digit runs but is no phone number
  'clinician:3f9a',
  'Pet.Owner_77',
  'a.b.c',
  'rooms-user', // starts with "room", not "root"
];

const BAD: ReadonlyArray<readonly [string, IdentityRejection]> = [
  ['', 'too-short'],
  ['ab', 'too-short'],
  ['x'.repeat(IDENTITY_MAX_LENGTH + 1), 'too-long'],
  ['jane doe', 'invalid-characters'],
  ['pt 123', 'invalid-characters'],
  ['p\u0000x1', 'invalid-characters'],
  ['p\nx1', 'invalid-characters'],
  ['p\tx1', 'invalid-characters'],
  ['pt\u200b123', 'invalid-characters'], // zero-width space
  ['pt\u200d123', 'invalid-characters'], // zero-width joiner
  ['\ufeffpt123', 'invalid-characters'], // BOM
  ['p\u0430tient', 'invalid-characters'], // Cyrillic а
  ['\u0430dmin', 'invalid-characters'], // Cyrillic а posing as "admin"
  ['ｐatient', 'invalid-characters'], // full-width p
  ['patiént', 'invalid-characters'],
  ['pt/123', 'invalid-characters'],
  ['pt#123', 'invalid-characters'],
  ['pt%20x', 'invalid-characters'],
  ['<script>', 'invalid-characters'],
  ['jane@example.com', 'email-like'],
  ['JANE.DOE@Example.Org', 'email-like'],
  ['mailto:jane@example.com', 'email-like'],
  ['jane.doe.example.com', 'email-like'],
  ['jane_at_example.org', 'email-like'],
  ['jane-at-clinic.co.uk', 'email-like'],
  ['jane(at)example.com', 'email-like'],
  ['1234567', 'phone-like'],
  ['+14155551234', 'phone-like'],
  ['14155551234', 'phone-like'],
  ['415-555-1234', 'phone-like'],
  ['415.555.1234', 'phone-like'],
  ['(415) 555-1234', 'phone-like'],
  ['+1 415 555 1234', 'phone-like'],
  ['00441234567890', 'phone-like'],
  ['+44 20 7946 0958', 'phone-like'],
  ['tel:4155551234', 'phone-like'],
  ['whatsapp:+14155551234', 'phone-like'],
  ['415-555-1234x12', 'phone-like'],
  ['admin', 'reserved'],
  ['Admin-1', 'reserved'],
  ['ADMINISTRATOR', 'reserved'],
  ['ROOT', 'reserved'],
  ['system:x', 'reserved'],
  ['twilio_bot', 'reserved'],
  ['Twilio', 'reserved'],
  ['Support.desk', 'reserved'],
  ['recorder-1', 'reserved'],
  ['operator7', 'reserved'],
  ['moderator', 'reserved'],
  ['superuser', 'reserved'],
  ['null', 'reserved'],
  ['undefined', 'reserved'],
  ['anonymous', 'reserved'],
  ['_admin', 'reserved'], // leading separators do not hide a reserved name
  ['::system', 'reserved'],
  ['adm1n', 'reserved'], // digit look-alikes
  ['r00t', 'reserved'],
  ['nu11', 'reserved'],
  ['5upport', 'reserved'],
];

describe('identity policy', () => {
  it.each(GOOD)('accepts %j', (identity) => {
    expect(checkIdentity(identity)).toEqual({ ok: true });
  });

  it.each(BAD)('refuses %j as %s', (identity, reason) => {
    const result = checkIdentity(identity);
    expect(result).toMatchObject({ ok: false, reason });
    if (!result.ok) expect(result.message).toMatch(/^identity /);
  });

  it('refuses every reserved name and its prefixes, in any case', () => {
    for (const reserved of RESERVED_IDENTITIES) {
      for (const identity of [reserved, reserved.toUpperCase(), `${reserved}-x1`, `${reserved}:x`, `${reserved}_bot`]) {
        if (identity.length < 3) continue;
        expect(checkIdentity(identity), identity).toMatchObject({ ok: false, reason: 'reserved' });
      }
    }
  });

  it('refuses a non-string at run time instead of throwing', () => {
    expect(checkIdentity(42 as unknown as string)).toMatchObject({ ok: false, reason: 'invalid-characters' });
  });

  it('accepts only identities made of the policy alphabet, 3 to 100 characters', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 120, unit: 'binary' }), (identity) => {
        const result = checkIdentity(identity);
        if (result.ok) {
          expect(identity).toMatch(/^[A-Za-z0-9._:-]{3,100}$/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts random opaque pseudonyms of the platform form', () => {
    fc.assert(
      fc.property(fc.constantFrom('pt_', 'clin-', 'owner:', 'cg.'), fc.stringMatching(/^[a-f][0-9a-f]{5,15}$/), (prefix, hex) => {
        expect(checkIdentity(prefix + hex)).toEqual({ ok: true });
      }),
    );
  });
});
