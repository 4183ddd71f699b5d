import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A CLI command: parses its own arguments and returns the process exit code. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad usage; the CLI prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export async function runCommand(command: CommandModule, argv: string[]): Promise<number> {
  try {
    return await command.run(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`roomgate: ${error.message}`);
      return EXIT_USAGE;
    }
    console.error(`roomgate: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

/** node:util parseArgs, with its errors turned into UsageError (exit 2). */
// The return type is spelled out so a declaration build can name it (TS4058).
export function parseOptions<const T extends Omit<ParseArgsConfig, 'args' | 'strict'>>(
  argv: string[],
  config: T,
): ReturnType<typeof parseArgs<T & { strict: true }>> {
  try {
    return parseArgs<T & { strict: true }>({ ...config, args: argv, strict: true } as T & { strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
