/**
 * The command line's help and usage, over commander's own list of commands (so a command added
 * later is covered without touching this file): every command's `--help` and `help CMD` exit 0,
 * bad usage exits 2, and the README's CLI section names every command and every flag.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { runRoomgate, ROOT } from '../../test/support/roomgate-process.js';
import { buildProgram, runCli } from './program.js';

/** Every command of the tree, as the words that name it: ['key', 'create'], … */
function commandPaths(command: Command, prefix: string[] = []): { path: string[]; command: Command }[] {
  return command.commands.flatMap((child) => {
    const path = [...prefix, child.name()];
    return [{ path, command: child }, ...commandPaths(child, path)];
  });
}

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

const program = buildProgram(() => undefined);
const paths = commandPaths(program).filter(({ path }) => path[0] !== 'help' && path.at(-1) !== 'help');

describe('roomgate help', () => {
  it('knows the commands of the contract', () => {
    expect(paths.map(({ path }) => path.join(' '))).toEqual(
      expect.arrayContaining([
        'serve',
        'migrate',
        'tenant create',
        'tenant list',
        'key create',
        'key list',
        'key revoke',
        'sign',
        'diagnose',
        'sandbox',
        'simulate',
        'demo',
        'retention run',
        'reconcile',
        'consultation complete',
        'webhooks listen',
      ]),
    );
  });

  it.each(paths.map(({ path }) => path.join(' ')))('roomgate %s --help, -h, and roomgate help …: exit 0 with its usage', async (name) => {
    const path = name.split(' ');
    for (const argv of [
      [...path, '--help'],
      [...path, '-h'],
      ['help', ...path],
    ]) {
      const result = await cli(argv);
      expect({ argv, code: result.code, err: result.err }).toEqual({ argv, code: 0, err: '' });
      expect(result.out).toContain(`Usage: roomgate ${name}`);
    }
  });

  it('roomgate --help, -h, help, --version, -V: exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const result = await cli(argv);
      expect(result.code).toBe(0);
      for (const { path } of paths.filter(({ path }) => path.length === 1)) expect(result.out).toContain(`  ${path[0]}`);
    }
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, out: `${version}\n`, err: '' });
    expect(await cli(['-V'])).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  it.each([
    [[]],
    [['bogus']],
    [['help', 'bogus']],
    [['key']],
    [['key', 'rotate']],
    [['serve', 'extra']],
    [['migrate', '--force']],
    [['tenant', 'create', 'a-clinic', '--name', 'A']],
    [['tenant', 'create', 'a-clinic', '--name', 'A', '--kind', 'feline']],
    [['tenant', 'create', 'A CLINIC', '--name', 'A', '--kind', 'human']],
    [['key', 'create', '--tenant', 'a-clinic']],
    [['key', 'create', '--tenant', 'a-clinic', '--scopes', 'nonsense']],
    [['key', 'revoke']],
    [['sign', '--url']],
    [['sign', '--url', 'https://x.example/', '--token', 't', '--algorithm', 'md5']],
    [['diagnose', '--url', 'https://x.example/', '--token', 't']],
    [['sandbox', '--port', 'eighty']],
    [['webhooks', 'listen', '--port', 'eighty']],
    [['webhooks', 'listen', '--secret', 'sk_not_a_webhook_secret']],
    [['simulate', '--url', 'http://127.0.0.1:1']],
    [['retention']],
    [['retention', 'run', '--now']],
  ])('bad usage %j: exit 2', async (argv) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.err).not.toBe('');
  });

  it('as a process: roomgate --help and roomgate serve --help exit 0', async () => {
    for (const argv of [['--help'], ['serve', '--help']]) {
      const result = await runRoomgate(argv);
      expect({ argv, code: result.code, stderr: result.stderr }).toEqual({ argv, code: 0, stderr: '' });
      expect(result.stdout).toContain('Usage: roomgate');
    }
    expect((await runRoomgate(['no-such-command'])).code).toBe(2);
  });

  it("the README's CLI section shows every command with every flag", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = /\n## CLI\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    for (const { path, command } of paths.filter(({ command }) => command.commands.length === 0)) {
      const line = section.split('\n').find((entry) => entry.trimStart().startsWith(`roomgate ${path.join(' ')}`));
      expect(line, `no line for roomgate ${path.join(' ')}`).toBeDefined();
      for (const option of command.options) expect(line, `roomgate ${path.join(' ')}`).toContain(option.long!);
    }
  });
});
