/**
 * Sandbox mode: with no Twilio credentials configured, the built-in emulator stands in for
 * Twilio. Its credentials live in ./data (0600) so restarts, `simulate` and `demo` share them.
 */
import { loadOrCreateSandboxCredentials } from '../sandbox/sandbox-credentials-file.js';
import { startSandbox, type Sandbox } from '../sandbox/sandbox-server.js';
import type { Config } from './config.js';

export async function withSandbox(
  config: Config,
  options: { credentialsFile?: string; port?: number } = {},
): Promise<{ config: Config; sandbox: Sandbox }> {
  const { credentials } = loadOrCreateSandboxCredentials(options.credentialsFile);
  const sandbox = await startSandbox({ ...credentials, port: options.port ?? 0, host: '127.0.0.1' });
  return {
    sandbox,
    config: Object.freeze({
      ...config,
      accounts: Object.freeze([{ accountSid: credentials.accountSid, authTokens: [credentials.authToken], sharedKeys: [] }]),
      apiKey: { sid: credentials.apiKeySid, secret: credentials.apiKeySecret },
      apiBaseUrl: sandbox.url,
    }),
  };
}
