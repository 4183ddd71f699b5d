import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createSandboxCredentials, isSandboxCredentials, type SandboxCredentials } from './sandbox-credentials.js';

export const DEFAULT_SANDBOX_CREDENTIALS_FILE = './data/sandbox-credentials.json';

/**
 * The sandbox account's credentials, kept in a 0600 file so that a restart (and `serve`,
 * `simulate`, `demo`) sign and verify with the same ones. Created on first use; a file that
 * exists but does not hold credentials is an error, never silently replaced (someone's
 * running service may depend on it).
 */
export function loadOrCreateSandboxCredentials(path = DEFAULT_SANDBOX_CREDENTIALS_FILE): {
  credentials: SandboxCredentials;
  created: boolean;
} {
  if (existsSync(path)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`${path} is not valid JSON; delete it to create new sandbox credentials`, { cause: error });
    }
    if (!isSandboxCredentials(parsed)) throw new Error(`${path} does not hold sandbox credentials; delete it to create new ones`);
    // Tighten a file whose mode was loosened (copied, restored from a backup): it holds secrets.
    chmodSync(path, 0o600);
    const { accountSid, authToken, apiKeySid, apiKeySecret } = parsed;
    return { credentials: Object.freeze({ accountSid, authToken, apiKeySid, apiKeySecret }), created: false };
  }
  const credentials = createSandboxCredentials();
  mkdirSync(dirname(path), { recursive: true });
  // Write then rename: a crash never leaves a half-written file, and the mode is 0600 from the start.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, path);
  chmodSync(path, 0o600);
  return { credentials, created: true };
}
