import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SID = 'AC0123456789abcdef0123456789abcdef';

describe('loadConfig', () => {
  it('has the contract defaults, frozen, and no accounts means sandbox mode', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'sqlite:./data/roomgate.db',
      publicUrl: undefined,
      accounts: [],
      apiKey: undefined,
      apiBaseUrl: 'https://video.twilio.com',
      webhookMaxAgeMs: 15 * 60_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(config.isTrustedProxy('127.0.0.1')).toBe(false);
  });

  it('reads the account, the previous token during a rotation, and the public URL', () => {
    const config = loadConfig({
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: 'current',
      TWILIO_AUTH_TOKEN_PREVIOUS: 'previous',
      ROOMGATE_PUBLIC_URL: 'https://API.example.com:8443/telehealth/',
      ROOMGATE_TRUST_PROXY: '10.0.0.0/8',
      ROOMGATE_WEBHOOK_MAX_AGE: '5m',
    });
    expect(config.accounts).toEqual([{ accountSid: SID, authTokens: ['current', 'previous'], sharedKeys: [] }]);
    expect(config.publicUrl).toBe('https://API.example.com:8443/telehealth');
    expect(config.isTrustedProxy('10.9.8.7')).toBe(true);
    expect(config.webhookMaxAgeMs).toBe(300_000);
  });

  it('reads several accounts from ROOMGATE_CONFIG', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'roomgate-config-')), 'accounts.json');
    writeFileSync(
      file,
      JSON.stringify({ accounts: [{ accountSid: SID, authTokens: ['a', 'b'], sharedKeys: [{ id: 'k1', secret: 's' }] }] }),
    );
    expect(loadConfig({ ROOMGATE_CONFIG: file }).accounts).toEqual([
      { accountSid: SID, authTokens: ['a', 'b'], sharedKeys: [{ id: 'k1', secret: 's' }] },
    ]);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ ROOMGATE_DATABASE_URL: 'oracle://db' }, 'ROOMGATE_DATABASE_URL'],
    [{ ROOMGATE_PUBLIC_URL: 'ftp://x' }, 'ROOMGATE_PUBLIC_URL'],
    [{ ROOMGATE_PUBLIC_URL: 'https://x/a?b=1' }, 'ROOMGATE_PUBLIC_URL'],
    [{ ROOMGATE_TRUST_PROXY: 'example.com' }, 'ROOMGATE_TRUST_PROXY'],
    [{ TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: 't' }, 'TWILIO_ACCOUNT_SID'],
    [{ TWILIO_ACCOUNT_SID: SID }, 'TWILIO_AUTH_TOKEN'],
    [{ TWILIO_AUTH_TOKEN: 't' }, 'TWILIO_ACCOUNT_SID'],
    [{ TWILIO_AUTH_TOKEN_PREVIOUS: 'p' }, 'TWILIO_AUTH_TOKEN_PREVIOUS'],
    [{ TWILIO_API_KEY_SID: 'SK1' }, 'TWILIO_API_KEY_SID'],
    [{ ROOMGATE_WEBHOOK_MAX_AGE: 'fifteen minutes' }, 'ROOMGATE_WEBHOOK_MAX_AGE'],
    [{ ROOMGATE_CONFIG: '/nonexistent/accounts.json' }, 'ROOMGATE_CONFIG'],
  ] as const)('refuses %j naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig({ ...env });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message.startsWith(`${variable}: `)).toBe(true);
  });
});
