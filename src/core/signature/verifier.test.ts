import { describe, expect, it, vi } from 'vitest';
import { bodySha256Hex, computeTwilioSignature, type FormParam } from './twilio-signature.js';
import { createTwilioVerifier, MAX_HMACS, type SigningSecret } from './verifier.js';

// The reference vectors of shared/twilio-reference.md.
const TOKEN = '12345';
const BASE = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS: FormParam[] = [
  ['CallSid', 'CA1234567890ABCDE'],
  ['Caller', '+14158675309'],
  ['Digits', '1234'],
  ['From', '+14158675309'],
  ['To', '+18005551212'],
];
const FORM = 'application/x-www-form-urlencoded';
const form = (params: readonly FormParam[]) => Buffer.from(new URLSearchParams(params as [string, string][]).toString());
const verifier = createTwilioVerifier({ secrets: [{ id: 'primary', algorithm: 'sha1', secret: TOKEN }] });

describe('reference vectors', () => {
  it.each([
    ['as given', BASE, PARAMS, 'RSOYDt4T1cUTdK1PDd93/VVr8B8='],
    ['with :443', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', PARAMS, 'kvajT1Ptam85bY51eRf/AJRuM3w='],
    ['http with :80', 'http://mycompany.com:80/myapp.php?foo=1&bar=2', PARAMS, '0ZXoZLH/DfblKGATFgpif+LLRf4='],
    ['http with :1234', 'http://mycompany.com:1234/myapp.php?foo=1&bar=2', PARAMS, 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU='],
    ['https with :1234', 'https://mycompany.com:1234/myapp.php?foo=1&bar=2', PARAMS, 'CYn1h0gLBdNxDGkKJg6hYohgeD8='],
    ['upper-case host', 'https://MyCompany.com/myapp.php?foo=1&bar=2', PARAMS, 'g9IN/x4Cft2g517EjYvEvM/W7LU='],
    [
      'repeated key',
      BASE,
      [
        ['MessagingBinding.Address', '+1325xxxxxxx'],
        ['MessagingBinding.Address', '+1415xxxxxxx'],
      ],
      '83O6e2vORAoJHUNzJjDWN1jz+BA=',
    ],
    [
      'repeated values, duplicates once',
      BASE,
      [
        ['Sid', 'CA123'],
        ['SidAccount', 'AC123'],
        ['Digits', '5678'],
        ['Digits', '1234'],
        ['Digits', '1234'],
      ],
      'IK+Dwps556ElfBT0I3Rgjkr1wJU=',
    ],
  ] as const)('%s: signs and verifies', (_name, url, params, signature) => {
    expect(computeTwilioSignature(TOKEN, url, params)).toBe(signature);
    expect(verifier.verify({ url, signature, contentType: FORM, body: form(params) })).toMatchObject({ ok: true, secretId: 'primary' });
  });

  it('accepts the URL signed without the port when received with it, and the reverse', () => {
    const withPort = 'https://mycompany.com:443/myapp.php?foo=1&bar=2';
    expect(verifier.verify({ url: withPort, signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', contentType: FORM, body: form(PARAMS) }).ok).toBe(
      true,
    );
    expect(verifier.verify({ url: BASE, signature: 'kvajT1Ptam85bY51eRf/AJRuM3w=', contentType: FORM, body: form(PARAMS) }).ok).toBe(true);
  });

  it('JSON body through bodySHA256', () => {
    const body = Buffer.from('{"property": "value", "boolean": true}');
    expect(bodySha256Hex(body)).toBe('0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620');
    const url = `https://mycompany.com/myapp.php?bodySHA256=${bodySha256Hex(body)}`;
    expect(computeTwilioSignature(TOKEN, url, [])).toBe('y77kIzt2vzLz71DgmJGsen2scGs=');
    const result = verifier.verify({ url, signature: 'y77kIzt2vzLz71DgmJGsen2scGs=', contentType: 'application/json', body });
    expect(result).toMatchObject({ ok: true, json: { property: 'value', boolean: true } });
    const tampered = Buffer.from('{"property": "value", "boolean": false}');
    expect(verifier.verify({ url, signature: 'y77kIzt2vzLz71DgmJGsen2scGs=', contentType: 'application/json', body: tampered })).toEqual({
      ok: false,
      reason: 'body-hash-mismatch',
    });
  });
});

describe('failure reasons', () => {
  const good = { url: BASE, signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', contentType: FORM, body: form(PARAMS) };

  it.each([
    ['missing-signature', { signature: undefined }],
    ['missing-signature', { signature: '' }],
    ['malformed-signature', { signature: 'not base64!' }],
    ['malformed-signature', { signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B8' }],
    ['malformed-signature', { signature: Buffer.alloc(32).toString('base64') }],
    ['unsupported-content-type', { contentType: 'text/plain' }],
    ['unsupported-content-type', { contentType: undefined }],
    ['malformed-body', { body: Buffer.from('a=%ZZ') }],
    ['malformed-body', { body: Buffer.from([0x61, 0x3d, 0xff]) }],
    ['signature-mismatch', { signature: 'kvajT1Ptam85bY51eRf/AJRuM3w='.replace('k', 'K') }],
    ['malformed-signature', { signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B9=' }], // same bytes, non-canonical padding bits
    ['signature-mismatch', { body: form([...PARAMS.slice(0, 4), ['To', '+18005551213']]) }],
    ['signature-mismatch', { url: 'http://mycompany.com/myapp.php?foo=1&bar=2' }],
    ['malformed-signature', { signatureSettings: 'key=k1,algorithm=HMAC_MD5' }],
  ] as const)('%s for %j', (reason, change) => {
    expect(verifier.verify({ ...good, ...change })).toMatchObject({ ok: false, reason });
  });

  it('picks the secret by AccountSid, refusing an unknown account without any HMAC', () => {
    const a = 'AC' + 'a'.repeat(32);
    const b = 'AC' + 'b'.repeat(32);
    const scoped = createTwilioVerifier({
      secrets: [
        { id: `${a}/primary`, accountSid: a, algorithm: 'sha1', secret: 'token-a' },
        { id: `${b}/primary`, accountSid: b, algorithm: 'sha1', secret: 'token-b' },
      ],
    });
    const params: FormParam[] = [
      ['AccountSid', b],
      ['RoomSid', 'RM1'],
    ];
    const signature = computeTwilioSignature('token-b', BASE, params);
    expect(scoped.verify({ url: BASE, signature, contentType: FORM, body: form(params) })).toMatchObject({
      ok: true,
      secretId: `${b}/primary`,
    });
    const stranger: FormParam[] = [['AccountSid', 'AC' + 'c'.repeat(32)]];
    expect(scoped.verify({ url: BASE, signature, contentType: FORM, body: form(stranger) })).toEqual({
      ok: false,
      reason: 'unknown-account',
      claimedAccountSid: 'AC' + 'c'.repeat(32),
    });
  });

  it('accepts the previous token during a rotation and says which one matched', () => {
    const rotating = createTwilioVerifier({
      secrets: [
        { id: 'primary', algorithm: 'sha1', secret: 'new-token' },
        { id: 'previous', algorithm: 'sha1', secret: TOKEN },
      ],
    });
    expect(rotating.verify(good)).toMatchObject({ ok: true, secretId: 'previous' });
  });

  it('verifies HMAC-SHA256 with the shared key the settings header names', () => {
    const shared: SigningSecret = { id: 'shared:k1', algorithm: 'sha256', keyId: 'k1', secret: 'shared-secret' };
    const v = createTwilioVerifier({ secrets: [{ id: 'primary', algorithm: 'sha1', secret: TOKEN }, shared] });
    const signature = computeTwilioSignature('shared-secret', BASE, PARAMS, 'sha256');
    const request = { url: BASE, signature, contentType: FORM, body: form(PARAMS), signatureSettings: 'key=k1,algorithm=HMAC_SHA256' };
    expect(v.verify(request)).toMatchObject({ ok: true, secretId: 'shared:k1' });
    expect(v.verify({ ...request, signatureSettings: 'key=k2,algorithm=HMAC_SHA256' })).toMatchObject({ ok: false, reason: 'unknown-key' });
    // A SHA-1 signature is not accepted where SHA-256 is announced.
    expect(v.verify({ ...good, signatureSettings: 'key=k1,algorithm=HMAC_SHA256' })).toMatchObject({
      ok: false,
      reason: 'malformed-signature',
    });
  });

  it(`costs at most ${MAX_HMACS} HMACs however many secrets are configured`, async () => {
    let count = 0;
    vi.resetModules();
    vi.doMock('node:crypto', async () => {
      const actual = await vi.importActual<typeof import('node:crypto')>('node:crypto');
      return { ...actual, createHmac: (...args: Parameters<typeof actual.createHmac>) => (count++, actual.createHmac(...args)) };
    });
    const fresh = await import('./verifier.js');
    vi.doUnmock('node:crypto');
    const secrets = Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, algorithm: 'sha1' as const, secret: `token-${i}` }));
    const bounded = fresh.createTwilioVerifier({ secrets });
    expect(bounded.verify(good)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
    expect(count).toBe(MAX_HMACS);
  });

  it('scopes shared keys by AccountSid too; SHA-1 shared keys as twilio-node allows', () => {
    const a = 'AC' + 'a'.repeat(32);
    const v = createTwilioVerifier({
      secrets: [
        { id: `${a}/primary`, accountSid: a, algorithm: 'sha1', secret: TOKEN },
        { id: `${a}/shared:k1`, accountSid: a, algorithm: 'sha256', keyId: 'k1', secret: 'shared-secret' },
        { id: 'shared:k2', algorithm: 'sha1', keyId: 'k2', secret: 'sha1-shared' },
      ],
    });
    const params: FormParam[] = [
      ['AccountSid', a],
      ['RoomSid', 'RM1'],
    ];
    const signature = computeTwilioSignature('shared-secret', BASE, params, 'sha256');
    const request = { url: BASE, signature, contentType: FORM, body: form(params), signatureSettings: 'key=k1,algorithm=HMAC_SHA256' };
    expect(v.verify(request)).toMatchObject({ ok: true, secretId: `${a}/shared:k1` });
    const other: FormParam[] = [
      ['AccountSid', 'AC' + 'b'.repeat(32)],
      ['RoomSid', 'RM1'],
    ];
    expect(v.verify({ ...request, body: form(other) })).toMatchObject({ ok: false, reason: 'unknown-account' });
    // A key announced without its algorithm, or with HMAC_SHA1, is a SHA-1 shared key.
    const sha1 = computeTwilioSignature('sha1-shared', BASE, params);
    expect(v.verify({ ...request, signature: sha1, signatureSettings: 'key=k2' })).toMatchObject({ ok: true, secretId: 'shared:k2' });
    expect(v.verify({ ...request, signature: sha1, signatureSettings: 'key=k2,algorithm=HMAC_SHA1' })).toMatchObject({
      ok: true,
      secretId: 'shared:k2',
    });
    // HMAC_SHA256 without a key names no key.
    expect(v.verify({ ...request, signatureSettings: 'algorithm=HMAC_SHA256' })).toMatchObject({ ok: false, reason: 'unknown-key' });
    // algorithm=HMAC_SHA1 alone is the auth token.
    const byToken = computeTwilioSignature(TOKEN, BASE, params);
    expect(v.verify({ ...request, signature: byToken, signatureSettings: 'algorithm=HMAC_SHA1' })).toMatchObject({
      ok: true,
      secretId: `${a}/primary`,
    });
  });

  it('JSON: a URL without a well-formed bodySHA256, or a body that is not JSON', () => {
    const body = Buffer.from('{"a":1}');
    const noHash = { url: BASE, signature: computeTwilioSignature(TOKEN, BASE, []), contentType: 'application/json', body };
    expect(verifier.verify(noHash)).toEqual({ ok: false, reason: 'body-hash-mismatch' });
    const notJson = Buffer.from('{"a":');
    const url = `${BASE}&bodySHA256=${bodySha256Hex(notJson)}`;
    const signed = {
      url,
      signature: computeTwilioSignature(TOKEN, url, []),
      contentType: 'application/json; charset=utf-8',
      body: notJson,
    };
    expect(verifier.verify(signed)).toEqual({ ok: false, reason: 'malformed-body' });
  });

  it('refuses bad configuration at construction', () => {
    expect(() => createTwilioVerifier({ secrets: [{ id: 'empty', algorithm: 'sha1', secret: '' }] })).toThrow("'empty' is empty");
    expect(() => createTwilioVerifier({ secrets: [{ id: 'x', algorithm: 'md5' as never, secret: 's' }] })).toThrow('unknown algorithm');
    expect(() => createTwilioVerifier({ secrets: [{ id: 'y', algorithm: 'sha256', secret: 's' }] })).toThrow('needs its keyId');
  });

  it('HMAC count by construction: 1 for a valid request, 2 for a forged one on a plain URL, 0 before the shape check', async () => {
    let count = 0;
    vi.resetModules();
    vi.doMock('node:crypto', async () => {
      const actual = await vi.importActual<typeof import('node:crypto')>('node:crypto');
      return { ...actual, createHmac: (...args: Parameters<typeof actual.createHmac>) => (count++, actual.createHmac(...args)) };
    });
    const fresh = await import('./verifier.js');
    vi.doUnmock('node:crypto');
    const v = fresh.createTwilioVerifier({ secrets: [{ id: 'primary', algorithm: 'sha1', secret: TOKEN }] });
    const measure = (request: typeof good) => ((count = 0), v.verify(request), count);
    expect(measure(good)).toBe(1);
    expect(measure({ ...good, signature: 'kvajT1Ptam85bY51eRf/AJRuM3w=' })).toBe(2); // the port variant matched
    expect(measure({ ...good, signature: Buffer.alloc(20).toString('base64') })).toBe(2); // as received, port variant; URL() form is the same
    expect(measure({ ...good, url: "https://MyCompany.com/myapp.php?foo='", signature: Buffer.alloc(20).toString('base64') })).toBe(4);
    expect(measure({ ...good, signature: 'not base64!' })).toBe(0);
    const scoped = fresh.createTwilioVerifier({ secrets: [{ id: 'a', accountSid: 'AC1', algorithm: 'sha1', secret: TOKEN }] });
    count = 0;
    expect(scoped.verify({ ...good, body: form([['AccountSid', 'AC2']]) })).toMatchObject({ reason: 'unknown-account' });
    expect(count).toBe(0);
  });
});
