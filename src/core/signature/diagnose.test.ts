import { describe, expect, it } from 'vitest';
import { diagnoseSignature } from './diagnose.js';
import { bodySha256Hex, computeTwilioSignature, type FormParam } from './twilio-signature.js';

const TOKEN = 'token-123';
const secrets = [{ id: 'cli', algorithm: 'sha1' as const, secret: TOKEN }];
const PARAMS: FormParam[] = [
  ['AccountSid', 'AC1'],
  ['RoomSid', 'RM1'],
  ['StatusCallbackEvent', 'room-created'],
];
const SIGNED = "https://Api.Example.com/telehealth/webhooks/twilio/video?tenant=o'brien";
const signature = computeTwilioSignature(TOKEN, SIGNED, PARAMS);
const diagnose = (url: string, params: readonly FormParam[] = PARAMS, extra: object = {}) =>
  diagnoseSignature({ url, params, signature, secrets, ...extra });

describe('diagnoseSignature', () => {
  it('matches the URL as signed, and its port variant', () => {
    expect(diagnose(SIGNED)).toEqual({ match: true, secretId: 'cli', url: SIGNED });
    expect(diagnose(SIGNED.replace('.com/', '.com:443/'))).toMatchObject({ match: true, url: SIGNED });
  });

  it.each([
    ['scheme', SIGNED.replace('https:', 'http:')],
    ['scheme', SIGNED.replace('https:', 'http:').replace('.com/', '.com:80/')],
    ['path-prefix', SIGNED.replace('.com/', '.com/internal/')],
    ['path-prefix', SIGNED.replace('/video?', '/video/?')],
    ['query-encoding', SIGNED.replace("o'brien", 'o%27brien')],
    ['query-encoding', SIGNED.replace('?', '%3F')],
  ] as const)('names %s for %s', (cause, url) => {
    const result = diagnose(url);
    expect(result).toMatchObject({ match: false, likelyCause: cause, matchingUrl: SIGNED });
  });

  it('names port when Twilio signed a non-standard port the server did not see', () => {
    const signedWithPort = SIGNED.replace('.com/', '.com:8443/');
    const result = diagnoseSignature({
      url: SIGNED,
      params: PARAMS,
      signature: computeTwilioSignature(TOKEN, signedWithPort, PARAMS),
      secrets,
    });
    expect(result).toMatchObject({ match: false, likelyCause: 'port', matchingUrl: signedWithPort });
  });

  it('names host when the server saw the host in another case than Twilio signed', () => {
    const lower = SIGNED.replace('Api.Example', 'api.example');
    const result = diagnoseSignature({ url: SIGNED, params: PARAMS, signature: computeTwilioSignature(TOKEN, lower, PARAMS), secrets });
    expect(result).toMatchObject({ match: false, likelyCause: 'host', matchingUrl: lower });
  });

  it('names path-prefix for a prefix the proxy stripped, from the hints', () => {
    const stripped = SIGNED.replace('/telehealth', '');
    expect(diagnose(stripped)).toMatchObject({ likelyCause: 'token' });
    expect(diagnose(stripped, PARAMS, { prefixHints: ['/telehealth'] })).toMatchObject({
      match: false,
      likelyCause: 'path-prefix',
      matchingUrl: SIGNED,
    });
  });

  it('finds a parameter added after signing, or a + turned into a space', () => {
    expect(diagnose(SIGNED, [...PARAMS, ['Extra', 'x']])).toMatchObject({
      match: false,
      likelyCause: 'parameters',
      explanation: expect.stringContaining("'Extra'"),
    });
    const plus: FormParam[] = [['To', '+1415']];
    const sig = computeTwilioSignature(TOKEN, SIGNED, plus);
    expect(diagnoseSignature({ url: SIGNED, params: [['To', ' 1415']], signature: sig, secrets })).toMatchObject({
      likelyCause: 'parameters',
    });
  });

  it('says token when nothing matches, unknown for a malformed signature', () => {
    expect(
      diagnoseSignature({ url: SIGNED, params: PARAMS, signature, secrets: [{ id: 'cli', algorithm: 'sha1', secret: 'other' }] }),
    ).toMatchObject({ match: false, likelyCause: 'token' });
    expect(diagnoseSignature({ url: SIGNED, params: PARAMS, signature: 'abc', secrets })).toMatchObject({
      match: false,
      likelyCause: 'unknown',
    });
  });

  it('reads a form or JSON body, adding bodySHA256 to the URL when missing', () => {
    const form = Buffer.from(new URLSearchParams(PARAMS as [string, string][]).toString());
    expect(diagnoseSignature({ url: SIGNED, body: form, signature, secrets })).toMatchObject({ match: true });
    const json = Buffer.from('{"property": "value", "boolean": true}');
    const url = `https://mycompany.com/myapp.php?bodySHA256=${bodySha256Hex(json)}`;
    const jsonSignature = computeTwilioSignature(TOKEN, url, []);
    expect(diagnoseSignature({ url: 'https://mycompany.com/myapp.php', body: json, signature: jsonSignature, secrets })).toEqual({
      match: true,
      secretId: 'cli',
      url,
    });
    expect(diagnoseSignature({ url, body: Buffer.from('{"property": "other"}'), signature: jsonSignature, secrets })).toMatchObject({
      likelyCause: 'parameters',
    });
  });

  it('never includes the signature or the token in its output', () => {
    for (const url of [SIGNED, SIGNED.replace('https:', 'http:'), 'https://elsewhere.test/x']) {
      for (const secret of [TOKEN, 'wrong-token']) {
        const text = JSON.stringify(
          diagnoseSignature({ url, params: PARAMS, signature, secrets: [{ id: 'cli', algorithm: 'sha1', secret }] }),
        );
        expect(text).not.toContain(signature);
        expect(text).not.toContain(secret);
      }
    }
  });
});
