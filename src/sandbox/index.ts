export { startSandbox, type Sandbox, type SandboxOptions } from './sandbox-server.js';
export { createSandboxCredentials, type SandboxCredentials } from './sandbox-credentials.js';
export { loadOrCreateSandboxCredentials, DEFAULT_SANDBOX_CREDENTIALS_FILE } from './sandbox-credentials-file.js';
export { twilioSid } from './twilio-ids.js';
export type { CallbackAttempt } from './callback-sender.js';
export type { SandboxComposition, SandboxParticipant, SandboxRecording, SandboxRoom, VideoEmulator } from './video-emulator.js';
export { SANDBOX_ERROR_CODES, SandboxTwilioError } from './sandbox-errors.js';
