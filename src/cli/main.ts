/**
 * `roomgate <command> …` — the commands are declared in program.ts.
 * Exit codes: 0 success, 1 failure of the operation, 2 bad usage.
 */
import { runCli } from './program.js';

// A reader that stops early (`roomgate --help | head`) closes the pipe under us: end quietly with
// the command's code, as Unix tools do, instead of dying of an unhandled EPIPE. The service's log
// does not go through process.stdout, so this never hides a serving process's failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// A command that has returned has closed what it opened, so the process ends by itself. If a
// handle was left open anyway, say so and end it: a supervisor must never wait on a process
// whose work is over.
setTimeout(() => {
  process.stderr.write('roomgate: something was still open after the command ended; exiting\n');
  process.exit(code);
}, 2000).unref();
