/**
 * The running service: opens the store, migrates, builds the app, listens (the public port and
 * the metrics listener), and handles the process signals — SIGHUP reloads the Twilio secrets
 * without a restart, SIGTERM/SIGINT stop accepting, end live streams, finish in-flight requests
 * and commits, stop the workers, then exit; a second signal exits at once.
 *
 * A start-up failure leaves nothing running: whatever was opened is closed again (workers,
 * timers, listeners, the store, the companions such as the sandbox) and StartupError says why
 * in one line.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openStore } from '../storage/open-store.js';
import { isStoreUnavailable, redactDatabaseUrl } from '../storage/store-errors.js';
import type { Store } from '../storage/store.js';
import { buildApp } from './app.js';
import type { Config, TwilioAccountConfig } from './config.js';
import { createPostgresLiveEvents } from './live/live-events.js';
import { createLogger } from './logger.js';
import { buildMetricsApp } from './metrics-app.js';
import { createMetrics } from './metrics.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly url: string;
  /** Where `/metrics` is served; undefined when the metrics listener is off. */
  readonly metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** The service could not start; the message is one line, without secrets. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

interface Companion {
  close(): Promise<void>;
}

export async function startServer(
  config: Config,
  options: {
    logger?: Logger;
    /** Stopped after the app, and also when start-up fails: e.g. the sandbox. */
    companions?: readonly Companion[];
    /** The service's notion of now; in sandbox mode, the sandbox's clock (so moving it moves Roomgate's too). */
    clock?: () => Date;
  } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  // Closed in reverse order if start-up fails half-way; the companions come first in the list
  // so they are closed last, after the app that talks to them.
  const opened: Companion[] = [...(options.companions ?? [])];
  const closeOpened = async () => {
    for (const resource of opened.reverse()) await resource.close().catch(() => undefined);
  };
  const database = redactDatabaseUrl(config.databaseUrl);
  try {
    // Only the default ./data gets here without its directory (config refuses other missing ones).
    if (config.databaseUrl.startsWith('sqlite:') && !config.databaseUrl.includes(':memory:')) {
      mkdirSync(dirname(config.databaseUrl.slice('sqlite:'.length)), { recursive: true });
    }
    const { startupWaitMs, ...timeouts } = config.database;
    const metrics = createMetrics();
    const store = await openStore(config.databaseUrl, {
      logger,
      ...timeouts,
      sqliteThread: config.sqliteThread,
      onSqliteThreadRestart: () => metrics.sqliteThreadRestarts.inc(),
    }).catch((error: unknown) => {
      throw new StartupError(`cannot open the database ${database}: ${reason(error)}`, { cause: error });
    });
    opened.push(store);
    // A database that is down (restarting, failing over, not up yet) is waited for, within bounds.
    const applied = await untilDatabaseAnswers(() => store.migrate(), { waitMs: startupWaitMs, logger, database }).catch(
      (error: unknown) => {
        throw new StartupError(`cannot migrate the database ${database}: ${reason(error)}`, { cause: error });
      },
    );
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
    const live =
      store.engine === 'postgres'
        ? await createPostgresLiveEvents({
            connectionString: config.databaseUrl,
            logger,
            onListenLost: () => metrics.liveListenLost.inc(),
            onListening: (listening) => metrics.liveListening.set(listening ? 1 : 0),
          })
        : undefined;
    if (live) opened.push(live);
    const app = await buildApp({
      config,
      store,
      logger,
      metrics,
      retention: true,
      reconcile: true,
      noShows: true,
      ...(live ? { live } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(projectionThread(config, options.clock !== undefined)
        ? {
            projectionThread: {
              databaseUrl: config.databaseUrl,
              store: { ...timeouts, poolSize: 4 },
              // A fifth of the shutdown budget (2 s of 10), after the requests' commit deadline: a
              // fold stuck on a silent database is cut, not waited out past
              // ROOMGATE_SHUTDOWN_TIMEOUT (the next start's sweep folds what is left).
              stopTimeoutMs: Math.max(1000, Math.floor(config.shutdownTimeoutMs / 5)),
              ...projectionPace(store.engine),
            },
          }
        : {}),
    });
    opened.push(app);
    const metricsApp = buildMetricsApp({ metrics: app.roomgate.metrics, logger });
    opened.push(metricsApp);

    const address = await listen(app, config.host, config.port, 'HOST, PORT');
    const metricsUrl = config.metrics
      ? await listen(metricsApp, config.metrics.host, config.metrics.port, 'ROOMGATE_METRICS_HOST, ROOMGATE_METRICS_PORT')
      : undefined;
    logger.info({ address, metrics: metricsUrl ?? 'off', database, engine: store.engine }, 'roomgate listening');
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      url: address,
      metricsUrl: metricsUrl === undefined ? undefined : `${metricsUrl}/metrics`,
      close() {
        closing ??= (async () => {
          // Stop accepting first; then what the app used (sandbox, metrics, live, store).
          await app.close();
          for (const companion of options.companions ?? []) await companion.close();
          // Side by side: each waits at most 1 s for a silent database (storage/pool-sockets.ts).
          await Promise.all([metricsApp.close(), live?.close(), store.close()]);
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeOpened();
    if (error instanceof StartupError) throw error;
    throw new StartupError(reason(error), { cause: error });
  }
}

/**
 * Whether callbacks are folded in a worker thread (ROOMGATE_PROJECTION_THREAD, default on): not
 * for an in-memory SQLite database (a second connection would see another, empty one), nor with
 * a clock of the caller's (sandbox mode moves it; a thread has only the real one).
 */
function projectionThread(config: Config, ownClock: boolean): boolean {
  return config.projectionThread && !ownClock && !/^sqlite:(\/\/)?:memory:/.test(config.databaseUrl.trim());
}

/**
 * How the record thread paces itself (its PostgreSQL/MySQL pool has 4 connections: two inbox
 * group commits, one fold transaction at a time, and the sweep). SQLite: one write lock for the file, shared with the
 * webhook's group commit, and a fsync per commit — fewer, larger fold transactions (up to 100
 * consultations) with a 5 ms pause between them, so inbox commits get in. PostgreSQL/MySQL: the
 * worker's default (10 per transaction: their row locks are held briefly).
 */
function projectionPace(engine: string): { batchSize?: number; pauseMs?: number } {
  return engine === 'sqlite' ? { batchSize: 100, pauseMs: 5 } : {};
}

/**
 * Runs `attempt` until it succeeds, retrying while the store is unavailable — with backoff from
 * 250 ms to 5 s, one log line per attempt — for at most `waitMs`. Any other failure (a bad
 * migration, a file that is not a database) ends it at once.
 */
async function untilDatabaseAnswers<T>(
  attempt: () => Promise<T>,
  options: { waitMs: number; logger: Logger; database: string },
): Promise<T> {
  const giveUpAt = Date.now() + options.waitMs;
  let delay = 250;
  for (let count = 1; ; count += 1) {
    try {
      return await attempt();
    } catch (error) {
      const remaining = giveUpAt - Date.now();
      if (!isStoreUnavailable(error) || remaining <= 0) throw error;
      const retryInMs = Math.min(delay, remaining);
      options.logger.warn(
        { attempt: count, retryInMs, database: options.database, reason: reason(error) },
        'database not reachable at start-up; retrying (ROOMGATE_DB_STARTUP_WAIT)',
      );
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
      delay = Math.min(5000, delay * 2);
    }
  }
}

async function listen(app: FastifyInstance, host: string, port: number, variables: string): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (error) {
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    throw new StartupError(`cannot listen on ${where} (${variables}): ${reason(error)}`, { cause: error });
  }
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'the address is not one of this machine’s',
  EACCES: 'permission denied',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

/** One line: a known code's meaning, else the error's own message. */
function reason(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && LISTEN_ERRORS[code]) return LISTEN_ERRORS[code];
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim() || 'unknown error';
}

export interface SignalOptions {
  readonly logger: Logger;
  /** After it, a stop still under way ends with exit 1. */
  readonly shutdownTimeoutMs: number;
  /** The Twilio accounts a SIGHUP puts in force; throwing (or none) refuses the reload. */
  readonly reloadAccounts: () => readonly TwilioAccountConfig[];
  /** process.exit, replaceable in tests. */
  readonly exit?: (code: number) => void;
}

/** Wires SIGHUP (reload secrets) and SIGTERM/SIGINT (graceful stop) for a running server. */
export function handleSignals(server: RunningServer, options: SignalOptions): void {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  process.on('SIGHUP', () => {
    try {
      const accounts = options.reloadAccounts();
      if (accounts.length === 0) throw new Error('the reload would leave no Twilio account');
      server.app.roomgate.setAccounts(accounts);
      server.app.roomgate.audit.record({
        tenantId: null,
        actor: 'operator',
        action: 'config.reload',
        target: 'twilio-secrets',
        outcome: 'applied',
        detail: { accounts: accounts.length },
      });
      logger.info(
        { accounts: accounts.map((account) => ({ accountSid: account.accountSid, tokens: account.authTokens.length })) },
        'Twilio secrets reloaded',
      );
    } catch (error) {
      // The message names the variable and the problem, never a value read from the file.
      logger.error(
        { reason: error instanceof Error ? error.message : String(error) },
        'reload refused; the previous secrets stay in force',
      );
    }
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`roomgate: second ${signal} while stopping: exiting at once`);
      exit(1);
      return;
    }
    stopping = true;
    logger.info(
      { signal, timeoutMs: options.shutdownTimeoutMs },
      'stopping: ending live streams, finishing in-flight requests and commits',
    );
    const timer = setTimeout(() => {
      console.error(`roomgate: the stop took longer than ROOMGATE_SHUTDOWN_TIMEOUT (${options.shutdownTimeoutMs} ms): exiting`);
      exit(1);
    }, options.shutdownTimeoutMs);
    server.close().then(
      () => {
        clearTimeout(timer);
        logger.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        console.error(`roomgate: unclean stop: ${reason(error)}`);
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
