/**
 * The console in a real Chromium against a real Roomgate and the sandbox Twilio, over HTTP:
 * a tenant signs in, watches a consultation the sandbox plays appear and complete live, opens
 * it (time line, billing), exports billing as CSV, sees webhook deliveries, revokes its own key
 * and is signed out; the operator sees the refusal chart after a forged burst, the quarantine
 * and the signature doctor's causes; the API going down shows a banner. Every page: axe-core
 * finds no serious or critical violation, no CSP violation or script error, and a screenshot is
 * taken at laptop and phone width. Only the keyboard signs in and moves between pages.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build.mjs';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, sandboxTwilioEnv, startTestService, type TestService } from '../support/test-service.js';
import { FAST_WEBHOOKS_ENV, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { launchChromium, openPage, screenshotPath, seriousViolations, type WatchedPage } from './support/browser.js';

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite') ?? enginesUnderTest()[0]!;
const OPERATOR_TOKEN = randomHex(24);
const TENANT_SCOPES = [
  'console:read',
  'consultations:read',
  'consultations:write',
  'tokens:issue',
  'recordings:read',
  'billing:read',
  'events:read',
  'keys:manage',
  'webhooks:manage',
  'consents:write',
];

describe('the console in Chromium', () => {
  const credentials = createSandboxCredentials();
  // In the past by less than the replay window (15 min), so that the played minutes stay fresh.
  let now = Date.now() - 12 * 60_000;
  let sandbox: Sandbox;
  let service: TestService;
  let base: string;
  let browser: Browser;
  let laptop: WatchedPage;
  let tenantId: string;
  let key: string;
  let keyId: string;
  let consultationId: string;
  let hook: WebhookReceiver;
  let endpointId: string;

  const api = async (method: string, path: string, body?: unknown, as = key) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${as}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: (await response.json().catch(() => ({}))) as Record<string, any> };
  };

  /** axe on the page as it is, no script error so far, and its screenshot. */
  const check = async (watched: WatchedPage, name: string) => {
    expect(await seriousViolations(watched.page), name).toEqual([]);
    expect(watched.problems, name).toEqual([]);
    await watched.page.screenshot({ path: screenshotPath(name), fullPage: true });
  };

  const signIn = async (watched: WatchedPage, as: 'tenant' | 'operator', credential: string) => {
    const { page } = watched;
    if (as === 'operator') await page.getByLabel('The platform operator').check();
    await page.locator('#credential').fill(credential);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: as === 'operator' ? 'Refused callbacks' : 'Live consultations' }).waitFor();
  };

  beforeAll(async () => {
    await buildConsole({ quiet: true });
    sandbox = await startSandbox({ ...credentials, clock: () => new Date(now), compositionStepMs: 5, callbackRetryDelayMs: 50 });
    service = await startTestService(sqlite, {
      env: { ...sandboxTwilioEnv(credentials, sandbox.url), ...FAST_WEBHOOKS_ENV, ROOMGATE_OPERATOR_TOKEN: OPERATOR_TOKEN },
      app: { outboxWorker: true, outboxPollIntervalMs: 50 },
    });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
    ({ tenantId, key, keyId } = await service.seedTenant('human', TENANT_SCOPES));
    // The tenant's webhook endpoint: every event of the consultation below is delivered to it.
    hook = await startWebhookReceiver();
    const endpoint = await api('POST', '/v1/webhook-endpoints', { url: hook.url, description: 'care platform' });
    expect(endpoint.status).toBe(201);
    endpointId = endpoint.json.id;
    hook.secrets = [endpoint.json.secret];
    browser = await launchChromium();
    laptop = await openPage(browser, 'laptop');
    laptop.page.setDefaultTimeout(30_000);
  });
  // A failure says what the page showed then.
  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail' || !laptop) return;
    const shown = await laptop.page
      .locator('body')
      .innerText({ timeout: 1000 })
      .catch(() => '(unreadable)');
    console.error(`page at ${laptop.page.url()} showed:\n${shown.slice(0, 2000)}\nproblems: ${laptop.problems.join(' | ')}`);
  });
  afterAll(async () => {
    await browser?.close();
    await hook?.close();
    await sandbox?.close();
    await service?.close();
  });

  it('signs in with the keyboard alone, and refuses a key without console:read', async () => {
    const { page } = laptop;
    await page.goto(`${base}/console`);
    await page.getByRole('heading', { name: 'Sign in to the Roomgate console' }).waitFor();
    await check(laptop, 'sign-in');
    const { key: noConsole } = await service.seedKey(tenantId, ['consultations:read']);
    // The credential field has the focus on load.
    await page.keyboard.type(noConsole);
    await page.keyboard.press('Enter');
    await page.getByText('That API key lacks the console:read scope.').waitFor();
    await page.locator('#credential').fill('');
    await page.keyboard.type(key);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Live consultations' }).waitFor();
    // The key is kept for this tab only.
    expect(await page.evaluate(() => Object.keys(localStorage).length)).toBe(0);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    // Signed in, the focus is on the page's content; Shift+Tab goes back to the navigation.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    const focused = () => page.evaluate(() => document.activeElement?.textContent);
    for (let i = 0; i < 10 && (await focused()) !== 'Billing records'; i++) await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Billing records');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Billing records' }).waitFor();
    // On a fresh load, the first Tab reaches the skip link, which moves the focus to the content.
    await page.goto(`${base}/console#/consultations`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Live consultations' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
  });

  it('shows a consultation played by the sandbox appear and complete live', async () => {
    const { page } = laptop;
    await page.getByText('Live: updates as events arrive.').waitFor();
    const created = await api('POST', '/v1/consultations', { record: true, externalRef: 'appt-live-1' });
    expect(created.status).toBe(201);
    consultationId = created.json.id;
    const roomName = created.json.roomName as string;
    for (const [identity, role] of [
      ['clin-1', 'clinician'],
      ['pt-1', 'patient'],
    ]) {
      expect((await api('POST', `/v1/consultations/${consultationId}/access-tokens`, { identity, role })).status).toBe(201);
    }
    const consent = { identity: 'pt-1', kind: 'recording', decision: 'given', textVersion: 'rec-2026-03', recordedBy: 'pt-1' };
    expect((await api('POST', `/v1/consultations/${consultationId}/consents`, consent)).status).toBe(201);
    const row = page.locator(`tr[data-id="${consultationId}"]`);
    sandbox.connect(roomName, 'clin-1');
    now += 2 * 60_000;
    const patient = sandbox.connect(roomName, 'pt-1');
    await page.locator(`tr[data-id="${consultationId}"][data-status="in-progress"]`).waitFor();
    expect(await row.textContent()).toContain('pt-1 (patient)');
    await check(laptop, 'consultations-live');
    now += 8 * 60_000;
    sandbox.disconnect(roomName, patient);
    now += 60_000;
    expect((await api('POST', `/v1/consultations/${consultationId}/end`)).status).toBe(200);
    await page.locator(`tr[data-id="${consultationId}"][data-status="completed"]`).waitFor();
    // The billing column fills in when the record is written.
    await page.locator(`tr[data-id="${consultationId}"] td:last-child`, { hasText: 'min' }).waitFor();
    expect(await page.locator('.events li').count()).toBeGreaterThan(3);
    await check(laptop, 'consultations');
  });

  it('opens the consultation: time line with the overlap, waiting time, billing, recordings and raw callbacks', async () => {
    const { page } = laptop;
    await page.locator(`tr[data-id="${consultationId}"] a`).click();
    await page.getByRole('heading', { level: 1, name: `Consultation ${consultationId}` }).waitFor();
    await page.locator('svg.timeline').waitFor();
    const lanes = await page.locator('.timeline-text li').allTextContents();
    expect(lanes.find((lane) => lane.startsWith('clin-1 (clinician)'))).toContain('(660 s)');
    expect(lanes.find((lane) => lane.startsWith('pt-1 (patient)'))).toContain('(480 s)');
    expect(lanes.find((lane) => lane.startsWith('Overlap (billed)'))).toContain('(480 s)');
    expect(await page.locator('[data-field=waiting]').textContent()).toContain('2 min 0 s');
    expect(await page.locator('[data-field=billable]').textContent()).toContain('480 s');
    expect(await page.locator('[data-field=status]').textContent()).toBe('completed');
    const callbacks = page.locator('section[aria-labelledby=callbacks-title]');
    expect(await callbacks.getByText('participant-connected').count()).toBe(2);
    expect(await callbacks.getByText('room-ended').count()).toBe(1);
    await page.locator('section[aria-labelledby=recordings-title]').getByText('audio').first().waitFor();
    // The billing record's evidence: the measurement and the one billed segment.
    const evidence = page.locator('#evidence');
    expect(await evidence.textContent()).toContain('Measured480 s');
    expect(await evidence.getByRole('table', { name: 'Billed segments' }).locator('tbody tr').count()).toBe(1);
    expect(await evidence.locator('[data-field=code]').textContent()).toMatch(/\S/);
    expect(await evidence.getByText(/^entry \d+ of \d+/).count()).toBe(1);
    // The consent ledger: the patient's decision.
    const consent = page.locator('#consent');
    expect(await consent.getByRole('table', { name: 'Current decisions' }).locator('tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/^pt-1recordinggiven/),
    ]);
    expect(await consent.getByRole('table', { name: 'Ledger (every decision, in order)' }).textContent()).toContain('rec-2026-03');
    await check(laptop, 'consultation');
  });

  it('filters billing records by date and exports exactly those rows as CSV', async () => {
    const { page } = laptop;
    await page.getByRole('link', { name: 'Billing records' }).click();
    await page.getByRole('cell', { name: consultationId }).waitFor();
    await check(laptop, 'billing');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const today = new Date().toISOString().slice(0, 10);
    expect(download.suggestedFilename()).toMatch(/^billing-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = await readFile((await download.path())!, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,consultationId,billableSeconds,roundedSeconds,version,createdAt,updatedAt');
    expect(lines).toHaveLength(2);
    const [id, consultation, billable, , version, createdAt] = lines[1]!.split(',');
    expect(id).toMatch(/^bil/);
    expect([consultation, billable, version]).toEqual([consultationId, '480', '1']);
    expect(createdAt!.slice(0, 10)).toBe(today);
    // A period without it: no row, and nothing to export.
    await page.locator('#from').fill('2020-01-01');
    await page.locator('#to').fill('2020-01-31');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('0 records').waitFor();
    expect(await page.getByRole('button', { name: 'Export CSV' }).isDisabled()).toBe(true);
  });

  it('shows webhook endpoints with their delivery attempts, and redelivers one', async () => {
    const { page } = laptop;
    await page.getByRole('link', { name: 'Webhook endpoints' }).click();
    const section = page.locator(`section[data-endpoint="${endpointId}"]`);
    await section.getByRole('heading', { name: hook.url }).waitFor();
    const redeliver = section.locator('button.redeliver').first();
    await redeliver.waitFor();
    const rows = await section.locator('tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(4);
    expect(await section.getByText('delivered').count()).toBeGreaterThan(0);
    await check(laptop, 'webhooks');
    const deliveryId = (await redeliver.getAttribute('data-delivery'))!;
    const attempts = (await api('GET', `/v1/webhook-endpoints/${endpointId}/deliveries?limit=500`)).json.data as any[];
    const eventId = attempts.find((attempt) => attempt.id === deliveryId).eventId as string;
    const before = hook.deliveries.filter((delivery) => delivery.webhookId === eventId).length;
    await redeliver.click();
    await page.getByText(/^Redelivery of .* queued\.$/).waitFor();
    // The receiver gets the event once more, and the list shows one attempt more.
    await section.locator('tbody tr').nth(rows).waitFor();
    expect(hook.deliveries.filter((delivery) => delivery.webhookId === eventId).length).toBe(before + 1);
    expect(hook.deliveries.every((delivery) => delivery.verifiedWith.length === 1)).toBe(true);
  });

  it('shows who waited in the lobby, on the time line and in a table', async () => {
    const { page } = laptop;
    const created = await api('POST', '/v1/consultations', { record: false, waitingRoom: true, externalRef: 'appt-lobby-1' });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect((await api('POST', `/v1/consultations/${id}/lobby`, { identity: 'pt-9', role: 'patient' })).status).toBe(201);
    expect((await api('POST', `/v1/consultations/${id}/lobby/pt-9/admit`)).status).toBe(200);
    await page.goto(`${base}/console#/consultations/${id}`);
    await page.getByRole('heading', { level: 1, name: `Consultation ${id}` }).waitFor();
    const lobby = page.getByRole('table', { name: 'Lobby' });
    await lobby.waitFor();
    expect(await lobby.locator('tbody tr').allTextContents()).toEqual([expect.stringMatching(/^pt-9patientadmitted/)]);
    expect(await page.locator('.timeline-text li[data-lane=lobby]').textContent()).toMatch(/^pt-9 in the lobby: /);
    expect(await page.locator('.timeline-text li[data-lane=overlap]').textContent()).toBe('Overlap (billed): never');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('creates a key with the scope picker, and revoking its own key signs the console out with a message', async () => {
    const { page } = laptop;
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'Create a key' }).waitFor();
    await page.getByLabel('billing:read').check();
    await page.getByLabel('console:read').check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const created = (await page.locator('#new-key').textContent())!;
    expect(created).toMatch(/^rgk_/);
    expect((await api('GET', '/v1/console/session', undefined, created)).json.key.scopes).toEqual(['console:read', 'billing:read']);
    await check(laptop, 'keys');
    const revoke = page.locator(`button.revoke[data-key="${keyId}"]`);
    await revoke.click();
    expect(await revoke.textContent()).toBe('Confirm revoke');
    await revoke.click();
    await page.getByRole('heading', { name: 'Sign in to the Roomgate console' }).waitFor();
    await page.getByText('You were signed out: the API key was revoked or has expired.').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect((await api('GET', '/v1/console/session')).status).toBe(401);
    await check(laptop, 'signed-out');
  });

  it('shows the operator the refusals by reason after a forged burst, and the quarantine', async () => {
    const { page } = laptop;
    // A forged burst: signed with a wrong token.
    const url = `${base}/webhooks/twilio/video`;
    for (let i = 0; i < 9; i++) {
      const params = { AccountSid: credentials.accountSid, RoomSid: `RM${randomHex(16)}`, StatusCallbackEvent: 'room-ended' };
      const body = new URLSearchParams(params).toString();
      const signature = twilio.getExpectedTwilioSignature(randomHex(16), url, params);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body,
      });
      expect(response.status).toBe(403);
    }
    // An identity Roomgate never issued joins a room: quarantined.
    const other = await api('POST', '/v1/consultations', { record: false }, (await service.seedKey(tenantId, ['consultations:write'])).key);
    sandbox.connect(other.json.roomName, 'intruder-7');
    await sandbox.idle();
    await service.app.roomgate.drain();

    await signIn(laptop, 'operator', OPERATOR_TOKEN);
    await page.locator('svg.chart').waitFor();
    expect(await page.locator('#refusal-total').textContent()).toMatch(/^9 callbacks refused/);
    expect(await page.getByRole('row', { name: /signature-mismatch/ }).textContent()).toContain('9');
    await check(laptop, 'operator-refusals');

    await page.getByRole('link', { name: 'Quarantine' }).click();
    // The participant's connect and its tracks: each kept aside, each with its reason.
    await page.getByRole('cell', { name: 'identity-never-issued' }).first().waitFor();
    expect(await page.getByRole('cell', { name: other.json.roomSid }).count()).toBe(
      await page.getByRole('cell', { name: 'identity-never-issued' }).count(),
    );
    expect(await page.getByRole('cell', { name: 'participant-connected' }).count()).toBe(1);
    await check(laptop, 'operator-quarantine');
  });

  it('the signature doctor names a wrong port and a wrong scheme', async () => {
    const { page } = laptop;
    await page.getByRole('link', { name: 'Signature doctor' }).click();
    const params = { AccountSid: credentials.accountSid, RoomSid: `RM${randomHex(16)}`, StatusCallbackEvent: 'room-ended' };
    const lines = Object.entries(params)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n');
    const diagnose = async (signedUrl: string, verifiedUrl: string) => {
      await page.getByLabel('URL the server verified against').fill(verifiedUrl);
      await page.getByLabel('Form parameters').fill(lines);
      await page.getByLabel('X-Twilio-Signature').fill(twilio.getExpectedTwilioSignature(credentials.authToken, signedUrl, params));
      await page.getByRole('button', { name: 'Diagnose' }).click();
      await page.locator('#verdict-title').waitFor();
      const causes = await page.locator('[data-cause]').evaluateAll((items) => items.map((item) => item.getAttribute('data-cause')));
      return causes;
    };
    expect(
      await diagnose('https://clinic.example.com:8443/webhooks/twilio/video', 'https://clinic.example.com/webhooks/twilio/video'),
    ).toEqual(['port']);
    await page.getByText('URL that matches: https://clinic.example.com:8443/webhooks/twilio/video').waitFor();
    expect(await diagnose('https://clinic.example.com/webhooks/twilio/video', 'http://clinic.example.com/webhooks/twilio/video')).toEqual([
      'scheme',
    ]);
    await check(laptop, 'operator-signature-doctor');
    // With the auth token pasted too: it is sent, never shown back.
    await page.getByLabel('Auth token (optional)').fill(credentials.authToken);
    await page.getByRole('button', { name: 'Diagnose' }).click();
    await page.locator('[data-cause=scheme]').waitFor();
    expect(await page.locator('main').textContent()).not.toContain(credentials.authToken);
  });

  it('lists tenants with counts and health, and the reconciliation activity', async () => {
    const { page } = laptop;
    await page.getByRole('link', { name: 'Tenants' }).click();
    const row = page.getByRole('row', { name: /Test clinic/ }).filter({ hasText: 'attention' });
    await row.waitFor();
    // The live consultation, the lobby's and the one the intruder joined.
    expect(await row.locator('td').nth(2).textContent()).toBe('3');
    await check(laptop, 'operator-tenants');
    await page.getByRole('link', { name: 'Reconciliation' }).click();
    await page.getByRole('table', { name: 'Records the reconciler changed' }).waitFor();
    await check(laptop, 'operator-reconciliation');
  });

  it('reads at phone width: tenant pages and the operator chart, no serious axe violation', async () => {
    const phone = await openPage(browser, 'phone');
    try {
      const { key: phoneKey } = await service.seedKey(tenantId, TENANT_SCOPES);
      await phone.page.goto(`${base}/console`);
      await check(phone, 'sign-in-phone');
      await signIn(phone, 'tenant', phoneKey);
      await phone.page.locator(`tr[data-id="${consultationId}"]`).waitFor();
      await check(phone, 'consultations-phone');
      await phone.page.goto(`${base}/console#/consultations/${consultationId}`);
      await phone.page.locator('svg.timeline').waitFor();
      await check(phone, 'consultation-phone');
      await phone.page.getByRole('link', { name: 'Billing records' }).click();
      await phone.page.getByRole('cell', { name: consultationId }).waitFor();
      await check(phone, 'billing-phone');
      // Nothing wider than the screen but the tables and pictures that scroll inside themselves.
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await phone.page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(phone, 'operator', OPERATOR_TOKEN);
      await phone.page.locator('svg.chart').waitFor();
      await check(phone, 'operator-refusals-phone');
    } finally {
      await phone.context.close();
    }
  });

  it('shows a banner, not a blank page, when the API goes down', async () => {
    const { page } = laptop;
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page
      .getByRole('row', { name: /Test clinic/ })
      .first()
      .waitFor();
    await sandbox.close();
    await service.app.close();
    await page.getByRole('link', { name: 'Reconciliation' }).click();
    const banner = page.locator('#banner');
    await banner.waitFor({ state: 'visible' });
    expect(await banner.textContent()).toContain('The Roomgate API cannot be reached');
    expect(await page.getByRole('heading', { level: 1, name: 'Reconciliation' }).isVisible()).toBe(true);
    await page.screenshot({ path: screenshotPath('api-down'), fullPage: true });
  });
});
