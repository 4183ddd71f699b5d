/**
 * `roomgate <command> …` — parses nothing itself: each command module owns its arguments.
 * Exit codes: 0 success, 1 failure of the operation, 2 bad usage.
 */
import { runCommand, type CommandModule } from './command.js';

const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import('./commands/serve.js'),
  migrate: () => import('./commands/migrate.js'),
  sign: () => import('./commands/sign.js'),
  diagnose: () => import('./commands/diagnose.js'),
  sandbox: () => import('./commands/sandbox.js'),
  simulate: () => import('./commands/simulate.js'),
  demo: () => import('./commands/demo.js'),
  tenant: () => import('./commands/tenant.js'),
  key: () => import('./commands/key.js'),
  retention: () => import('./commands/retention.js'),
};

const [name, ...rest] = process.argv.slice(2);
const load = name ? commands[name] : undefined;
if (!load) {
  console.error(name ? `roomgate: unknown command '${name}'` : 'usage: roomgate <command> [options]');
  console.error(`commands: ${Object.keys(commands).join(', ')}`);
  process.exit(2);
}
process.exitCode = await runCommand(await load(), rest);
