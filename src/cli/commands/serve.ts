/**
 * `roomgate serve` (what `npm start` runs): the service, in sandbox mode when Twilio is not
 * configured. A bad variable → ConfigError (exit 2); a start-up failure → one line, exit 1,
 * nothing left running; then it runs until SIGTERM/SIGINT (server.ts handles the signals).
 */
import { loadConfig } from '../../service/config.js';
import { createLogger } from '../../service/logger.js';
import { handleSignals, startServer, StartupError, type RunningServer } from '../../service/server.js';
import { redactDatabaseUrl } from '../../storage/store-errors.js';
import { startSandboxMode, type SandboxMode } from '../sandbox-mode.js';
import { WALKTHROUGH } from '../sandbox-walkthrough.js';

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel });
  let sandboxMode: SandboxMode | undefined;
  let server: RunningServer;
  try {
    if (config.sandbox) sandboxMode = await startSandboxMode(config, { logger });
    // startServer closes the sandbox (a companion) itself if it fails.
    // In sandbox mode Roomgate follows the sandbox's clock: moving it (`AdvanceSeconds`) moves
    // both, so callbacks stay fresh and a consultation of any length completes and bills.
    const sandbox = sandboxMode?.sandbox;
    server = await startServer(sandboxMode?.config ?? config, {
      logger,
      companions: sandbox ? [sandbox] : [],
      ...(sandbox ? { clock: () => sandbox.now() } : {}),
    });
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw new StartupError(`cannot start the sandbox: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  handleSignals(server, {
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    // Sandbox mode has no secrets to reload: the sandbox's account stays in force.
    reloadAccounts: sandboxMode ? () => sandboxMode.accounts : () => loadConfig(env).accounts,
  });
  printBanner(server, config.publicUrl, config.databaseUrl, sandboxMode);
  await new Promise(() => undefined); // runs until a signal stops the process
  return 0;
}

function printBanner(server: RunningServer, publicUrl: string | undefined, databaseUrl: string, sandboxMode: SandboxMode | undefined) {
  const base = server.url;
  const lines = [
    '',
    `Roomgate is listening on ${base}  (database: ${redactDatabaseUrl(databaseUrl)})`,
    `  webhook:  POST ${publicUrl ?? base}/webhooks/twilio/video`,
    `  health:   ${base}/healthz   ready: ${base}/readyz`,
    `  metrics:  ${server.metricsUrl ?? 'off (ROOMGATE_METRICS_PORT=off)'}  (never on the public port)`,
  ];
  if (sandboxMode) {
    lines.push(
      '',
      `SANDBOX MODE: no Twilio credentials are configured, so the built-in Twilio emulator runs at ${sandboxMode.sandbox.url}`,
      `  and signs its callbacks with a sandbox auth token kept in ${sandboxMode.credentialsFile}. /readyz says "twilio":"sandbox".`,
      '  The whole thing at once:   npx roomgate demo',
      '  Step by step, in another terminal in this directory (bash, curl, node; every step is',
      '  explained in src/sandbox/README.md, "A consultation by hand"):',
      '',
      `    ROOMGATE=${base} SANDBOX=${sandboxMode.sandbox.url}`,
      ...WALKTHROUGH.map((line) => `    ${line}`),
    );
  }
  console.log([...lines, ''].join('\n'));
}
