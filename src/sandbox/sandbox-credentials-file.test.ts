import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSandboxCredentials } from './sandbox-credentials.js';
import { loadOrCreateSandboxCredentials } from './sandbox-credentials-file.js';

const directory = () => mkdtempSync(join(tmpdir(), 'roomgate-sandbox-'));

describe('sandbox credentials', () => {
  it('have Twilio’s shapes and are fresh each time', () => {
    const a = createSandboxCredentials();
    expect(a.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(a.apiKeySid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(a.authToken).toMatch(/^[0-9a-f]{32}$/);
    expect(a.apiKeySecret).toMatch(/^[0-9a-f]{32}$/);
    expect(createSandboxCredentials()).not.toEqual(a);
  });

  it('are created once in a 0600 file, then reused', () => {
    const path = join(directory(), 'data', 'sandbox-credentials.json');
    const first = loadOrCreateSandboxCredentials(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(first.credentials);
    const second = loadOrCreateSandboxCredentials(path);
    expect(second).toEqual({ credentials: first.credentials, created: false });
  });

  it('tighten a loosened file, and refuse a damaged one rather than replace it', () => {
    const path = join(directory(), 'credentials.json');
    const { credentials } = loadOrCreateSandboxCredentials(path);
    chmodSync(path, 0o644);
    loadOrCreateSandboxCredentials(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileSync(path, JSON.stringify({ ...credentials, accountSid: 'nope' }));
    // The refusal names the file, never what is in it.
    expect(() => loadOrCreateSandboxCredentials(path)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(credentials.authToken) }),
    );
    expect(() => loadOrCreateSandboxCredentials(path)).toThrow(/does not hold sandbox credentials/);
    writeFileSync(path, 'not json');
    expect(() => loadOrCreateSandboxCredentials(path)).toThrow(/not valid JSON/);
    expect(readFileSync(path, 'utf8')).toBe('not json');
  });
});
