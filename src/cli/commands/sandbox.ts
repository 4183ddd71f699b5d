/**
 * `roomgate sandbox [--port P] [--host H] [--credentials FILE]`: the Twilio emulator alone,
 * until SIGINT/SIGTERM. Its credentials are kept in a 0600 file and reused on the next start;
 * the secrets are never printed, only where they are.
 */
import { dirname, join, resolve } from 'node:path';
import { loadOrCreateSandboxCredentials } from '../../sandbox/sandbox-credentials-file.js';
import { startSandbox } from '../../sandbox/sandbox-server.js';
import { logLevelFrom } from '../../service/config.js';
import { createLogger } from '../../service/logger.js';
import { EXIT_OK, UsageError } from '../command.js';
import type { SandboxOptions } from '../program.js';

export async function sandboxCommand(options: SandboxOptions): Promise<number> {
  const portText = options.port;
  if (!/^\d+$/.test(portText) || Number(portText) > 65_535) throw new UsageError('--port must be a port number (0–65535)');
  const host = options.host;
  if (host.trim() === '') throw new UsageError('--host must not be empty');
  const file = options.credentials;
  const logger = createLogger({ level: logLevelFrom() });

  // Listen for signals before anything is printed: a signal right after the banner must stop
  // the sandbox cleanly, not kill the process.
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  const { credentials, created } = loadOrCreateSandboxCredentials(file);
  // Rooms and compositions survive a restart, kept beside the credentials.
  const stateFile = join(dirname(file), 'sandbox-state.json');
  const sandbox = await startSandbox({ ...credentials, port: Number(portText), host, logger, stateFile });

  console.log('');
  console.log(`Sandbox Twilio listening on ${sandbox.url}`);
  console.log(`  account SID:  ${credentials.accountSid}`);
  console.log(`  API key SID:  ${credentials.apiKeySid}`);
  console.log(`  auth token and API key secret: in ${file} (mode 0600, ${created ? 'created now' : 'reused'})`);
  console.log(`  rooms and compositions: kept in ${stateFile} across restarts`);
  console.log(`  REST:     ${sandbox.url}/v1/Rooms, ${sandbox.url}/v1/Compositions  (HTTP Basic: API key SID and secret)`);
  console.log(`  control:  ${sandbox.url}/_sandbox/…  (same auth; routes in src/sandbox/README.md), e.g.`);
  console.log(`            SECRET=$(node -p "require('${resolve(file)}').apiKeySecret")`);
  console.log(
    `            curl -u ${credentials.apiKeySid}:$SECRET -d Identity=patient-1 ${sandbox.url}/_sandbox/Rooms/<room>/Participants`,
  );
  console.log(`  Roomgate: TWILIO_API_BASE_URL=${sandbox.url} with these credentials (npm start does this by itself)`);
  console.log('');

  await stopped;
  await sandbox.close();
  return EXIT_OK;
}
