/** `roomgate sandbox [--port P] [--host H]`: the Twilio emulator alone, until SIGINT/SIGTERM. */
import { loadOrCreateSandboxCredentials, DEFAULT_SANDBOX_CREDENTIALS_FILE } from '../../sandbox/sandbox-credentials-file.js';
import { startSandbox } from '../../sandbox/sandbox-server.js';
import { parseOptions, UsageError } from '../command.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, { options: { port: { type: 'string' }, host: { type: 'string' }, credentials: { type: 'string' } } });
  const port = Number(values.port ?? 8081);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number');
  const file = values.credentials ?? DEFAULT_SANDBOX_CREDENTIALS_FILE;
  const { credentials, created } = loadOrCreateSandboxCredentials(file);
  const sandbox = await startSandbox({ ...credentials, port, host: values.host ?? '127.0.0.1' });
  console.log(`Sandbox Twilio listening on ${sandbox.url}`);
  console.log(`  account ${credentials.accountSid}, API key ${credentials.apiKeySid}`);
  console.log(`  auth token and API key secret: ${file} (${created ? 'created now' : 'reused'}, mode 0600)`);
  console.log(`  REST: ${sandbox.url}/v1/Rooms, /v1/Compositions  ·  control: ${sandbox.url}/_sandbox/… (src/sandbox/README.md)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.close();
  return 0;
}
