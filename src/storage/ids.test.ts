import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

describe('newId', () => {
  it('makes distinct ids of 26 base32 characters, across many refills of its random bytes', () => {
    const ids = Array.from({ length: 3000 }, () => newId('cb'));
    for (const id of ids) expect(id).toMatch(/^cb_[a-z2-7]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses every random bit: each of the last 16 characters takes all 32 values', () => {
    const ids = Array.from({ length: 2000 }, () => newId('x').slice(2));
    for (let at = 10; at < 26; at++) expect(new Set(ids.map((id) => id[at])).size).toBe(32);
  });

  it('sorts as the time it was made, across every digit of the time part', () => {
    const realNow = Date.now;
    try {
      // Times whose base-32 digits take every value, each later than the one before.
      const times = Array.from({ length: 500 }, (_, index) => 1_700_000_000_000 + index * 7_919_993 + (index % 32));
      const ids = times.map((time) => {
        Date.now = () => time;
        return newId('x');
      });
      expect([...ids].sort()).toEqual(ids);
      Date.now = () => times[0]!;
      expect(newId('x').slice(0, 12)).toBe(ids[0]!.slice(0, 12));
    } finally {
      Date.now = realNow;
    }
  });
});
