/**
 * The service's configuration: read from the environment (and the optional ROOMGATE_CONFIG
 * JSON file) in this one place, validated, frozen. A bad value throws ConfigError naming the
 * variable; start-up prints that one line and exits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parseTrustedProxies } from '../core/net/trusted-proxies.js';
import { parseDatabaseUrl, SQLITE_MEMORY } from '../storage/open-store.js';
import { UnsupportedDatabaseUrlError } from '../storage/store-errors.js';
import { ConfigError } from './config-error.js';
import { parseDuration } from './duration.js';

export { ConfigError };

export interface TwilioAccountConfig {
  readonly accountSid: string;
  /** Current token first; a previous one is still accepted while a rotation drains. */
  readonly authTokens: readonly string[];
  /** Shared keys for HMAC-SHA256 signing (X-Twilio-Webhooks-Signature-Settings). */
  readonly sharedKeys: readonly { readonly id: string; readonly secret: string }[];
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly publicUrl: string | undefined;
  readonly trustProxy: string;
  readonly isTrustedProxy: (address: string) => boolean;
  /** The one forwarded-header family a trusted proxy writes; the other is never believed. */
  readonly trustProxyHeaders: TrustProxyHeaders;
  /**
   * Sandbox mode: no Twilio credentials are configured, so the CLI composes the built-in
   * emulator in Twilio's place (and fills accounts, apiKey and apiBaseUrl with its own).
   */
  readonly sandbox: boolean;
  /** Empty only until the sandbox's account is filled in (sandbox mode). */
  readonly accounts: readonly TwilioAccountConfig[];
  readonly apiKey: { readonly sid: string; readonly secret: string } | undefined;
  readonly apiBaseUrl: string;
  readonly configFile: string | undefined;
  readonly webhookMaxAgeMs: number;
  /**
   * A signed callback older than webhookMaxAgeMs but not older than this is stored as `late`
   * (held, not applied until the reconciler confirms it against Twilio's REST API); older still
   * is refused (403 replay-too-old). Twilio's Event Streams retry for up to 4 hours.
   */
  readonly webhookLateMaxAgeMs: number;
  readonly webhookFutureSkewMs: number;
  readonly webhookBodyLimitBytes: number;
  /** Refusals within alertWindowMs above this raise one alert log line per window. */
  readonly alertRefusalThreshold: number;
  readonly alertWindowMs: number;
  /** Quarantined callbacks within alertWindowMs above this raise one 'quarantine-rate' alert. */
  readonly alertQuarantineThreshold: number;
  /** Where alerts are POSTed, signed like Standard Webhooks; undefined when not configured. */
  readonly alertWebhook: { readonly url: string; readonly secret: string } | undefined;
  /** The platform operator's bearer token for /v1/operator/… and the operator console; undefined: both off. */
  readonly operatorToken: string | undefined;
  /** A request's line and headers must arrive within this (Node's headersTimeout). */
  readonly headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (Node's requestTimeout). */
  readonly requestTimeoutMs: number;
  /** Live streams (SSE + WebSocket) open at once, per API key and per tenant, on one instance. */
  /** Origins whose browser pages may call the tenant API (CORS); empty: none. */
  readonly corsOrigins: readonly string[];
  /** Requests per minute one API key may make, unless its tenant has its own limit. */
  readonly rateLimitPerMinute: number;
  readonly streamsPerKey: number;
  readonly streamsPerTenant: number;
  /** Largest inbound WebSocket frame/message: clients send nothing. */
  readonly wsMaxPayloadBytes: number;
  readonly logLevel: string;
  /** How long SIGTERM/SIGINT wait for in-flight requests, commits and streams before exit 1. */
  readonly shutdownTimeoutMs: number;
  /** Where `/metrics` is served (never on the public port); undefined when turned off. */
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
  /** The reconciler (src/service/reconcile/): how it paces itself and what it calls overdue. */
  readonly reconcile: ReconcileConfig;
  /** Every bound on a wait for the database (README "Faults and timeouts"). */
  readonly database: DatabaseTimeouts;
  /** A group-commit transaction (the webhook's) not committed within this → 503, connection discarded. */
  readonly commitDeadlineMs: number;
  /** Outbox: how long a claim holds without its worker's heartbeat, and entries run at once. */
  readonly outbox: { readonly leaseMs: number; readonly concurrency: number };
  /** Outbound webhooks to tenants (docs/events.md). */
  readonly webhooks: WebhooksConfig;
  /**
   * ROOMGATE_PROJECTION_THREAD (on | off, default on): `serve` folds callbacks in a worker thread
   * with its own store connection; off folds them on the HTTP thread (an in-memory SQLite
   * database, and sandbox mode's moving clock, always fold in-process).
   */
  readonly projectionThread: boolean;
  /**
   * ROOMGATE_SQLITE_THREAD (on | off, default off): on a SQLite file, `serve` runs the HTTP
   * thread's statements (the inbox's group commit and its fsync, the API's reads, the outbox's
   * writes) on a thread of their own, so none of them holds the event loop. Off by default: on a
   * disk with fast fsync the messages cost more than they save (bench/README.md, session 3c);
   * on a slow or shared disk, on is faster.
   */
  readonly sqliteThread: boolean;
}

export interface WebhooksConfig {
  /** http:// endpoint URLs are allowed (ROOMGATE_WEBHOOK_ALLOW_HTTP=1); sandbox mode allows http to loopback anyway. */
  readonly allowHttp: boolean;
  /** Addresses/CIDRs reachable although private, loopback or link-local (ROOMGATE_WEBHOOK_ALLOW_ADDRESSES). */
  readonly allowAddresses: string;
  /** One delivery's deadline (connect, send, answer). */
  readonly timeoutMs: number;
  /** Backoff: first step, cap, and how long after the first attempt retries go on. */
  readonly retry: { readonly baseMs: number; readonly maxDelayMs: number; readonly retryForMs: number };
  /** An endpoint failing without a success for this long is disabled (alert + webhook-endpoint.disabled event). */
  readonly disableAfterMs: number;
  /** How long the previous secret still signs after a rotation. */
  readonly secretOverlapMs: number;
  /** Deliveries in flight at once per instance, and how long a claim holds without a heartbeat. */
  readonly concurrency: number;
  readonly leaseMs: number;
  /** How often the log is read for new events when no wake-up came. */
  readonly pollIntervalMs: number;
}

export interface ReconcileConfig {
  /** How often an instance tries to take the lease and reconcile; 0 turns the timer off. */
  readonly intervalMs: number;
  /** REST reads per second per Twilio account (Twilio allows about 80). */
  readonly ratePerSecond: number;
  /** A consultation not final and unchanged for this long is compared with Twilio (empty-room timeout + margin). */
  readonly quietMs: number;
  /** An ended consultation is compared once, this long after its end (late disconnects settle first). */
  readonly settleMs: number;
  /** A composition requested this long ago and still not available is looked up; twice this, it counts as stuck. */
  readonly compositionMs: number;
  /** The lease's life; renewed at each pass. */
  readonly leaseMs: number;
}

export interface DatabaseTimeouts {
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  /** Client-side bound on one round trip; past it the connection is discarded. */
  readonly queryTimeoutMs: number;
  /** How long start-up keeps trying to reach and migrate the database before exit 1. */
  readonly startupWaitMs: number;
}

export type TrustProxyHeaders = 'x-forwarded' | 'forwarded';

type Env = Readonly<Record<string, string | undefined>>;

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

export const DEFAULT_DATABASE_URL = 'sqlite:./data/roomgate.db';
export const DEFAULT_METRICS_PORT = 9464;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: Env = process.env): Config {
  const configFile = nonEmpty(env.ROOMGATE_CONFIG);
  const accounts = configFile ? readAccountsFile(configFile) : accountsFromEnv(env);
  const key = apiKey(env);
  const sandbox = twilioMode(env, accounts.length > 0, key !== undefined) === 'sandbox';
  const trustProxy = nonEmpty(env.ROOMGATE_TRUST_PROXY) ?? '';
  const signedUrlBase = publicUrl(env);
  // Outside sandbox mode the signed URL must never come from a client's Host header.
  if (!sandbox && !signedUrlBase && !trustProxy) {
    throw new ConfigError(
      'ROOMGATE_PUBLIC_URL',
      'required when Twilio accounts are configured (or set ROOMGATE_TRUST_PROXY): the signed URL must not come from the client',
    );
  }
  const headersTimeoutMs = duration(env, 'ROOMGATE_HEADERS_TIMEOUT', '10s');
  const requestTimeoutMs = duration(env, 'ROOMGATE_REQUEST_TIMEOUT', '30s');
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError('ROOMGATE_REQUEST_TIMEOUT', 'must be at least ROOMGATE_HEADERS_TIMEOUT');
  }
  const database = databaseTimeouts(env);
  const commitDeadlineMs = duration(env, 'ROOMGATE_COMMIT_DEADLINE', '5s');
  // The lock wait must end first, so that the one waiting callback is retried alone in time.
  if (database.lockTimeoutMs >= commitDeadlineMs) {
    throw new ConfigError('ROOMGATE_DB_LOCK_TIMEOUT', 'must be shorter than ROOMGATE_COMMIT_DEADLINE');
  }
  return Object.freeze({
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: host(env, 'HOST', '127.0.0.1'),
    databaseUrl: databaseUrlFrom(env),
    publicUrl: signedUrlBase,
    trustProxy,
    isTrustedProxy: trusted(trustProxy),
    trustProxyHeaders: trustProxyHeaders(env),
    sandbox,
    accounts: Object.freeze(accounts),
    apiKey: key,
    apiBaseUrl: url(env, 'TWILIO_API_BASE_URL', 'https://video.twilio.com'),
    configFile,
    webhookMaxAgeMs: duration(env, 'ROOMGATE_WEBHOOK_MAX_AGE', '15m'),
    webhookLateMaxAgeMs: Math.max(duration(env, 'ROOMGATE_WEBHOOK_LATE_MAX_AGE', '24h'), duration(env, 'ROOMGATE_WEBHOOK_MAX_AGE', '15m')),
    webhookFutureSkewMs: 5 * 60_000,
    webhookBodyLimitBytes: integer(env, 'ROOMGATE_WEBHOOK_BODY_LIMIT', 64 * 1024, 1024, 1024 * 1024),
    alertRefusalThreshold: integer(env, 'ROOMGATE_ALERT_REFUSALS', 20, 1, 1_000_000),
    alertWindowMs: duration(env, 'ROOMGATE_ALERT_WINDOW', '1m'),
    alertQuarantineThreshold: integer(env, 'ROOMGATE_ALERT_QUARANTINES', 5, 1, 1_000_000),
    alertWebhook: alertWebhook(env),
    operatorToken: operatorToken(env),
    headersTimeoutMs,
    requestTimeoutMs,
    corsOrigins: corsOrigins(env),
    rateLimitPerMinute: integer(env, 'ROOMGATE_RATE_LIMIT', 6000, 1, 1_000_000),
    streamsPerKey: integer(env, 'ROOMGATE_STREAMS_PER_KEY', 10, 1, 100_000),
    streamsPerTenant: integer(env, 'ROOMGATE_STREAMS_PER_TENANT', 100, 1, 100_000),
    wsMaxPayloadBytes: integer(env, 'ROOMGATE_WS_MAX_PAYLOAD', 4096, 125, 1024 * 1024),
    logLevel: logLevelFrom(env),
    shutdownTimeoutMs: duration(env, 'ROOMGATE_SHUTDOWN_TIMEOUT', '10s'),
    metrics: metricsListener(env),
    reconcile: Object.freeze({
      intervalMs: nonEmpty(env.ROOMGATE_RECONCILE_INTERVAL) === '0' ? 0 : duration(env, 'ROOMGATE_RECONCILE_INTERVAL', '1m'),
      ratePerSecond: integer(env, 'ROOMGATE_RECONCILE_RATE', 50, 1, 1000),
      quietMs: duration(env, 'ROOMGATE_RECONCILE_QUIET', '10m'),
      settleMs: duration(env, 'ROOMGATE_RECONCILE_SETTLE', '2m'),
      compositionMs: duration(env, 'ROOMGATE_RECONCILE_COMPOSITION', '10m'),
      leaseMs: duration(env, 'ROOMGATE_RECONCILE_LEASE', '2m'),
    }),
    database,
    commitDeadlineMs,
    outbox: Object.freeze({
      leaseMs: duration(env, 'ROOMGATE_OUTBOX_LEASE', '15s'),
      concurrency: integer(env, 'ROOMGATE_OUTBOX_CONCURRENCY', 4, 1, 64),
    }),
    projectionThread: onOff(env, 'ROOMGATE_PROJECTION_THREAD', true),
    sqliteThread: onOff(env, 'ROOMGATE_SQLITE_THREAD', false),
    webhooks: webhooksConfig(env),
  });
}

/** ROOMGATE_WEBHOOK_*: outbound webhooks to tenants (README "Outbound webhooks"). */
function webhooksConfig(env: Env): WebhooksConfig {
  const allowHttp = nonEmpty(env.ROOMGATE_WEBHOOK_ALLOW_HTTP);
  if (allowHttp !== undefined && allowHttp !== '1' && allowHttp !== '0') {
    throw new ConfigError('ROOMGATE_WEBHOOK_ALLOW_HTTP', 'must be 1 (allow http:// endpoint URLs) or 0');
  }
  const allowAddresses = nonEmpty(env.ROOMGATE_WEBHOOK_ALLOW_ADDRESSES) ?? '';
  try {
    parseTrustedProxies(allowAddresses);
  } catch (error) {
    throw new ConfigError('ROOMGATE_WEBHOOK_ALLOW_ADDRESSES', (error as Error).message);
  }
  return Object.freeze({
    allowHttp: allowHttp === '1',
    allowAddresses,
    timeoutMs: duration(env, 'ROOMGATE_WEBHOOK_TIMEOUT', '10s'),
    retry: Object.freeze({
      baseMs: duration(env, 'ROOMGATE_WEBHOOK_RETRY_BASE', '5s'),
      maxDelayMs: duration(env, 'ROOMGATE_WEBHOOK_RETRY_MAX_DELAY', '1h'),
      retryForMs: duration(env, 'ROOMGATE_WEBHOOK_RETRY_FOR', '26h'),
    }),
    disableAfterMs: duration(env, 'ROOMGATE_WEBHOOK_DISABLE_AFTER', '5d'),
    secretOverlapMs: duration(env, 'ROOMGATE_WEBHOOK_SECRET_OVERLAP', '24h'),
    concurrency: integer(env, 'ROOMGATE_WEBHOOK_CONCURRENCY', 8, 1, 256),
    leaseMs: duration(env, 'ROOMGATE_WEBHOOK_LEASE', '15s'),
    pollIntervalMs: duration(env, 'ROOMGATE_WEBHOOK_POLL', '1s'),
  });
}

/** ROOMGATE_DB_*: how long each wait for the database may last. */
export function databaseTimeouts(env: Env = process.env): DatabaseTimeouts {
  const statementTimeoutMs = duration(env, 'ROOMGATE_DB_STATEMENT_TIMEOUT', '10s');
  const queryTimeoutMs = nonEmpty(env.ROOMGATE_DB_QUERY_TIMEOUT)
    ? duration(env, 'ROOMGATE_DB_QUERY_TIMEOUT', '15s')
    : statementTimeoutMs + 5000;
  if (queryTimeoutMs < statementTimeoutMs) {
    throw new ConfigError('ROOMGATE_DB_QUERY_TIMEOUT', 'must be at least ROOMGATE_DB_STATEMENT_TIMEOUT (the server should time out first)');
  }
  return Object.freeze({
    connectTimeoutMs: duration(env, 'ROOMGATE_DB_CONNECT_TIMEOUT', '5s'),
    statementTimeoutMs,
    lockTimeoutMs: duration(env, 'ROOMGATE_DB_LOCK_TIMEOUT', '2s'),
    idleInTransactionTimeoutMs: duration(env, 'ROOMGATE_DB_IDLE_IN_TRANSACTION_TIMEOUT', '30s'),
    queryTimeoutMs,
    startupWaitMs: durationOrZero(env, 'ROOMGATE_DB_STARTUP_WAIT', '60s'),
  });
}

/** ROOMGATE_DATABASE_URL, validated: every command that opens the database reads it here. */
export function databaseUrlFrom(env: Env = process.env): string {
  const value = nonEmpty(env.ROOMGATE_DATABASE_URL) ?? DEFAULT_DATABASE_URL;
  let target;
  try {
    target = parseDatabaseUrl(value);
  } catch (error) {
    if (!(error instanceof UnsupportedDatabaseUrlError)) throw error;
    throw new ConfigError('ROOMGATE_DATABASE_URL', 'must be sqlite:PATH, postgres://…, or mysql://… (also mariadb://)');
  }
  // A typo in a path must not create directories and an empty database; only the default's
  // ./data is created (by whoever opens it).
  if (target.engine === 'sqlite' && target.file !== SQLITE_MEMORY && value !== DEFAULT_DATABASE_URL) {
    const directory = dirname(resolve(target.file));
    if (!existsSync(directory)) throw new ConfigError('ROOMGATE_DATABASE_URL', `the directory ${directory} does not exist`);
  }
  return value;
}

/** LOG_LEVEL, validated against pino's levels (so pino never throws its own message). */
export function logLevelFrom(env: Env = process.env): string {
  const value = nonEmpty(env.LOG_LEVEL) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

/**
 * Twilio is either fully configured (an account with its auth token, and an API key) or not at
 * all (sandbox mode). Anything in between refuses to start, naming what is missing — a half
 * configuration would otherwise start and fail later (e.g. no access-token route). With
 * NODE_ENV=production, the sandbox must be asked for (ROOMGATE_SANDBOX=1).
 */
function twilioMode(env: Env, hasAccount: boolean, hasApiKey: boolean): 'twilio' | 'sandbox' {
  const allowSandbox = nonEmpty(env.ROOMGATE_SANDBOX);
  if (allowSandbox !== undefined && allowSandbox !== '1' && allowSandbox !== '0')
    throw new ConfigError('ROOMGATE_SANDBOX', 'must be 1 (allow sandbox mode under NODE_ENV=production) or 0');
  if (!hasAccount && !hasApiKey) {
    if (nonEmpty(env.NODE_ENV) === 'production' && allowSandbox !== '1') {
      throw new ConfigError(
        'TWILIO_ACCOUNT_SID',
        'NODE_ENV=production needs the Twilio credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET, or ROOMGATE_CONFIG with the API key); set ROOMGATE_SANDBOX=1 to run the built-in sandbox instead',
      );
    }
    return 'sandbox';
  }
  // (An account without its token, or an API key SID without its secret, was refused already.)
  if (!hasAccount) {
    throw new ConfigError(
      'TWILIO_ACCOUNT_SID',
      'partial Twilio configuration: the API key is set but TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or ROOMGATE_CONFIG) are missing; set all, or none for the sandbox',
    );
  }
  if (!hasApiKey) {
    throw new ConfigError(
      'TWILIO_API_KEY_SID',
      'partial Twilio configuration: the account is set but TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET are missing (access tokens and rooms need them); set all, or none for the sandbox',
    );
  }
  if (allowSandbox === '1') throw new ConfigError('ROOMGATE_SANDBOX', 'is 1 but Twilio credentials are configured; unset one of them');
  return 'twilio';
}

/** ROOMGATE_METRICS_HOST/PORT; PORT `off` turns the listener off, `0` picks a free port. */
function metricsListener(env: Env): Config['metrics'] {
  const metricsHost = host(env, 'ROOMGATE_METRICS_HOST', '127.0.0.1');
  if (nonEmpty(env.ROOMGATE_METRICS_PORT)?.toLowerCase() === 'off') return undefined;
  return Object.freeze({ host: metricsHost, port: integer(env, 'ROOMGATE_METRICS_PORT', DEFAULT_METRICS_PORT, 0, 65535) });
}

/** An IP address or a host name (RFC 1123 labels); whether it can be bound is known at listen. */
function host(env: Env, name: string, fallback: string): string {
  const value = nonEmpty(env[name]) ?? fallback;
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  if (isIP(value) === 0 && (value.length > 253 || !value.split('.').every((part) => label.test(part)))) {
    throw new ConfigError(name, 'must be an IP address or a host name');
  }
  return value;
}

function accountsFromEnv(env: Env): TwilioAccountConfig[] {
  const accountSid = nonEmpty(env.TWILIO_ACCOUNT_SID);
  const token = nonEmpty(env.TWILIO_AUTH_TOKEN);
  const previous = nonEmpty(env.TWILIO_AUTH_TOKEN_PREVIOUS);
  if (!accountSid && !token) {
    if (previous) throw new ConfigError('TWILIO_AUTH_TOKEN_PREVIOUS', 'set without TWILIO_AUTH_TOKEN');
    return [];
  }
  if (!accountSid) throw new ConfigError('TWILIO_ACCOUNT_SID', 'required when TWILIO_AUTH_TOKEN is set');
  if (!ACCOUNT_SID.test(accountSid)) throw new ConfigError('TWILIO_ACCOUNT_SID', 'must be AC followed by 32 hex digits');
  if (!token) throw new ConfigError('TWILIO_AUTH_TOKEN', 'required when TWILIO_ACCOUNT_SID is set');
  return [{ accountSid, authTokens: previous ? [token, previous] : [token], sharedKeys: [] }];
}

/** `{"accounts":[{"accountSid":"AC…","authTokens":["current","previous"],"sharedKeys":[{"id":"…","secret":"…"}]}]}` */
function readAccountsFile(path: string): TwilioAccountConfig[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('ROOMGATE_CONFIG', `cannot read ${path}: ${(error as Error).message}`);
  }
  const list = (parsed as { accounts?: unknown })?.accounts;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError('ROOMGATE_CONFIG', 'expected {"accounts":[…]} with at least one account');
  }
  return list.map((entry: unknown, index) => {
    const where = `accounts[${index}]`;
    const { accountSid, authTokens, sharedKeys = [] } = (entry ?? {}) as Record<string, unknown>;
    if (typeof accountSid !== 'string' || !ACCOUNT_SID.test(accountSid)) {
      throw new ConfigError('ROOMGATE_CONFIG', `${where}.accountSid must be AC followed by 32 hex digits`);
    }
    if (!Array.isArray(authTokens) || authTokens.length === 0 || authTokens.some((t) => typeof t !== 'string' || !t)) {
      throw new ConfigError('ROOMGATE_CONFIG', `${where}.authTokens must be a non-empty list of strings`);
    }
    if (!Array.isArray(sharedKeys) || sharedKeys.some((k) => typeof k?.id !== 'string' || typeof k?.secret !== 'string')) {
      throw new ConfigError('ROOMGATE_CONFIG', `${where}.sharedKeys must be a list of {id, secret}`);
    }
    return { accountSid, authTokens: authTokens as string[], sharedKeys: sharedKeys as TwilioAccountConfig['sharedKeys'] };
  });
}

function apiKey(env: Env): Config['apiKey'] {
  const sid = nonEmpty(env.TWILIO_API_KEY_SID);
  const secret = nonEmpty(env.TWILIO_API_KEY_SECRET);
  if (!sid && !secret) return undefined;
  if (!sid) throw new ConfigError('TWILIO_API_KEY_SID', 'required when TWILIO_API_KEY_SECRET is set');
  if (!/^SK[0-9a-fA-F]{32}$/.test(sid)) throw new ConfigError('TWILIO_API_KEY_SID', 'must be SK followed by 32 hex digits');
  if (!secret) throw new ConfigError('TWILIO_API_KEY_SECRET', 'required when TWILIO_API_KEY_SID is set');
  return { sid, secret };
}

function alertWebhook(env: Env): Config['alertWebhook'] {
  const target = nonEmpty(env.ROOMGATE_ALERT_URL);
  const secret = nonEmpty(env.ROOMGATE_ALERT_SECRET);
  if (!target && !secret) return undefined;
  if (!target) throw new ConfigError('ROOMGATE_ALERT_URL', 'required when ROOMGATE_ALERT_SECRET is set');
  if (!secret) throw new ConfigError('ROOMGATE_ALERT_SECRET', 'required when ROOMGATE_ALERT_URL is set');
  // Never echo the URL: alert URLs often carry a token in their path.
  if (!/^https?:$/.test(tryUrl(target)?.protocol ?? '')) throw new ConfigError('ROOMGATE_ALERT_URL', 'must be an http(s) URL');
  if (secret.length < 16) throw new ConfigError('ROOMGATE_ALERT_SECRET', 'must be at least 16 characters');
  return Object.freeze({ url: target, secret });
}

function operatorToken(env: Env): string | undefined {
  const value = nonEmpty(env.ROOMGATE_OPERATOR_TOKEN);
  if (value === undefined) return undefined;
  // A bearer token that reads every tenant's security events: never guessable, never echoed.
  if (value.length < 32 || /\s/.test(value))
    throw new ConfigError('ROOMGATE_OPERATOR_TOKEN', 'must be at least 32 characters, without spaces');
  return value;
}

function publicUrl(env: Env): string | undefined {
  const value = nonEmpty(env.ROOMGATE_PUBLIC_URL);
  if (!value) return undefined;
  const parsed = tryUrl(value);
  if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.search || parsed.hash) {
    throw new ConfigError('ROOMGATE_PUBLIC_URL', 'must be an http(s) base URL without query or fragment');
  }
  return value.replace(/\/+$/, '');
}

function url(env: Env, name: string, fallback: string): string {
  const value = nonEmpty(env[name]) ?? fallback;
  const parsed = tryUrl(value);
  if (!parsed || !/^https?:$/.test(parsed.protocol)) throw new ConfigError(name, 'must be an http(s) URL');
  return value.replace(/\/+$/, '');
}

function trustProxyHeaders(env: Env): TrustProxyHeaders {
  const value = (nonEmpty(env.ROOMGATE_TRUST_PROXY_HEADERS) ?? 'x-forwarded').toLowerCase();
  if (value !== 'x-forwarded' && value !== 'forwarded')
    throw new ConfigError('ROOMGATE_TRUST_PROXY_HEADERS', 'must be x-forwarded or forwarded');
  return value;
}

function trusted(list: string): (address: string) => boolean {
  try {
    return parseTrustedProxies(list);
  } catch (error) {
    throw new ConfigError('ROOMGATE_TRUST_PROXY', (error as Error).message);
  }
}

function duration(env: Env, name: string, fallback: string): number {
  const ms = parseDuration(nonEmpty(env[name]) ?? fallback);
  if (ms === undefined || ms <= 0) throw new ConfigError(name, 'must be a duration such as 30s, 15m, 2h');
  return ms;
}

/** ROOMGATE_CORS_ORIGINS: a comma list of exact origins (scheme://host[:port]); no wildcard. */
function corsOrigins(env: Env): readonly string[] {
  const raw = nonEmpty(env.ROOMGATE_CORS_ORIGINS);
  if (raw === undefined) return Object.freeze([]);
  return Object.freeze(
    raw.split(',').map((entry) => {
      const candidate = entry.trim();
      const parsed = tryUrl(candidate);
      const bare = parsed && parsed.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username && !candidate.endsWith('/');
      if (!parsed || !bare || !['http:', 'https:'].includes(parsed.protocol)) {
        throw new ConfigError('ROOMGATE_CORS_ORIGINS', 'must be a comma list of origins such as https://app.example.com');
      }
      return parsed.origin;
    }),
  );
}

/** A duration that may be 0 (`0s`: do not wait). */
function durationOrZero(env: Env, name: string, fallback: string): number {
  const ms = parseDuration(nonEmpty(env[name]) ?? fallback);
  if (ms === undefined) throw new ConfigError(name, 'must be a duration such as 0s, 30s, 2m');
  return ms;
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const value = nonEmpty(env[name])?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new ConfigError(name, 'must be on or off');
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function tryUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
