import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { createTwilioVerifier } from '../core/signature/verifier.js';
import { verifyFetchRequest } from './fetch.js';

const TOKEN = 'fetch-token';
const secrets = [{ id: 'primary', algorithm: 'sha1' as const, secret: TOKEN }];
const PARAMS = {
  AccountSid: 'AC123',
  RoomSid: 'RM1',
  StatusCallbackEvent: 'room-ended',
  RoomDuration: '42',
  Timestamp: new Date().toISOString(),
};
const FORM = 'application/x-www-form-urlencoded';

function formRequest(url: string, signature: string | undefined, body = new URLSearchParams(PARAMS).toString()): Request {
  const headers = new Headers({ 'content-type': FORM });
  if (signature !== undefined) headers.set('x-twilio-signature', signature);
  return new Request(url, { method: 'POST', headers, body });
}

describe('verifyFetchRequest', () => {
  const url = 'https://hooks.example.com/webhooks/twilio/video?tenant=clinic-1';

  it('verifies a Request signed by twilio, and leaves its body readable', async () => {
    const request = formRequest(url, twilio.getExpectedTwilioSignature(TOKEN, url, PARAMS));
    expect(await verifyFetchRequest(request, { secrets })).toEqual({ ok: true, secretId: 'primary', params: Object.entries(PARAMS) });
    expect(await request.text()).toBe(new URLSearchParams(PARAMS).toString());
  });

  it('refuses forged, missing and tampered requests with the reason', async () => {
    expect(await verifyFetchRequest(formRequest(url, twilio.getExpectedTwilioSignature('nope', url, PARAMS)), { secrets })).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
      claimedAccountSid: 'AC123',
    });
    expect(await verifyFetchRequest(formRequest(url, undefined), { secrets })).toEqual({ ok: false, reason: 'missing-signature' });
    const tampered = formRequest(
      url,
      twilio.getExpectedTwilioSignature(TOKEN, url, PARAMS),
      new URLSearchParams({ ...PARAMS, RoomDuration: '43' }).toString(),
    );
    expect(await verifyFetchRequest(tampered, { secrets })).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });

  it('uses publicUrl when the host saw another origin (edge behind a proxy)', async () => {
    const signedUrl = 'https://api.example.com:8443/telehealth/webhooks/twilio/video?tenant=clinic-1';
    const internal = formRequest(
      'http://worker.internal/webhooks/twilio/video?tenant=clinic-1',
      twilio.getExpectedTwilioSignature(TOKEN, signedUrl, PARAMS),
    );
    expect(await verifyFetchRequest(internal, { secrets, publicUrl: 'https://api.example.com:8443/telehealth' })).toMatchObject({
      ok: true,
    });
    const again = formRequest(
      'http://worker.internal/webhooks/twilio/video?tenant=clinic-1',
      twilio.getExpectedTwilioSignature(TOKEN, signedUrl, PARAMS),
    );
    expect(await verifyFetchRequest(again, { secrets })).toMatchObject({ ok: false });
  });

  it('JSON body through bodySHA256, with a prepared verifier', async () => {
    const body = `{"event":"room-created","Timestamp":"${new Date().toISOString()}"}`;
    const jsonUrl = `https://hooks.example.com/cb?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(TOKEN, jsonUrl, {});
    const verifier = createTwilioVerifier({ secrets });
    const make = (text: string) =>
      new Request(jsonUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-twilio-signature': signature },
        body: text,
      });
    expect(await verifyFetchRequest(make(body), { verifier })).toEqual({
      ok: true,
      secretId: 'primary',
      params: [],
      json: JSON.parse(body),
    });
    expect(await verifyFetchRequest(make('{"event":"room-ended"}'), { verifier })).toEqual({ ok: false, reason: 'body-hash-mismatch' });
  });

  it('HMAC-SHA256 shared key named by the settings header', async () => {
    const shared = [{ id: 'shared:k1', algorithm: 'sha256' as const, keyId: 'k1', secret: 'shared-secret' }];
    const request = formRequest(url, twilio.getExpectedTwilioSignature('shared-secret', url, PARAMS, 'HMAC_SHA256'));
    request.headers.set('x-twilio-webhooks-signature-settings', 'key=k1,algorithm=HMAC_SHA256');
    expect(await verifyFetchRequest(request, { secrets: shared })).toMatchObject({ ok: true, secretId: 'shared:k1' });
  });

  it('refuses an oversized body without reading it', async () => {
    const request = new Request(url, {
      method: 'POST',
      headers: { 'content-type': FORM, 'content-length': '5000000', 'x-twilio-signature': 'x' },
      body: 'a=1',
    });
    expect(await verifyFetchRequest(request, { secrets, maxBodyBytes: 1024 })).toEqual({ ok: false, reason: 'malformed-body' });
  });

  it('refuses a genuine callback outside the replay window by default; the window is configurable or off', async () => {
    const signed = (timestamp: string) => {
      const params = { ...PARAMS, Timestamp: timestamp };
      return formRequest(url, twilio.getExpectedTwilioSignature(TOKEN, url, params), new URLSearchParams(params).toString());
    };
    const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    expect(await verifyFetchRequest(signed(minutesAgo(16)), { secrets })).toEqual({
      ok: false,
      reason: 'replay-too-old',
      claimedAccountSid: 'AC123',
    });
    expect(await verifyFetchRequest(signed(minutesAgo(-6)), { secrets })).toMatchObject({ ok: false, reason: 'timestamp-in-future' });
    const { Timestamp: _omitted, ...untimed } = PARAMS;
    const noTimestamp = formRequest(url, twilio.getExpectedTwilioSignature(TOKEN, url, untimed), new URLSearchParams(untimed).toString());
    expect(await verifyFetchRequest(noTimestamp, { secrets })).toMatchObject({ ok: false, reason: 'missing-timestamp' });
    expect(await verifyFetchRequest(signed(minutesAgo(16)), { secrets, replayWindow: { maxAgeMs: 20 * 60_000 } })).toMatchObject({
      ok: true,
    });
    expect(await verifyFetchRequest(signed(minutesAgo(6)), { secrets, replayWindow: { maxAgeMs: 5 * 60_000 } })).toMatchObject({
      reason: 'replay-too-old',
    });
    expect(await verifyFetchRequest(signed(minutesAgo(600)), { secrets, replayWindow: false })).toMatchObject({ ok: true });
    // A prepared verifier does not skip the window.
    expect(await verifyFetchRequest(signed(minutesAgo(16)), { verifier: createTwilioVerifier({ secrets }) })).toMatchObject({ ok: false });
  });
});
