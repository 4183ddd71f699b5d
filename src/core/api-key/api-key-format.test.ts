import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_KEY_PREFIX, generateApiKey, parseApiKey } from './api-key-format.js';

describe('API key format', () => {
  it('generates keys with the prefix that parse back to the same lookup id and hash', () => {
    for (let i = 0; i < 100; i++) {
      const generated = generateApiKey(randomBytes);
      expect(generated.key.startsWith(API_KEY_PREFIX)).toBe(true);
      expect(generated.key).toHaveLength(58);
      expect(parseApiKey(generated.key)).toEqual({ ok: true, lookupId: generated.lookupId, secretHash: generated.secretHash });
    }
  });

  it('rejects every one-character typo by checksum, without a lookup', () => {
    const { key } = generateApiKey(randomBytes);
    fc.assert(
      fc.property(
        fc.integer({ min: API_KEY_PREFIX.length, max: key.length - 1 }),
        fc.constantFrom(...'0123456789abcXYZ'),
        (index, char) => {
          fc.pre(key[index] !== char);
          const typo = key.slice(0, index) + char + key.slice(index + 1);
          expect(parseApiKey(typo)).toEqual({ ok: false, reason: 'checksum' });
        },
      ),
      { numRuns: 500 },
    );
  });

  it.each([
    '',
    'rgk_',
    'Bearer x',
    'rgk_' + 'a'.repeat(53),
    'rgk_' + 'a'.repeat(55),
    'xyz_' + 'a'.repeat(54),
    'rgk_' + 'a'.repeat(53) + '!',
  ])('rejects malformed %j', (candidate) => {
    expect(parseApiKey(candidate)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never puts the secret in the stored hash', () => {
    const generated = generateApiKey(randomBytes);
    const secret = generated.key.slice(4 + 16, 4 + 16 + 32);
    expect(generated.secretHash).not.toContain(secret);
    expect(generated.secretHash).toMatch(/^[0-9a-f]{64}$/);
  });
});
