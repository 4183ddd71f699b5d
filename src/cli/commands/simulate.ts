/**
 * `roomgate simulate --url URL --key API_KEY [--scenario NAME]… [--account AC… --token T]
 *  [--webhook-url PUBLIC_URL] [--sandbox SANDBOX_URL]`. Without --account/--token, the sandbox credentials in ./data are
 * used (the ones `npm start` signs with in sandbox mode). Exit 0 when every answer was the one
 * the contract requires.
 */
import { loadOrCreateSandboxCredentials } from '../../sandbox/sandbox-credentials-file.js';
import { SCENARIOS, simulate, type ScenarioName } from '../../simulate/simulator.js';
import { UsageError } from '../command.js';
import type { SimulateOptions } from '../program.js';

export async function simulateCommand(values: SimulateOptions): Promise<number> {
  const scenarios = (values.scenario ?? [...SCENARIOS]) as ScenarioName[];
  const unknown = scenarios.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length) throw new UsageError(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  if (Boolean(values.account) !== Boolean(values.token)) throw new UsageError('--account and --token go together');
  const credentials =
    values.account && values.token ? { accountSid: values.account, authToken: values.token } : loadOrCreateSandboxCredentials().credentials;
  const report = await simulate(
    {
      baseUrl: values.url.replace(/\/+$/, ''),
      webhookUrl: values.webhookUrl,
      sandboxUrl: values.sandbox,
      apiKey: values.key,
      accountSid: credentials.accountSid,
      authToken: credentials.authToken,
    },
    { scenarios, log: (line) => console.log(line) },
  );
  const failed = report.results.filter((result) => result.answered !== result.expected);
  console.log(`\n${report.results.length} callbacks sent, ${failed.length} answered differently from the contract`);
  return failed.length === 0 ? 0 : 1;
}
