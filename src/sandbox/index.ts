export { startSandbox, type Sandbox, type SandboxOptions } from './sandbox-server.js';
export { createSandboxCredentials, twilioSid, type SandboxCredentials } from './twilio-ids.js';
export { loadOrCreateSandboxCredentials, DEFAULT_SANDBOX_CREDENTIALS_FILE } from './sandbox-credentials-file.js';
export type { CallbackAttempt } from './callback-sender.js';
