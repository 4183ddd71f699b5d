/**
 * The running service: opens the store, migrates, builds the app, listens, and handles the
 * process signals — SIGHUP reloads the Twilio secrets from ROOMGATE_CONFIG without a restart,
 * SIGTERM/SIGINT stop accepting, finish in-flight requests and commits, stop the outbox
 * worker, then exit.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openStore } from '../storage/open-store.js';
import { redactDatabaseUrl } from '../storage/store-errors.js';
import type { Store } from '../storage/store.js';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { createPostgresLiveEvents } from './live/live-events.js';
import { createLogger } from './logger.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly url: string;
  close(): Promise<void>;
}

export async function startServer(
  config: Config,
  options: { logger?: Logger; /** Stopped after the app, e.g. the sandbox. */ companions?: { close(): Promise<void> }[] } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  if (config.databaseUrl.startsWith('sqlite:') && !config.databaseUrl.includes(':memory:')) {
    mkdirSync(dirname(config.databaseUrl.slice('sqlite:'.length)), { recursive: true });
  }
  const store = await openStore(config.databaseUrl, { logger });
  try {
    const applied = await store.migrate();
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
    const live = store.engine === 'postgres' ? await createPostgresLiveEvents({ connectionString: config.databaseUrl, logger }) : undefined;
    const app = await buildApp({ config, store, logger, retention: true, ...(live ? { live } : {}) });
    if (live) app.addHook('onClose', () => live.close());
    const address = await app.listen({ port: config.port, host: config.host });
    logger.info({ address, database: redactDatabaseUrl(config.databaseUrl), engine: store.engine }, 'roomgate listening');
    return {
      app,
      store,
      url: address,
      async close() {
        await app.close();
        for (const companion of options.companions ?? []) await companion.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}

/** Wires SIGHUP (reload secrets) and SIGTERM/SIGINT (graceful stop) for a running server. */
export function handleSignals(server: RunningServer, logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  process.on('SIGHUP', () => {
    try {
      const next = loadConfig(env);
      server.app.roomgate.setAccounts(next.accounts);
      server.app.roomgate.audit.record({
        tenantId: null,
        actor: 'operator',
        action: 'config.reload',
        target: 'twilio-secrets',
        outcome: 'applied',
        detail: { accounts: next.accounts.length },
      });
      logger.info(
        { accounts: next.accounts.map((account) => ({ accountSid: account.accountSid, tokens: account.authTokens.length })) },
        'Twilio secrets reloaded',
      );
    } catch (error) {
      logger.error({ err: error }, 'reload refused; the previous secrets stay in force');
    }
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests and commits');
    server
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'unclean stop');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
