import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

describe('newId', () => {
  it('makes distinct ids of 26 base32 characters, across many refills of its random bytes', () => {
    const ids = Array.from({ length: 3000 }, () => newId('cb'));
    for (const id of ids) expect(id).toMatch(/^cb_[a-z2-7]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses every bit: each of the 26 characters takes many values', () => {
    const ids = Array.from({ length: 2000 }, () => newId('x').slice(2));
    for (let at = 0; at < 25; at++) expect(new Set(ids.map((id) => id[at])).size).toBe(32);
    // The last character holds the last 3 of the 128 bits and two zero bits of padding: 8 values.
    expect(new Set(ids.map((id) => id[25])).size).toBe(8);
  });
});
