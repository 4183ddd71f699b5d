import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TWILIO = {
  TWILIO_ACCOUNT_SID: SID,
  TWILIO_AUTH_TOKEN: 'token',
  TWILIO_API_KEY_SID: 'SK0123456789abcdef0123456789abcdef',
  TWILIO_API_KEY_SECRET: 'secret',
} as const;
/** Outside sandbox mode the signed URL needs a source. */
const PUBLIC_URL = { ROOMGATE_PUBLIC_URL: 'https://api.example.com' } as const;

/** The ConfigError loadConfig throws for env, or undefined when it accepts it. */
function refusal(env: Record<string, string>): ConfigError | undefined {
  try {
    loadConfig(env);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
}

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
      sandbox: true,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      metrics: { host: '127.0.0.1', port: 9464 },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(config.isTrustedProxy('127.0.0.1')).toBe(false);
  });

  it('reads the account, the previous token during a rotation, and the public URL', () => {
    const config = loadConfig({
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: 'current',
      TWILIO_AUTH_TOKEN_PREVIOUS: 'previous',
      TWILIO_API_KEY_SID: TWILIO.TWILIO_API_KEY_SID,
      TWILIO_API_KEY_SECRET: TWILIO.TWILIO_API_KEY_SECRET,
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
      corsOrigins: [],
      rateLimitPerMinute: 6000,
    });
    expect(
      loadConfig({
        ROOMGATE_HEADERS_TIMEOUT: '2s',
        ROOMGATE_REQUEST_TIMEOUT: '5s',
        ROOMGATE_STREAMS_PER_KEY: '3',
        ROOMGATE_STREAMS_PER_TENANT: '7',
        ROOMGATE_WS_MAX_PAYLOAD: '1024',
        ROOMGATE_TRUST_PROXY_HEADERS: 'Forwarded',
        ROOMGATE_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
        ROOMGATE_RATE_LIMIT: '30',
      }),
    ).toMatchObject({
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      rateLimitPerMinute: 30,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 5000,
      streamsPerKey: 3,
      streamsPerTenant: 7,
      wsMaxPayloadBytes: 1024,
      trustProxyHeaders: 'forwarded',
    });
  });

  it('bounds every wait for the database and the outbox lease, each configurable', () => {
    expect(loadConfig({})).toMatchObject({
      commitDeadlineMs: 5000,
      database: {
        connectTimeoutMs: 5000,
        statementTimeoutMs: 10_000,
        lockTimeoutMs: 2000,
        idleInTransactionTimeoutMs: 30_000,
        queryTimeoutMs: 15_000,
        startupWaitMs: 60_000,
      },
      outbox: { leaseMs: 15_000, concurrency: 4 },
    });
    expect(
      loadConfig({
        ROOMGATE_COMMIT_DEADLINE: '3s',
        ROOMGATE_DB_CONNECT_TIMEOUT: '1s',
        ROOMGATE_DB_STATEMENT_TIMEOUT: '4s',
        ROOMGATE_DB_LOCK_TIMEOUT: '500ms',
        ROOMGATE_DB_IDLE_IN_TRANSACTION_TIMEOUT: '1m',
        ROOMGATE_DB_QUERY_TIMEOUT: '6s',
        ROOMGATE_DB_STARTUP_WAIT: '0s',
        ROOMGATE_OUTBOX_LEASE: '5s',
        ROOMGATE_OUTBOX_CONCURRENCY: '8',
      }),
    ).toMatchObject({
      commitDeadlineMs: 3000,
      database: {
        connectTimeoutMs: 1000,
        statementTimeoutMs: 4000,
        lockTimeoutMs: 500,
        idleInTransactionTimeoutMs: 60_000,
        queryTimeoutMs: 6000,
        startupWaitMs: 0,
      },
      outbox: { leaseMs: 5000, concurrency: 8 },
    });
  });

  it('outside sandbox mode, needs a public URL or a trusted proxy; sandbox mode needs neither', () => {
    const account = { ...TWILIO };
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
    const { TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET } = TWILIO;
    expect(
      loadConfig({ ROOMGATE_CONFIG: file, TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET, ROOMGATE_PUBLIC_URL: 'https://api.example.com' })
        .accounts,
    ).toEqual([{ accountSid: SID, authTokens: ['a', 'b'], sharedKeys: [{ id: 'k1', secret: 's' }] }]);
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
    [{ TWILIO_API_KEY_SECRET: 's' }, 'TWILIO_API_KEY_SID'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HOST: 'not a host' }, 'HOST'],
    [{ ROOMGATE_SHUTDOWN_TIMEOUT: '10' }, 'ROOMGATE_SHUTDOWN_TIMEOUT'],
    [{ ROOMGATE_METRICS_PORT: 'on' }, 'ROOMGATE_METRICS_PORT'],
    [{ ROOMGATE_METRICS_HOST: 'http://127.0.0.1' }, 'ROOMGATE_METRICS_HOST'],
    [{ ROOMGATE_SANDBOX: 'yes' }, 'ROOMGATE_SANDBOX'],
    [{ ROOMGATE_DATABASE_URL: 'sqlite:./no-such-directory-for-roomgate/rg.db' }, 'ROOMGATE_DATABASE_URL'],
    [{ ROOMGATE_WEBHOOK_MAX_AGE: 'fifteen minutes' }, 'ROOMGATE_WEBHOOK_MAX_AGE'],
    [{ ROOMGATE_CONFIG: '/nonexistent/accounts.json' }, 'ROOMGATE_CONFIG'],
    [{ ...TWILIO }, 'ROOMGATE_PUBLIC_URL'],
    [{ ...TWILIO, ROOMGATE_TRUST_PROXY: ' ' }, 'ROOMGATE_PUBLIC_URL'],
    [{ ROOMGATE_TRUST_PROXY_HEADERS: 'both' }, 'ROOMGATE_TRUST_PROXY_HEADERS'],
    [{ ROOMGATE_HEADERS_TIMEOUT: '0s' }, 'ROOMGATE_HEADERS_TIMEOUT'],
    [{ ROOMGATE_REQUEST_TIMEOUT: 'soon' }, 'ROOMGATE_REQUEST_TIMEOUT'],
    [{ ROOMGATE_HEADERS_TIMEOUT: '20s', ROOMGATE_REQUEST_TIMEOUT: '10s' }, 'ROOMGATE_REQUEST_TIMEOUT'],
    [{ ROOMGATE_STREAMS_PER_KEY: '0' }, 'ROOMGATE_STREAMS_PER_KEY'],
    [{ ROOMGATE_CORS_ORIGINS: '*' }, 'ROOMGATE_CORS_ORIGINS'],
    [{ ROOMGATE_CORS_ORIGINS: 'https://app.example.com/path' }, 'ROOMGATE_CORS_ORIGINS'],
    [{ ROOMGATE_RATE_LIMIT: '0' }, 'ROOMGATE_RATE_LIMIT'],
    [{ ROOMGATE_STREAMS_PER_TENANT: '-1' }, 'ROOMGATE_STREAMS_PER_TENANT'],
    [{ ROOMGATE_WS_MAX_PAYLOAD: '64' }, 'ROOMGATE_WS_MAX_PAYLOAD'],
    [{ ROOMGATE_COMMIT_DEADLINE: '0s' }, 'ROOMGATE_COMMIT_DEADLINE'],
    [{ ROOMGATE_DB_LOCK_TIMEOUT: '5s' }, 'ROOMGATE_DB_LOCK_TIMEOUT'],
    [{ ROOMGATE_DB_LOCK_TIMEOUT: '3s', ROOMGATE_COMMIT_DEADLINE: '2s' }, 'ROOMGATE_DB_LOCK_TIMEOUT'],
    [{ ROOMGATE_DB_STATEMENT_TIMEOUT: 'soon' }, 'ROOMGATE_DB_STATEMENT_TIMEOUT'],
    [{ ROOMGATE_DB_QUERY_TIMEOUT: '1s' }, 'ROOMGATE_DB_QUERY_TIMEOUT'],
    [{ ROOMGATE_DB_CONNECT_TIMEOUT: '0ms' }, 'ROOMGATE_DB_CONNECT_TIMEOUT'],
    [{ ROOMGATE_DB_IDLE_IN_TRANSACTION_TIMEOUT: '-1s' }, 'ROOMGATE_DB_IDLE_IN_TRANSACTION_TIMEOUT'],
    [{ ROOMGATE_DB_STARTUP_WAIT: 'forever' }, 'ROOMGATE_DB_STARTUP_WAIT'],
    [{ ROOMGATE_OUTBOX_LEASE: '0s' }, 'ROOMGATE_OUTBOX_LEASE'],
    [{ ROOMGATE_OUTBOX_CONCURRENCY: '0' }, 'ROOMGATE_OUTBOX_CONCURRENCY'],
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

  it('turns the metrics listener off with ROOMGATE_METRICS_PORT=off, and takes any listen address', () => {
    expect(loadConfig({ ROOMGATE_METRICS_PORT: 'off' }).metrics).toBeUndefined();
    expect(loadConfig({ ROOMGATE_METRICS_PORT: '0', ROOMGATE_METRICS_HOST: '::1' }).metrics).toEqual({ host: '::1', port: 0 });
    expect(loadConfig({ ROOMGATE_SHUTDOWN_TIMEOUT: '3s' }).shutdownTimeoutMs).toBe(3000);
  });

  it('accepts every IP address and host name as HOST, and refuses anything else', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    const valid = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.')),
    );
    fc.assert(fc.property(valid, (hostName) => loadConfig({ HOST: hostName }).host === hostName));
    // A host with a character no host name or address has: space, scheme, slash, port, underscore…
    const invalid = fc
      .tuple(label, fc.constantFrom(' ', '/', ':', '_', '@', '*', '!', '..', 'http://', '\u00e9'), label)
      .map(([a, bad, b]) => `${a}${bad}${b}`)
      .filter((text) => text.trim() !== '' && !text.includes('::'));
    fc.assert(fc.property(invalid, (hostName) => refusal({ HOST: hostName })?.variable === 'HOST'));
    expect(refusal({ HOST: '-leading.example' })?.variable).toBe('HOST');
    expect(refusal({ HOST: `${'a'.repeat(64)}.example` })?.variable).toBe('HOST');
  });

  it('refuses every partial Twilio configuration, naming a variable that is missing', () => {
    const names = Object.keys(TWILIO) as (keyof typeof TWILIO)[];
    for (let mask = 1; mask < 2 ** names.length - 1; mask++) {
      const present = names.filter((_, bit) => mask & (1 << bit));
      const error = refusal(Object.fromEntries(present.map((name) => [name, TWILIO[name]])));
      expect(error, `accepted ${present.join(', ')}`).toBeDefined();
      expect(present).not.toContain(error!.variable);
    }
    expect(loadConfig({ ...TWILIO, ...PUBLIC_URL }).sandbox).toBe(false);
    expect(loadConfig({}).sandbox).toBe(true);
    // An accounts file is the account; the API key is still needed.
    const file = join(mkdtempSync(join(tmpdir(), 'roomgate-config-')), 'accounts.json');
    writeFileSync(file, JSON.stringify({ accounts: [{ accountSid: SID, authTokens: ['a'] }] }));
    expect(refusal({ ROOMGATE_CONFIG: file })?.message).toMatch(/^TWILIO_API_KEY_SID: partial Twilio configuration/);
    const { TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET } = TWILIO;
    expect(loadConfig({ ROOMGATE_CONFIG: file, TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET, ...PUBLIC_URL }).sandbox).toBe(false);
  });

  it('runs the sandbox under NODE_ENV=production only when ROOMGATE_SANDBOX=1 says so', () => {
    expect(refusal({ NODE_ENV: 'production' })?.message).toMatch(/^TWILIO_ACCOUNT_SID: NODE_ENV=production needs the Twilio credentials/);
    expect(refusal({ NODE_ENV: 'production', ROOMGATE_SANDBOX: '0' })?.variable).toBe('TWILIO_ACCOUNT_SID');
    expect(loadConfig({ NODE_ENV: 'production', ROOMGATE_SANDBOX: '1' }).sandbox).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...TWILIO, ...PUBLIC_URL }).sandbox).toBe(false);
    expect(refusal({ ...TWILIO, ROOMGATE_SANDBOX: '1' })?.variable).toBe('ROOMGATE_SANDBOX');
  });

  it('refuses a sqlite: path whose directory does not exist, except the default ./data', () => {
    const directory = mkdtempSync(join(tmpdir(), 'roomgate-config-'));
    expect(loadConfig({ ROOMGATE_DATABASE_URL: `sqlite:${join(directory, 'rg.db')}` }).databaseUrl).toBe(
      `sqlite:${join(directory, 'rg.db')}`,
    );
    expect(refusal({ ROOMGATE_DATABASE_URL: `sqlite:${join(directory, 'typo', 'rg.db')}` })?.message).toBe(
      `ROOMGATE_DATABASE_URL: the directory ${join(directory, 'typo')} does not exist`,
    );
    expect(loadConfig({ ROOMGATE_DATABASE_URL: 'sqlite::memory:' }).databaseUrl).toBe('sqlite::memory:');
    expect(loadConfig({}).databaseUrl).toBe('sqlite:./data/roomgate.db');
  });
});
