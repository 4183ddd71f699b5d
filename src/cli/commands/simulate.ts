/**
 * `roomgate simulate --url URL --key API_KEY [--scenario NAME]… [--account AC… --token T]
 *  [--webhook-url PUBLIC_URL] [--sandbox SANDBOX_URL]`. Without --account/--token, the sandbox credentials in ./data are
 * used (the ones `npm start` signs with in sandbox mode). Exit 0 when every answer was the one
 * the contract requires.
 */
import { loadOrCreateSandboxCredentials } from '../../sandbox/sandbox-credentials-file.js';
import { SCENARIOS, simulate, type ScenarioName } from '../../simulate/simulator.js';
import { parseOptions, UsageError } from '../command.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, {
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      account: { type: 'string' },
      token: { type: 'string' },
      'webhook-url': { type: 'string' },
      sandbox: { type: 'string' },
    },
  });
  if (!values.url || !values.key) throw new UsageError('usage: roomgate simulate --url ROOMGATE_URL --key API_KEY [--scenario NAME]…');
  const scenarios = (values.scenario ?? [...SCENARIOS]) as ScenarioName[];
  const unknown = scenarios.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length) throw new UsageError(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  if (Boolean(values.account) !== Boolean(values.token)) throw new UsageError('--account and --token go together');
  const credentials =
    values.account && values.token ? { accountSid: values.account, authToken: values.token } : loadOrCreateSandboxCredentials().credentials;
  const report = await simulate(
    {
      baseUrl: values.url.replace(/\/+$/, ''),
      webhookUrl: values['webhook-url'],
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
