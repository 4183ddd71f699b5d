/** `roomgate serve` (what `npm start` runs): the service, in sandbox mode when Twilio is not configured. */
import { ConfigError, loadConfig } from '../../service/config.js';
import { createLogger } from '../../service/logger.js';
import { withSandbox } from '../../service/sandbox-mode.js';
import { handleSignals, startServer } from '../../service/server.js';
import { redactDatabaseUrl } from '../../storage/store-errors.js';
import { parseOptions } from '../command.js';

export async function run(argv: string[]): Promise<number> {
  parseOptions(argv, { options: {} });
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`roomgate: configuration: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  const sandboxed = config.accounts.length === 0 ? await withSandbox(config) : undefined;
  const server = await startServer(sandboxed?.config ?? config, { logger, companions: sandboxed ? [sandboxed.sandbox] : [] });
  handleSignals(server, logger);

  const base = server.url;
  console.log('');
  console.log(`Roomgate is listening on ${base}  (database: ${redactDatabaseUrl(config.databaseUrl)})`);
  console.log(`  webhook:  POST ${config.publicUrl ?? base}/webhooks/twilio/video`);
  console.log(`  health:   ${base}/healthz   ready: ${base}/readyz   metrics: ${base}/metrics`);
  if (sandboxed) {
    console.log('');
    console.log(`SANDBOX MODE: no Twilio credentials are configured, so a built-in Twilio emulator runs at ${sandboxed.sandbox.url}`);
    console.log('  and signs its callbacks with a sandbox auth token kept in ./data/sandbox-credentials.json.');
    console.log('  Try a whole consultation against it:   npx roomgate demo');
    console.log('  Or by hand: npx roomgate tenant create my-clinic --name "My clinic" --kind human');
    console.log('              npx roomgate key create --tenant my-clinic --scopes consultations:read,consultations:write,tokens:issue');
    console.log(`              curl -X POST ${base}/v1/consultations -H "authorization: Bearer <key>"`);
  }
  console.log('');
  await new Promise(() => undefined); // runs until a signal stops the process
  return 0;
}
