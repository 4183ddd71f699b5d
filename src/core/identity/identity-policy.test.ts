import { describe, expect, it } from 'vitest';
import { checkIdentity } from './identity-policy.js';

describe('identity policy', () => {
  it.each(['pt_7f3a9c', 'clin-42', 'owner:8812a', 'a1b', 'x'.repeat(100), 'vet.clin-9', 'p-1234-56'])('accepts %j', (identity) => {
    expect(checkIdentity(identity)).toEqual({ ok: true });
  });

  it.each([
    ['ab', 'too-short'],
    ['', 'too-short'],
    ['x'.repeat(101), 'too-long'],
    ['jane doe', 'invalid-characters'],
    ['p\u0000x1', 'invalid-characters'],
    ['p\nx1', 'invalid-characters'],
    ['pt\u200b123', 'invalid-characters'],
    ['p\u0430tient', 'invalid-characters'], // Cyrillic а
    ['ｐatient', 'invalid-characters'], // full-width p
    ['patiént', 'invalid-characters'],
    ['jane@example.com', 'invalid-characters'],
    ['jane.doe.example.com', 'email-like'],
    ['jane_at_example.org', 'email-like'],
    ['1234567', 'phone-like'],
    ['+14155551234', 'invalid-characters'],
    ['415-555-1234', 'phone-like'],
    ['00441234567890', 'phone-like'],
    ['415.555.1234', 'phone-like'],
    ['admin', 'reserved'],
    ['Admin-1', 'reserved'],
    ['ROOT', 'reserved'],
    ['system:x', 'reserved'],
    ['twilio_bot', 'reserved'],
    ['Support.desk', 'reserved'],
    ['recorder-1', 'reserved'],
    ['null', 'reserved'],
  ])('refuses %j as %s', (identity, reason) => {
    expect(checkIdentity(identity)).toMatchObject({ ok: false, reason });
  });
});
