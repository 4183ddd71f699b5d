/**
 * Every signature verifies with the reference implementation (the `standardwebhooks` package),
 * for any id, time, body and secret — with each secret of a rotation's overlap; a changed body,
 * id or timestamp, or a secret that did not sign, does not verify.
 */
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { isWebhookSecret, newWebhookSecret, signWebhook, verifyWebhook } from './standard-webhook-signature.js';

const messageId = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
const body = fc.json();

describe('Standard Webhooks signatures', () => {
  it('verify with the reference implementation, with every secret of the overlap', () => {
    fc.assert(
      fc.property(messageId, body, fc.integer({ min: 1, max: 3 }), (id, payload, secretCount) => {
        const secrets = Array.from({ length: secretCount }, newWebhookSecret);
        const now = Math.floor(Date.now() / 1000);
        const headers = signWebhook(id, now, payload, secrets);
        expect(headers['webhook-signature'].split(' ')).toHaveLength(secretCount);
        for (const secret of secrets) expect(new Webhook(secret).verify(payload, { ...headers })).toEqual(JSON.parse(payload));
        expect(() => new Webhook(newWebhookSecret()).verify(payload, { ...headers })).toThrow();
        expect(() => new Webhook(secrets[0]!).verify(`${payload} `, { ...headers })).toThrow();
        expect(() => new Webhook(secrets[0]!).verify(payload, { ...headers, 'webhook-id': `${id}x` })).toThrow();
        expect(() => new Webhook(secrets[0]!).verify(payload, { ...headers, 'webhook-timestamp': String(now + 1) })).toThrow();
      }),
      { numRuns: 60 },
    );
  });

  it('makes whsec_ secrets of 32 random bytes and refuses what is not one', () => {
    const secret = newWebhookSecret();
    expect(isWebhookSecret(secret)).toBe(true);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
    for (const bad of ['', 'whsec_', 'sk_abc', 'whsec_!!!!', `whsec_${Buffer.alloc(8).toString('base64')}`]) {
      expect(isWebhookSecret(bad)).toBe(false);
    }
    expect(() => signWebhook('id', 1, '{}', [])).toThrow();
    expect(() => signWebhook('a.b', 1, '{}', [secret])).toThrow();
  });

  it('verifies what the reference implementation signs, and refuses a change of body, id, time, secret or an old timestamp', () => {
    fc.assert(
      fc.property(messageId, body, (id, payload) => {
        const secret = newWebhookSecret();
        const at = new Date(1_764_460_000_000);
        const signature = new Webhook(secret).sign(id, at, payload);
        const headers = { 'webhook-id': id, 'webhook-timestamp': String(at.getTime() / 1000), 'webhook-signature': signature };
        const now = at.getTime() / 1000 + 10;
        expect(verifyWebhook(payload, headers, [secret], now)).toBe(true);
        expect(verifyWebhook(payload, headers, [newWebhookSecret(), secret], now)).toBe(true);
        expect(verifyWebhook(`${payload} `, headers, [secret], now)).toBe(false);
        expect(verifyWebhook(payload, { ...headers, 'webhook-id': `${id}x` }, [secret], now)).toBe(false);
        expect(verifyWebhook(payload, { ...headers, 'webhook-timestamp': String(at.getTime() / 1000 + 1) }, [secret], now + 1)).toBe(false);
        expect(verifyWebhook(payload, headers, [newWebhookSecret()], now)).toBe(false);
        expect(verifyWebhook(payload, headers, [secret], now + 301)).toBe(false);
        expect(verifyWebhook(payload, { ...headers, 'webhook-signature': '' }, [secret], now)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});
