/**
 * The OpenAPI document as this build's routes declare it, without a server or a real database:
 * an app over an in-memory SQLite store, with a placeholder Twilio account so that every
 * route registers. `npm run openapi` writes it to docs/openapi.json; a test compares the two.
 */
import { createLogger } from '../logger.js';
import { loadConfig } from '../config.js';
import { openStore } from '../../storage/open-store.js';
import { buildApp } from '../app.js';

const PLACEHOLDER = {
  TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
  TWILIO_AUTH_TOKEN: '0'.repeat(32),
  TWILIO_API_KEY_SID: `SK${'0'.repeat(32)}`,
  TWILIO_API_KEY_SECRET: '0'.repeat(32),
  ROOMGATE_PUBLIC_URL: 'http://localhost:8080',
  ROOMGATE_DATABASE_URL: 'sqlite::memory:',
};

export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const logger = createLogger({ level: 'silent' });
  const store = await openStore(PLACEHOLDER.ROOMGATE_DATABASE_URL, { logger });
  try {
    await store.migrate();
    const app = await buildApp({ config: loadConfig(PLACEHOLDER), store, logger, outboxWorker: false });
    try {
      await app.ready();
      return app.swagger() as unknown as Record<string, unknown>;
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
  }
}

/** The committed form: two-space JSON and a final newline. */
export function serializeOpenApiDocument(document: Record<string, unknown>): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
