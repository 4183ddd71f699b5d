/**
 * The `roomgate` command line: every command, its arguments and flags, declared once with
 * commander — which also gives `--help` everywhere, `help CMD` and `--version`. An action loads
 * its command module only when it runs, so `--help` and `sign` stay light.
 *
 * Exit codes: 0 success (and help, version), 1 failure of the operation, 2 bad usage —
 * a commander error, a UsageError, or a ConfigError naming the variable, the same line for
 * every command that reads it.
 */
import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../service/config-error.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';

/** Where help and errors go; the process's streams unless a test captures them. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: CliOutput = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** The program; `done` receives the exit code an action returned. */
export function buildProgram(done: (code: number) => void, output: CliOutput = processOutput): Command {
  const program = new Command('roomgate')
    .description('Verifies, records and bills Twilio Programmable Video consultations.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    // Our own `help`, so `roomgate help key create` reaches the nested command.
    .helpCommand(false)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 failure of the operation, 2 bad usage (including a bad environment variable).\nConfiguration comes from the environment: see the README, "Configuration".',
    );
  const run =
    <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      done(await action(...args));

  program
    .command('help')
    .description('show help for a command, e.g. roomgate help key create')
    .argument('[command...]', 'the command')
    .action((path: string[]) => {
      let target: Command = program;
      for (const name of path) {
        const next = target.commands.find((command) => command.name() === name);
        if (!next) throw new UsageError(`unknown command '${path.join(' ')}'; see roomgate --help`);
        target = next;
      }
      target.outputHelp();
      done(EXIT_OK);
    });

  program
    .command('serve')
    .description('run the service (what npm start runs); the sandbox Twilio stands in when no Twilio credentials are configured')
    .action(run(async () => (await import('./commands/serve.js')).serve()));

  program
    .command('migrate')
    .description('bring the database (ROOMGATE_DATABASE_URL) to the latest schema; safe twice and concurrently')
    .action(run(async () => (await import('./commands/migrate.js')).migrate()));

  const tenant = program.command('tenant').description('manage tenants');
  tenant
    .command('create')
    .description('create a tenant')
    .argument('<slug>', 'lower-case letters, digits and -, 2 to 63 characters')
    .requiredOption('--name <name>', 'display name')
    .addOption(
      new Option('--kind <kind>', 'human or veterinary (decides the roles)').choices(['human', 'veterinary']).makeOptionMandatory(),
    )
    .option('--rounding <seconds>', 'billing unit: billable time is rounded up to it', '60')
    .option('--retention-days <days>', 'how long its consultations are kept', '3650')
    .option('--rate-limit <perMinute>', 'requests a minute each of its API keys may make (default: ROOMGATE_RATE_LIMIT)')
    .option('--join-early <minutes>', 'how long before a scheduled consultation joining opens (default 15)')
    .option('--waiting-room', 'care recipients wait in the lobby until the clinician admits them')
    .addOption(
      new Option('--consent-mode <mode>', 'recording follows the consent ledger: all-parties, one-party, or off (record everyone)')
        .choices(['all-parties', 'one-party', 'off'])
        .default('all-parties'),
    )
    .option('--join-grace <minutes>', "how long after a scheduled consultation's end joining stays open (default 15)")
    .addOption(
      new Option(
        '--code-set <set>',
        'billing codes suggested in the evidence (default: us-cpt-2025 for human, flat for veterinary)',
      ).choices(['us-cpt-2025', 'us-medicare', 'flat']),
    )
    .addOption(
      new Option('--flat-mode <mode>', 'flat code set: one fee per visit, or per started billing unit (default visit)').choices([
        'visit',
        'block',
      ]),
    )
    .action(
      run(async (slug: string, options: TenantCreateOptions) => (await import('./commands/tenant.js')).createTenantCommand(slug, options)),
    );
  tenant
    .command('list')
    .description('list the tenants, one JSON object a line')
    .action(run(async () => (await import('./commands/tenant.js')).listTenantsCommand()));
  tenant
    .command('consent-mode')
    .description("set how the tenant's recording follows consent (rooms created from now on; docs/consent.md)")
    .argument('<slug>', 'the tenant')
    .addArgument(new Argument('<mode>', 'all-parties, one-party or off').choices(['all-parties', 'one-party', 'off']))
    .action(run(async (slug: string, mode: string) => (await import('./commands/tenant.js')).setConsentModeCommand(slug, mode)));

  const key = program.command('key').description('manage tenant API keys');
  key
    .command('create')
    .description('create an API key; prints it once (only its hash is stored)')
    .requiredOption('--tenant <slug>', 'the tenant')
    .requiredOption('--scopes <list>', 'comma list of scopes, e.g. consultations:read,consultations:write')
    .option('--expires <duration>', 'expiry, e.g. 90d or 12h (default: never)')
    .action(run(async (options: KeyCreateOptions) => (await import('./commands/key.js')).createKeyCommand(options)));
  key
    .command('list')
    .description('list API keys (never the keys themselves), one JSON object a line')
    .option('--tenant <slug>', 'only this tenant’s keys')
    .action(run(async (options: { tenant?: string }) => (await import('./commands/key.js')).listKeysCommand(options)));
  key
    .command('revoke')
    .description('revoke an API key; takes effect on the next request')
    .argument('<id>', 'the key id (from key create or key list)')
    .action(run(async (id: string) => (await import('./commands/key.js')).revokeKeyCommand(id)));

  const billing = program.command('billing').description('billing records');
  billing
    .command('verify')
    .description(
      "recompute each tenant's billing chain (every billing record version, hashed and chained) and name the first broken entry; exit 0 intact, 1 broken",
    )
    .option('--tenant <slug>', 'only this tenant')
    .action(run(async (options: { tenant?: string }) => (await import('./commands/billing.js')).verifyBillingCommand(options)));

  program
    .command('sign')
    .description('print the X-Twilio-Signature Twilio would send')
    .requiredOption('--url <url>', 'the URL exactly as configured at Twilio')
    .option('--token <token>', 'the auth token (default: TWILIO_AUTH_TOKEN, which keeps it out of the process list)')
    .option('--param <K=V>', 'a form parameter; repeatable, order kept', collect)
    .option('--body-file <file>', 'a form or JSON body (JSON: the URL gets its bodySHA256)')
    .addOption(new Option('--algorithm <algorithm>', 'HMAC').choices(['sha1', 'sha256']).default('sha1'))
    .action(run(async (options: SignOptions) => (await import('./commands/sign.js')).signCommand(options)));

  program
    .command('diagnose')
    .description('say whether a signature matches and, if not, the likely cause; exit 0 match, 1 no match')
    .requiredOption('--url <url>', 'the URL the request was received at')
    .option('--token <token>', 'the auth token (default: TWILIO_AUTH_TOKEN)')
    .requiredOption('--signature <signature>', 'the X-Twilio-Signature received')
    .option('--param <K=V>', 'a form parameter; repeatable, order kept', collect)
    .option('--body-file <file>', 'the body received (form or JSON)')
    .addOption(new Option('--algorithm <algorithm>', 'HMAC').choices(['sha1', 'sha256']).default('sha1'))
    .option('--prefix <path>', 'a path prefix a proxy may strip; repeatable', collect)
    .option('--public-url <url>', 'the callback URL configured at Twilio (its scheme, host, port and path are tried)')
    .option('--host <host>', 'a public host name Twilio may have called; repeatable', collect)
    .action(run(async (options: DiagnoseOptions) => (await import('./commands/diagnose.js')).diagnoseCommand(options)));

  program
    .command('sandbox')
    .description('run the Twilio emulator alone (src/sandbox/README.md) until SIGINT/SIGTERM')
    .option('--port <port>', 'port (0 picks a free one)', '8081')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--credentials <file>', 'where its credentials are kept (0600)', './data/sandbox-credentials.json')
    .action(run(async (options: SandboxOptions) => (await import('./commands/sandbox.js')).sandboxCommand(options)));

  program
    .command('simulate')
    .description('play whole consultations against a running Roomgate as Twilio would, with faults; exit 0 when every answer was right')
    .requiredOption('--url <url>', 'Roomgate’s base URL')
    .requiredOption('--key <key>', 'a tenant API key (scopes consultations:write, tokens:issue)')
    .option('--scenario <name>', 'a scenario to play; repeatable (default: all)', collect)
    .option('--account <sid>', 'Twilio account SID to sign as (default: the sandbox’s, from ./data)')
    .option('--token <token>', 'its auth token (with --account)')
    .option('--webhook-url <url>', 'the public webhook URL, when Roomgate is behind a proxy')
    .option('--sandbox <url>', 'the sandbox Twilio’s URL, to drive participants through it')
    .action(run(async (options: SimulateOptions) => (await import('./commands/simulate.js')).simulateCommand(options)));

  program
    .command('demo')
    .description('serve + sandbox + simulate on a fresh database, then a summary; honours PORT and HOST, else picks free ports')
    .option('--keep', 'keep the demo database directory')
    .action(run(async (options: { keep?: boolean }) => (await import('./commands/demo.js')).demo(options)));

  const webhooks = program.command('webhooks').description('outbound webhooks to tenants');
  webhooks
    .command('listen')
    .description('a local receiver: prints each delivery and whether its Standard Webhooks signature verified, until SIGINT/SIGTERM')
    .option('--port <port>', 'port (0 picks a free one)', '8082')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--secret <whsec>', 'the endpoint secret (or ROOMGATE_WEBHOOK_SECRET); two comma-separated during a rotation')
    .option('--body', 'print each delivery body too')
    .action(run(async (options: WebhooksListenOptions) => (await import('./commands/webhooks.js')).webhooksListenCommand(options)));

  program
    .command('reconcile')
    .description(
      'compare overdue consultations with Twilio’s REST API and add what callbacks never brought (the service does this on a timer); prints the report; exit 1 when one failed',
    )
    .option('--consultation <id>', 'only this consultation, overdue or not')
    .option('--dry-run', 'report what would change; nothing changes')
    .action(
      run(async (options: { consultation?: string; dryRun?: boolean }) =>
        (await import('./commands/reconcile.js')).reconcileCommand(options),
      ),
    );

  const consultation = program.command('consultation').description('operate on one consultation');
  consultation
    .command('complete')
    .description(
      'finish a consultation Twilio no longer knows: reconciles first, then ends its room at its last known event (audited); exit 1 when not found',
    )
    .argument('<id>', 'the consultation id')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--at <iso>', 'when the room ended (default: its last known event)')
    .action(
      run(async (id: string, options: { reason: string; at?: string }) =>
        (await import('./commands/reconcile.js')).completeConsultationCommand(id, options),
      ),
    );

  const retention = program.command('retention').description('data retention');
  retention
    .command('run')
    .description('remove what is past each tenant’s retention period; prints the report')
    .option('--dry-run', 'report only; nothing changes')
    .action(run(async (options: { dryRun?: boolean }) => (await import('./commands/retention.js')).retentionRun(options)));

  markRequired(program);
  return program;
}

/** Commander does not say which options are required; the help should. */
function markRequired(command: Command): void {
  for (const option of command.options) if (option.mandatory) option.description += ' (required)';
  for (const child of command.commands) markRequired(child);
}

export interface TenantCreateOptions {
  name: string;
  kind: 'human' | 'veterinary';
  rounding: string;
  retentionDays: string;
  rateLimit?: string;
  joinEarly?: string;
  joinGrace?: string;
  waitingRoom?: boolean;
  codeSet?: 'us-cpt-2025' | 'us-medicare' | 'flat';
  flatMode?: 'visit' | 'block';
  consentMode: 'all-parties' | 'one-party' | 'off';
}
export interface KeyCreateOptions {
  tenant: string;
  scopes: string;
  expires?: string;
}
export interface SignOptions {
  url: string;
  token?: string;
  param?: string[];
  bodyFile?: string;
  algorithm: string;
}
export interface DiagnoseOptions extends SignOptions {
  signature: string;
  prefix?: string[];
  publicUrl?: string;
  host?: string[];
}
export interface WebhooksListenOptions {
  port: string;
  host: string;
  secret?: string;
  body?: boolean;
}
export interface SandboxOptions {
  port: string;
  host: string;
  credentials: string;
}
export interface SimulateOptions {
  url: string;
  key: string;
  scenario?: string[];
  account?: string;
  token?: string;
  webhookUrl?: string;
  sandbox?: string;
}

/** Runs one command line; resolves with the exit code. Nothing here calls process.exit. */
export async function runCli(argv: readonly string[], output: CliOutput = processOutput): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((result) => (code = result), output);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    // Commander has printed its own message (or the help) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof ConfigError) {
      output.err(`roomgate: configuration: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      output.err(`roomgate: ${error.message}\n`);
      return EXIT_USAGE;
    }
    output.err(`roomgate: ${oneLine(error)}\n`);
    return EXIT_FAILURE;
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}
