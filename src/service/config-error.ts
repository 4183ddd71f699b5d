/**
 * A bad configuration value: the message starts with the variable's name and never holds a
 * secret. Its own file, so the CLI can recognise it without loading config.ts and its drivers.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}
