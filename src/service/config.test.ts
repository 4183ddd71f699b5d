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

  it('has limits for slow senders, live streams and WebSocket frames, each configurable', () => {
    expect(loadConfig({})).toMatchObject({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      streamsPerKey: 10,
      streamsPerTenant: 100,
      wsMaxPayloadBytes: 4096,
      trustProxyHeaders: 'x-forwarded',
    });
    expect(
      loadConfig({
        ROOMGATE_HEADERS_TIMEOUT: '2s',
        ROOMGATE_REQUEST_TIMEOUT: '5s',
        ROOMGATE_STREAMS_PER_KEY: '3',
        ROOMGATE_STREAMS_PER_TENANT: '7',
        ROOMGATE_WS_MAX_PAYLOAD: '1024',
        ROOMGATE_TRUST_PROXY_HEADERS: 'Forwarded',
      }),
    ).toMatchObject({
      headersTimeoutMs: 2000,
      requestTimeoutMs: 5000,
      streamsPerKey: 3,
      streamsPerTenant: 7,
      wsMaxPayloadBytes: 1024,
      trustProxyHeaders: 'forwarded',
    });
  });

  it('outside sandbox mode, needs a public URL or a trusted proxy; sandbox mode needs neither', () => {
    const account = { TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 't' };
    expect(() => loadConfig(account)).toThrow(/^ROOMGATE_PUBLIC_URL: required when Twilio accounts are configured/);
    expect(loadConfig({ ...account, ROOMGATE_PUBLIC_URL: 'https://api.example.com' }).publicUrl).toBe('https://api.example.com');
    expect(loadConfig({ ...account, ROOMGATE_TRUST_PROXY: '10.0.0.0/8' }).trustProxy).toBe('10.0.0.0/8');
    expect(loadConfig({}).accounts).toEqual([]);
  });

  it('reads several accounts from ROOMGATE_CONFIG', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'roomgate-config-')), 'accounts.json');
    writeFileSync(
      file,
      JSON.stringify({ accounts: [{ accountSid: SID, authTokens: ['a', 'b'], sharedKeys: [{ id: 'k1', secret: 's' }] }] }),
    );
    expect(loadConfig({ ROOMGATE_CONFIG: file, ROOMGATE_PUBLIC_URL: 'https://api.example.com' }).accounts).toEqual([
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
    [{ TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 't' }, 'ROOMGATE_PUBLIC_URL'],
    [{ TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 't', ROOMGATE_TRUST_PROXY: ' ' }, 'ROOMGATE_PUBLIC_URL'],
    [{ ROOMGATE_TRUST_PROXY_HEADERS: 'both' }, 'ROOMGATE_TRUST_PROXY_HEADERS'],
    [{ ROOMGATE_HEADERS_TIMEOUT: '0s' }, 'ROOMGATE_HEADERS_TIMEOUT'],
    [{ ROOMGATE_REQUEST_TIMEOUT: 'soon' }, 'ROOMGATE_REQUEST_TIMEOUT'],
    [{ ROOMGATE_HEADERS_TIMEOUT: '20s', ROOMGATE_REQUEST_TIMEOUT: '10s' }, 'ROOMGATE_REQUEST_TIMEOUT'],
    [{ ROOMGATE_STREAMS_PER_KEY: '0' }, 'ROOMGATE_STREAMS_PER_KEY'],
    [{ ROOMGATE_STREAMS_PER_TENANT: '-1' }, 'ROOMGATE_STREAMS_PER_TENANT'],
    [{ ROOMGATE_WS_MAX_PAYLOAD: '64' }, 'ROOMGATE_WS_MAX_PAYLOAD'],
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
