import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createSandboxCredentials, type SandboxCredentials } from './twilio-ids.js';

export const DEFAULT_SANDBOX_CREDENTIALS_FILE = './data/sandbox-credentials.json';

/**
 * The sandbox account's credentials, kept in a 0600 file so a restart (and `roomgate simulate`)
 * use the same ones. Created on first use.
 */
export function loadOrCreateSandboxCredentials(path = DEFAULT_SANDBOX_CREDENTIALS_FILE): { credentials: SandboxCredentials; created: boolean } {
  if (existsSync(path)) {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as SandboxCredentials;
    if (parsed.accountSid && parsed.authToken && parsed.apiKeySid && parsed.apiKeySecret) return { credentials: parsed, created: false };
  }
  const credentials = createSandboxCredentials();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { credentials, created: true };
}
