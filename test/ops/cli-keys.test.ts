/**
 * Tenant and key management as an operator does it, through the real CLI process: the key is
 * printed once, only its hash is stored, a revoked key stops working at once, and every action
 * is audited. Exit codes per the contract.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/service/app.js';
import { loadConfig } from '../../src/service/config.js';
import { createLogger } from '../../src/service/logger.js';
import { openStore } from '../../src/storage/open-store.js';

const exec = promisify(execFile);

describe('roomgate tenant and key commands', () => {
  const database = `sqlite:${join(mkdtempSync(join(tmpdir(), 'roomgate-cli-')), 'rg.db')}`;
  const roomgate = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        env: { ...process.env, ROOMGATE_DATABASE_URL: database },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  it('creates, lists and revokes keys; revocation takes effect at once; all audited', async () => {
    expect((await roomgate('tenant', 'create', 'paws-clinic', '--name', 'Paws', '--kind', 'veterinary')).code).toBe(0);
    expect((await roomgate('tenant', 'create', 'paws-clinic', '--name', 'Paws', '--kind', 'veterinary')).code).toBe(1);
    expect((await roomgate('tenant', 'create', 'x', '--kind', 'feline')).code).toBe(2);
    expect((await roomgate('key', 'create', '--tenant', 'paws-clinic', '--scopes', 'nonsense')).code).toBe(2);

    const created = await roomgate('key', 'create', '--tenant', 'paws-clinic', '--scopes', 'consultations:read', '--expires', '30d');
    expect(created.code).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    expect(key).toMatch(/^rgk_[0-9A-Za-z]{54}$/);
    const listed = await roomgate('key', 'list');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(key.slice(4 + 16));

    const store = await openStore(database);
    const app = await buildApp({
      config: loadConfig({ ROOMGATE_DATABASE_URL: database }),
      store,
      logger: createLogger({ level: 'silent' }),
      outboxWorker: false,
    });
    try {
      const row = await store.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(key.slice(4 + 16, 4 + 48));
      const list = () => app.inject({ method: 'GET', url: '/v1/consultations', headers: { authorization: `Bearer ${key}` } });
      expect((await list()).statusCode).toBe(200);
      expect((await roomgate('key', 'revoke', id)).code).toBe(0);
      expect((await list()).statusCode).toBe(401);
      expect((await roomgate('key', 'revoke', id)).code).toBe(1);
      const audit = await store.db
        .selectFrom('audit_log')
        .select(['action', 'target'])
        .where('actor', '=', 'operator:cli')
        .orderBy('created_at')
        .execute();
      expect(audit.map((entry) => entry.action)).toEqual(['tenant.create', 'key.create', 'key.revoke']);
    } finally {
      await app.close();
      await store.close();
    }
    // Nine CLI processes one after another: each compiles through tsx, slow on a loaded machine.
  }, 180_000);

  it('creates tenants recording by consent (all-parties) unless told otherwise, and changes the mode, audited', async () => {
    expect((await roomgate('tenant', 'create', 'mode-clinic', '--name', 'M', '--kind', 'human')).code).toBe(0);
    const created = await roomgate('tenant', 'create', 'one-clinic', '--name', 'O', '--kind', 'human', '--consent-mode', 'one-party');
    expect(JSON.parse(created.stdout)).toMatchObject({ slug: 'one-clinic', consentMode: 'one-party' });
    const modes = async () =>
      Object.fromEntries(
        (await roomgate('tenant', 'list')).stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { slug: string; consentMode: string })
          .map((tenant) => [tenant.slug, tenant.consentMode]),
      );
    expect(await modes()).toMatchObject({ 'mode-clinic': 'all-parties', 'one-clinic': 'one-party' });
    expect((await roomgate('tenant', 'consent-mode', 'mode-clinic', 'off')).code).toBe(0);
    expect((await modes())['mode-clinic']).toBe('off');
    expect((await roomgate('tenant', 'consent-mode', 'no-such-clinic', 'off')).code).toBe(1);
    expect((await roomgate('tenant', 'consent-mode', 'mode-clinic', 'sometimes')).code).toBe(2);
    const store = await openStore(database);
    try {
      const audit = await store.db
        .selectFrom('audit_log')
        .select(['action', 'target', 'detail'])
        .where('action', '=', 'tenant.consent-mode')
        .execute();
      expect(audit).toEqual([{ action: 'tenant.consent-mode', target: 'mode-clinic', detail: JSON.stringify({ consentMode: 'off' }) }]);
    } finally {
      await store.close();
    }
  }, 180_000);
});
