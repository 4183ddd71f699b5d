/**
 * Sandbox mode: with no Twilio credentials configured, the built-in emulator stands in for
 * Twilio. The CLI composes the two (the service never imports the emulator): it starts the
 * sandbox and hands the service a configuration with the sandbox's account, API key and URL.
 * The credentials live in ./data (0600) so restarts, `simulate` and `demo` share them; so do
 * the sandbox's rooms and compositions (./data/sandbox-state.json), so a restart forgets none.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_SANDBOX_CREDENTIALS_FILE, loadOrCreateSandboxCredentials } from '../sandbox/sandbox-credentials-file.js';
import type { SandboxCredentials } from '../sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../sandbox/sandbox-server.js';
import type { Config, TwilioAccountConfig } from '../service/config.js';

export interface SandboxMode {
  readonly sandbox: Sandbox;
  readonly credentials: SandboxCredentials;
  readonly credentialsFile: string;
  /** The service's configuration with the sandbox in Twilio's place (`sandbox` stays true). */
  readonly config: Config;
  /** The sandbox's account: what SIGHUP keeps in force. */
  readonly accounts: readonly TwilioAccountConfig[];
}

export async function startSandboxMode(
  config: Config,
  options: { credentialsFile?: string; port?: number; logger?: Logger } = {},
): Promise<SandboxMode> {
  const credentialsFile = options.credentialsFile ?? DEFAULT_SANDBOX_CREDENTIALS_FILE;
  const { credentials } = loadOrCreateSandboxCredentials(credentialsFile);
  const sandbox = await startSandbox({
    ...credentials,
    // Its rooms survive a restart: kept beside the credentials, in ./data.
    stateFile: join(dirname(credentialsFile), 'sandbox-state.json'),
    port: options.port ?? 0,
    host: '127.0.0.1',
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const accounts = Object.freeze([
    Object.freeze({ accountSid: credentials.accountSid, authTokens: [credentials.authToken], sharedKeys: [] }),
  ]);
  return {
    sandbox,
    credentials,
    credentialsFile,
    accounts,
    config: Object.freeze({
      ...config,
      sandbox: true,
      accounts,
      apiKey: { sid: credentials.apiKeySid, secret: credentials.apiKeySecret },
      apiBaseUrl: sandbox.url,
    }),
  };
}
