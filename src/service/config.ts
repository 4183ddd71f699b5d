/**
 * The service's configuration: read from the environment (and the optional ROOMGATE_CONFIG
 * JSON file) in this one place, validated, frozen. A bad value throws ConfigError naming the
 * variable; start-up prints that one line and exits.
 */
import { readFileSync } from 'node:fs';
import { parseTrustedProxies } from '../core/net/trusted-proxies.js';
import { parseDuration } from './duration.js';

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
  /** Empty means sandbox mode: the built-in emulator stands in for Twilio. */
  readonly accounts: readonly TwilioAccountConfig[];
  readonly apiKey: { readonly sid: string; readonly secret: string } | undefined;
  readonly apiBaseUrl: string;
  readonly configFile: string | undefined;
  readonly webhookMaxAgeMs: number;
  readonly webhookFutureSkewMs: number;
  readonly webhookBodyLimitBytes: number;
  /** Refusals within alertWindowMs above this raise one alert log line per window. */
  readonly alertRefusalThreshold: number;
  readonly alertWindowMs: number;
  /** Quarantined callbacks within alertWindowMs above this raise one 'quarantine-rate' alert. */
  readonly alertQuarantineThreshold: number;
  /** Where alerts are POSTed, signed like Standard Webhooks; undefined when not configured. */
  readonly alertWebhook: { readonly url: string; readonly secret: string } | undefined;
  /** A request's line and headers must arrive within this (Node's headersTimeout). */
  readonly headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (Node's requestTimeout). */
  readonly requestTimeoutMs: number;
  /** Live streams (SSE + WebSocket) open at once, per API key and per tenant, on one instance. */
  readonly streamsPerKey: number;
  readonly streamsPerTenant: number;
  /** Largest inbound WebSocket frame/message: clients send nothing. */
  readonly wsMaxPayloadBytes: number;
  readonly logLevel: string;
}

export type TrustProxyHeaders = 'x-forwarded' | 'forwarded';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

export function loadConfig(env: Env = process.env): Config {
  const configFile = nonEmpty(env.ROOMGATE_CONFIG);
  const accounts = configFile ? readAccountsFile(configFile) : accountsFromEnv(env);
  const trustProxy = nonEmpty(env.ROOMGATE_TRUST_PROXY) ?? '';
  const signedUrlBase = publicUrl(env);
  // Outside sandbox mode the signed URL must never come from a client's Host header.
  if (accounts.length > 0 && !signedUrlBase && !trustProxy) {
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
  return Object.freeze({
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: nonEmpty(env.HOST) ?? '127.0.0.1',
    databaseUrl: databaseUrl(env),
    publicUrl: signedUrlBase,
    trustProxy,
    isTrustedProxy: trusted(trustProxy),
    trustProxyHeaders: trustProxyHeaders(env),
    accounts: Object.freeze(accounts),
    apiKey: apiKey(env),
    apiBaseUrl: url(env, 'TWILIO_API_BASE_URL', 'https://video.twilio.com'),
    configFile,
    webhookMaxAgeMs: duration(env, 'ROOMGATE_WEBHOOK_MAX_AGE', '15m'),
    webhookFutureSkewMs: 5 * 60_000,
    webhookBodyLimitBytes: integer(env, 'ROOMGATE_WEBHOOK_BODY_LIMIT', 64 * 1024, 1024, 1024 * 1024),
    alertRefusalThreshold: integer(env, 'ROOMGATE_ALERT_REFUSALS', 20, 1, 1_000_000),
    alertWindowMs: duration(env, 'ROOMGATE_ALERT_WINDOW', '1m'),
    alertQuarantineThreshold: integer(env, 'ROOMGATE_ALERT_QUARANTINES', 5, 1, 1_000_000),
    alertWebhook: alertWebhook(env),
    headersTimeoutMs,
    requestTimeoutMs,
    streamsPerKey: integer(env, 'ROOMGATE_STREAMS_PER_KEY', 10, 1, 100_000),
    streamsPerTenant: integer(env, 'ROOMGATE_STREAMS_PER_TENANT', 100, 1, 100_000),
    wsMaxPayloadBytes: integer(env, 'ROOMGATE_WS_MAX_PAYLOAD', 4096, 125, 1024 * 1024),
    logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
  });
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
  if (!sid || !/^SK[0-9a-fA-F]{32}$/.test(sid)) throw new ConfigError('TWILIO_API_KEY_SID', 'must be SK followed by 32 hex digits');
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

function databaseUrl(env: Env): string {
  const value = nonEmpty(env.ROOMGATE_DATABASE_URL) ?? 'sqlite:./data/roomgate.db';
  if (!/^(sqlite:|postgres(ql)?:\/\/|mysql:\/\/|mariadb:\/\/)/.test(value)) {
    throw new ConfigError('ROOMGATE_DATABASE_URL', 'must start with sqlite:, postgres://, or mysql://');
  }
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
