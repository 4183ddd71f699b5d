/**
 * A bad variable gets the same line and exit 2 from every command that reads it, before the
 * command does anything. In process (runCli, exactly what main.ts runs) for the whole matrix;
 * as processes for a sample, so the exit status is the process's own.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { runRoomgate } from '../support/roomgate-process.js';

/** Commands (with valid arguments) and the variables each reads. */
const DATABASE_COMMANDS = [
  ['serve'],
  ['migrate'],
  ['tenant', 'create', 'a-clinic', '--name', 'A', '--kind', 'human'],
  ['tenant', 'list'],
  ['key', 'create', '--tenant', 'a-clinic', '--scopes', 'consultations:read'],
  ['key', 'list'],
  ['key', 'revoke', 'key_1'],
  ['retention', 'run', '--dry-run'],
];
const LOGGING_COMMANDS = [['serve'], ['retention', 'run'], ['sandbox', '--port', '0']];
const LISTENING_COMMANDS = [['serve'], ['demo']];

const missingDirectory = join(tmpdir(), `roomgate-no-such-directory-${process.pid}`);
const CASES: [Record<string, string>, string[][], string][] = [
  [
    { ROOMGATE_DATABASE_URL: 'oracle://db.example/rg' },
    DATABASE_COMMANDS,
    'ROOMGATE_DATABASE_URL: must be sqlite:PATH, postgres://…, or mysql://… (also mariadb://)',
  ],
  [
    { ROOMGATE_DATABASE_URL: `sqlite:${missingDirectory}/rg.db` },
    DATABASE_COMMANDS,
    `ROOMGATE_DATABASE_URL: the directory ${missingDirectory} does not exist`,
  ],
  [{ LOG_LEVEL: 'loud' }, LOGGING_COMMANDS, 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent'],
  [{ PORT: 'eighty' }, LISTENING_COMMANDS, 'PORT: must be an integer from 0 to 65535'],
  [{ HOST: 'bad host!' }, LISTENING_COMMANDS, 'HOST: must be an IP address or a host name'],
];

describe('a bad variable: the same line and exit 2 from every command that reads it', () => {
  const saved = { ...process.env };
  const cwd = process.cwd();
  beforeAll(() => process.chdir(mkdtempSync(join(tmpdir(), 'roomgate-config-errors-'))));
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });
  afterAll(() => process.chdir(cwd));

  it.each(
    CASES.flatMap(([env, commands, message]) =>
      commands.map((argv) => [Object.keys(env)[0]!, argv.join(' '), env, argv, message] as const),
    ),
  )('%s × roomgate %s', async (_name, _command, env, argv, message) => {
    for (const name of ['ROOMGATE_DATABASE_URL', 'LOG_LEVEL', 'PORT', 'HOST', 'ROOMGATE_CONFIG', 'NODE_ENV']) delete process.env[name];
    for (const name of Object.keys(process.env)) if (name.startsWith('TWILIO_')) delete process.env[name];
    Object.assign(process.env, env);
    let err = '';
    const code = await runCli(argv, { out: () => undefined, err: (text) => (err += text) });
    expect({ code, err }).toEqual({ code: 2, err: `roomgate: configuration: ${message}\n` });
  });
});

describe('as processes', () => {
  it('ROOMGATE_DATABASE_URL in a missing directory: migrate and key list say the same, exit 2, and create nothing', async () => {
    const env = { ROOMGATE_DATABASE_URL: `sqlite:${missingDirectory}/typo/rg.db` };
    const results = await Promise.all([runRoomgate(['migrate'], { env }), runRoomgate(['key', 'list'], { env })]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`roomgate: configuration: ROOMGATE_DATABASE_URL: the directory ${missingDirectory}/typo does not exist\n`);
    }
    expect(existsSync(missingDirectory)).toBe(false);
  });

  it('demo honours PORT: a PORT in use is a start-up failure naming it', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const result = await runRoomgate(['demo'], { env: { PORT: String(port) } });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`roomgate: cannot listen on 127.0.0.1:${port} (HOST, PORT): the address is already in use\n`);
      expect(result.leftRunning).toBe(false);
    } finally {
      busy.close();
    }
  });
});
