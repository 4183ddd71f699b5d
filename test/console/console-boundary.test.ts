/**
 * The console is a client of the HTTP API like any other: its browser code imports only its own
 * files (nothing from src/, no package — the bundle holds no server code and no dependency), and
 * it never puts the credential in localStorage, a cookie or a URL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../console/src');
const files = (readdirSync(ROOT, { recursive: true }) as string[])
  .filter((file) => file.endsWith('.ts'))
  .map((file) => path.join(ROOT, file));

describe('the console boundary', () => {
  it('imports only its own files', () => {
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const [, target] of source.matchAll(/\bfrom\s+'([^']+)'/g)) {
        expect(target, `${path.relative(ROOT, file)} imports ${target}`).toMatch(/^\.\.?\//);
        expect(path.resolve(path.dirname(file), target!).startsWith(ROOT), `${path.relative(ROOT, file)} imports ${target}`).toBe(true);
      }
    }
  });

  it('keeps the credential out of localStorage, cookies and URLs', () => {
    for (const file of files) {
      // The code, not its comments (which say why none of these is used).
      const source = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      expect(source, file).not.toMatch(/localStorage|document\.cookie|EventSource/);
      expect(source, file).not.toMatch(/[?&](key|token|credential)=/);
    }
  });
});
