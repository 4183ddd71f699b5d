/**
 * Dependencies point inward (docs/ARCHITECTURE.md): each folder of src/ imports only the
 * folders it is allowed to. In particular the service never imports the Twilio emulator —
 * the CLI composes them — and nothing imports the CLI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/roomgate-process.js';

const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  storage: ['core'],
  adapters: ['core'],
  service: ['core', 'storage', 'adapters'],
  sandbox: ['core'],
  simulate: ['core'],
  cli: ['core', 'storage', 'adapters', 'service', 'sandbox', 'simulate'],
};

function sources(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('src/ dependency rules', () => {
  it('every import stays within what its folder may use', () => {
    const src = join(ROOT, 'src');
    const broken: string[] = [];
    for (const file of sources(src)) {
      const layer = relative(src, file).split('/')[0]!;
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = relative(src, normalize(join(dirname(file), specifier!))).split('/')[0]!;
        if (target !== layer && !(ALLOWED[layer] ?? []).includes(target)) broken.push(`${relative(ROOT, file)} → ${specifier}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
