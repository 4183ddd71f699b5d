/**
 * Every signature verifies with the reference implementation (the `standardwebhooks` package),
 * for any id, time, body and secret — with each secret of a rotation's overlap; a changed body,
 * id or timestamp, or a secret that did not sign, does not verify.
 */
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { isWebhookSecret, newWebhookSecret, signWebhook } from './standard-webhook-signature.js';

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
});
