/**
 * A Roomgate app on a fresh database of one engine, with a Twilio account, and helpers to seed
 * tenants, keys and consultations the way the CLI and API would. Log output is captured so tests
 * can prove what was (and was not) logged.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { SandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { buildApp, type AppOptions } from '../../src/service/app.js';
import { loadConfig, type Config } from '../../src/service/config.js';
import { createLogger } from '../../src/service/logger.js';
import { buildMetricsApp } from '../../src/service/metrics-app.js';
import { createMetrics } from '../../src/service/metrics.js';
import { createApiKey, createTenant } from '../../src/service/tenants/tenant-admin.js';
import { newId } from '../../src/storage/ids.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import type { Store } from '../../src/storage/store.js';
import type { EngineUnderTest, TestDatabase } from './engines.js';
import { checkAnswersAgainstDocument } from './openapi-inject.js';

export interface TestService {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly config: Config;
  readonly accountSid: string;
  readonly authToken: string;
  readonly database: TestDatabase;
  /** Every log line written so far. */
  logs(): string;
  /** `GET /metrics` from the metrics listener's app (it is not served on the public port). */
  metricsText(): Promise<string>;
  seedTenant(
    kind?: 'human' | 'veterinary',
    scopes?: readonly string[],
    options?: { expiresAt?: string; revoked?: boolean },
    tenant?: { consentMode?: 'all-parties' | 'one-party' | 'off' },
  ): Promise<{ tenantId: string; key: string; keyId: string }>;
  seedKey(
    tenantId: string,
    scopes: readonly string[],
    options?: { expiresAt?: string; revoked?: boolean },
  ): Promise<{ key: string; keyId: string }>;
  seedConsultation(
    tenantId: string,
    options?: { roomSid?: string; identities?: Record<string, string>; record?: boolean; accountSid?: string },
  ): Promise<{ id: string; roomSid: string; roomName: string }>;
  close(): Promise<void>;
}

export const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');

export async function startTestService(
  engine: EngineUnderTest,
  options: {
    env?: Record<string, string>;
    app?: Partial<AppOptions>;
    database?: TestDatabase;
    storeUrl?: (url: string) => string;
    busyTimeoutMs?: number;
    /** SQLite: the service's statements on a thread of their own (serve's default). */
    sqliteThread?: boolean;
  } = {},
): Promise<TestService> {
  const accountSid = `AC${randomHex(16)}`;
  const authToken = randomHex(16);
  const database = options.database ?? (await engine.createTestDatabase());
  const storeUrl = options.storeUrl ? options.storeUrl(database.url) : database.url;
  const config = loadConfig({
    TWILIO_ACCOUNT_SID: accountSid,
    TWILIO_AUTH_TOKEN: authToken,
    TWILIO_API_KEY_SID: `SK${randomHex(16)}`,
    TWILIO_API_KEY_SECRET: randomHex(16),
    ROOMGATE_DATABASE_URL: storeUrl,
    LOG_LEVEL: 'debug',
    // With an account configured, the signed URL needs a source the operator named: tests talk
    // to the app from this machine (inject() and real sockets), so loopback is the trusted proxy
    // and, sending no forwarded headers, is signed for the Host it sends.
    ...(options.env?.ROOMGATE_PUBLIC_URL ? {} : { ROOMGATE_TRUST_PROXY: 'loopback' }),
    ...options.env,
  });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const { startupWaitMs: _startupWait, ...timeouts } = config.database;
  const metrics = options.app?.metrics ?? createMetrics();
  const store = await openStore(storeUrl, {
    logger,
    ...timeouts,
    ...(options.busyTimeoutMs ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.sqliteThread ? { sqliteThread: true } : {}),
    onSqliteThreadRestart: () => metrics.sqliteThreadRestarts.inc(),
  });
  await store.migrate();
  const app = await buildApp({ config, store, logger, outboxWorker: false, metrics, ...options.app });
  await app.ready();
  checkAnswersAgainstDocument(app);
  const metricsApp = buildMetricsApp({ metrics: app.roomgate.metrics, logger });
  const now = () => new Date().toISOString();

  const seedKey: TestService['seedKey'] = async (tenantId, scopes, keyOptions = {}) => {
    const { id, key } = await createApiKey(store, {
      tenantId,
      scopes,
      expiresAt: keyOptions.expiresAt ?? null,
      revokedAt: keyOptions.revoked ? now() : null,
    });
    return { key, keyId: id };
  };

  return {
    app,
    store,
    config,
    accountSid: config.accounts[0]!.accountSid,
    authToken: config.accounts[0]!.authTokens[0]!,
    database,
    logs: () => lines.join(''),
    metricsText: async () => (await metricsApp.inject({ method: 'GET', url: '/metrics' })).body,
    seedKey,
    async seedTenant(kind = 'human', scopes = [], keyOptions = {}, tenant = {}) {
      const tenantId = await createTenant(store, { slug: `t-${randomHex(4)}`, name: 'Test clinic', kind, ...tenant });
      const { key, keyId } = await seedKey(tenantId, scopes, keyOptions);
      return { tenantId, key, keyId };
    },
    async seedConsultation(tenantId, consultationOptions = {}) {
      const id = newId('con');
      const roomSid = consultationOptions.roomSid ?? `RM${randomHex(16)}`;
      const roomName = `rg-${id}`;
      await insertConsultations(store.db, [
        {
          id,
          tenantId,
          roomSid,
          roomName,
          // The account the room was created under: the service's first (the API key's).
          accountSid: consultationOptions.accountSid ?? config.accounts[0]!.accountSid,
          record: consultationOptions.record !== false,
          scheduledAt: null,
          now: now(),
        },
      ]);
      await insertIssuedParticipants(
        store.db,
        Object.entries(consultationOptions.identities ?? {}).map(([identity, role]) => ({
          consultationId: id,
          identity,
          role,
          issuedAt: now(),
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        })),
      );
      return { id, roomSid, roomName };
    },
    async close() {
      await metricsApp.close();
      await app.close();
      await store.close();
      if (!options.database) await database.drop();
    },
  };
}

/** The environment that points a service at a sandbox: its account, token, API key and base URL. */
export function sandboxTwilioEnv(credentials: SandboxCredentials, sandboxUrl: string): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: credentials.accountSid,
    TWILIO_AUTH_TOKEN: credentials.authToken,
    TWILIO_API_KEY_SID: credentials.apiKeySid,
    TWILIO_API_KEY_SECRET: credentials.apiKeySecret,
    TWILIO_API_BASE_URL: sandboxUrl,
  };
}
