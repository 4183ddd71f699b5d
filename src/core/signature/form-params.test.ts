import { describe, expect, it } from 'vitest';
import { MalformedBodyError, parseFormBody, readFormBody } from './form-params.js';

const parse = (body: string | Buffer) => parseFormBody(typeof body === 'string' ? Buffer.from(body) : body);

describe('parseFormBody', () => {
  it('decodes + and percent-escapes, keeps order and repeated keys', () => {
    expect(parse('a=1&b=x+y&a=%C3%A9&c=%2B1415&d=%25')).toEqual([
      ['a', '1'],
      ['b', 'x y'],
      ['a', 'é'],
      ['c', '+1415'],
      ['d', '%'],
    ]);
  });

  it('handles empty bodies, empty pairs, missing = and empty keys or values', () => {
    expect(parse('')).toEqual([]);
    expect(parse('a&&b=&=c&d=e=f')).toEqual([
      ['a', ''],
      ['b', ''],
      ['', 'c'],
      ['d', 'e=f'],
    ]);
  });

  it('keeps raw UTF-8 and astral characters; lowercase hex is fine', () => {
    expect(parse('k=😀&%f0%9f%98%80=%e4%b8%ad')).toEqual([
      ['k', '😀'],
      ['😀', '中'],
    ]);
  });

  it('agrees with URLSearchParams on what it accepts', () => {
    const body = 'AccountSid=AC1&Timestamp=2026-11-29T01%3A02%3A03Z&Body=caf%C3%A9+%26+co&Body=x';
    expect(parse(body)).toEqual([...new URLSearchParams(body)]);
  });

  it.each([
    ['a=%ZZ', 'BODY_BAD_PERCENT_ESCAPE'],
    ['a=%4', 'BODY_BAD_PERCENT_ESCAPE'],
    ['a=%', 'BODY_BAD_PERCENT_ESCAPE'],
    ['a=%FF', 'BODY_BAD_PERCENT_ESCAPE'], // not UTF-8
    ['a=%ED%A0%80', 'BODY_BAD_PERCENT_ESCAPE'], // an encoded surrogate
    ['a=%C3', 'BODY_BAD_PERCENT_ESCAPE'], // truncated sequence
  ])('refuses %s with %s', (body, code) => {
    expect(() => parse(body)).toThrow(MalformedBodyError);
    expect(() => parse(body)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses a body that is not UTF-8 (no U+FFFD substitution)', () => {
    expect(() => parse(Buffer.from([0x61, 0x3d, 0xff]))).toThrow(expect.objectContaining({ code: 'BODY_NOT_UTF8' }));
    expect(() => parse(Buffer.from([0x61, 0x3d, 0xc0, 0xaf]))).toThrow(expect.objectContaining({ code: 'BODY_NOT_UTF8' })); // overlong '/'
  });

  it('reports which characters occur', () => {
    expect(readFormBody(Buffer.from('a=%3A'))).toMatchObject({ ascii: true, highCodeUnits: false });
    expect(readFormBody(Buffer.from('a=%C3%A9'))).toMatchObject({ ascii: false, highCodeUnits: false });
    expect(readFormBody(Buffer.from('a=\uFF01'))).toMatchObject({ ascii: false, highCodeUnits: true });
    expect(readFormBody(Buffer.from('a=%F0%9F%98%80'))).toMatchObject({ ascii: false, highCodeUnits: true });
  });

  it('stays linear on hostile shapes (a million pairs without =)', () => {
    const body = Buffer.from('a&'.repeat(500_000) + 'b=1');
    const started = performance.now();
    const params = parse(body);
    expect(params).toHaveLength(500_001);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
