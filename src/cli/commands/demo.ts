/**
 * `roomgate demo`: one command that starts the service on a fresh SQLite database with the
 * sandbox Twilio, creates a demo tenant and key, plays every simulate scenario, waits for the
 * side effects, and prints a short summary. Exit 0 when everything went as the contract says.
 * The service listens on PORT and HOST when they are set (validated as `serve` does), else on
 * a free loopback port; the sandbox always on a free one; the metrics listener is off. A local
 * webhook receiver is registered as the demo tenant's endpoint: every event of its log must
 * arrive there, signed and verified.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSandboxCredentials, type SandboxCredentials } from '../../sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../sandbox/sandbox-server.js';
import { SCOPES } from '../../service/auth/scopes.js';
import { loadConfig } from '../../service/config.js';
import { createLogger } from '../../service/logger.js';
import { startServer, type RunningServer } from '../../service/server.js';
import { createApiKey, createTenant } from '../../service/tenants/tenant-admin.js';
import type { ConsultationReconciliation } from '../../service/reconcile/reconciler.js';
import { loadConsultationForReconcile } from '../../storage/reconcile-repository.js';
import { simulate } from '../../simulate/simulator.js';
import { listSecurityEvents } from '../../storage/audit-repository.js';
import { listAllBillingRecords } from '../../storage/billing-repository.js';
import { roomCallbackTimeline } from '../../storage/inbox-repository.js';
import { listOutboxEntries } from '../../storage/outbox-repository.js';
import { listCompositions } from '../../storage/recording-repository.js';
import { listConsultationRooms } from '../../storage/consultation-room-repository.js';
import { findConsultationStatus } from '../../storage/consultation-repository.js';
import { sweepNoShows } from '../../service/no-shows/no-show-sweep.js';
import { findNoShowMissing } from '../../storage/no-show-repository.js';
import { closeWindows } from '../../service/consultations/consultation-close.js';
import { createTwilioRestClient } from '../../service/twilio/twilio-rest-client.js';
import { listTenantEvents } from '../../storage/event-log-repository.js';
import type { TenantEvent } from '../../core/events/tenant-event.js';
import { startWebhookListener, type ListenedDelivery, type WebhookListener } from '../webhook-listener.js';

interface DemoWebhooks {
  readonly listener: WebhookListener;
  readonly received: ListenedDelivery[];
}
export async function demo(options: { keep?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const credentials = createSandboxCredentials();
  // Validated before anything starts: a bad PORT or HOST is exit 2 with serve's message.
  const demoConfig = (sandboxUrl: string, directory: string) =>
    loadConfig({
      PORT: env.PORT ?? '0',
      HOST: env.HOST ?? '127.0.0.1',
      ROOMGATE_DATABASE_URL: `sqlite:${join(directory, 'roomgate.db')}`,
      ROOMGATE_METRICS_PORT: 'off',
      TWILIO_ACCOUNT_SID: credentials.accountSid,
      TWILIO_AUTH_TOKEN: credentials.authToken,
      TWILIO_API_KEY_SID: credentials.apiKeySid,
      TWILIO_API_KEY_SECRET: credentials.apiKeySecret,
      TWILIO_API_BASE_URL: sandboxUrl,
      // The sandbox and the simulator call from this machine, signing for the address they call.
      ROOMGATE_TRUST_PROXY: 'loopback',
      // The demo's webhook receiver is a local http server.
      ROOMGATE_WEBHOOK_ALLOW_HTTP: '1',
      ROOMGATE_WEBHOOK_ALLOW_ADDRESSES: 'loopback',
    });
  demoConfig('http://127.0.0.1', tmpdir()); // throws ConfigError before anything starts
  const directory = mkdtempSync(join(tmpdir(), 'roomgate-demo-'));
  let server: RunningServer;
  try {
    const sandbox = await startSandbox({ ...credentials, port: 0, host: '127.0.0.1' });
    // On failure, startServer closes the sandbox (a companion) too.
    server = await startServer(demoConfig(sandbox.url, directory), {
      logger: createLogger({ level: 'silent' }),
      companions: [sandbox],
      clock: () => sandbox.now(),
    });
    const received: ListenedDelivery[] = [];
    const listener = await startWebhookListener({ nowSeconds: () => sandbox.now().getTime() / 1000, onDelivery: (d) => received.push(d) });
    try {
      return await play(server, sandbox, credentials, directory, env.PORT === undefined, { listener, received });
    } finally {
      await listener.close();
    }
  } finally {
    if (!options.keep) rmSync(directory, { recursive: true, force: true });
  }
}

async function play(
  server: RunningServer,
  sandbox: Sandbox,
  credentials: SandboxCredentials,
  directory: string,
  portsPicked: boolean,
  webhooks: DemoWebhooks,
): Promise<number> {
  try {
    const { store } = server;
    const tenantId = await createTenant(store, { slug: 'demo-clinic', name: 'Demo clinic', kind: 'human' });
    const key = await createApiKey(store, { tenantId, scopes: SCOPES });
    // The tenant's back end: a local receiver, registered as a webhook endpoint through the API.
    const created = await fetch(`${server.url}/v1/webhook-endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: webhooks.listener.url, description: 'roomgate demo receiver' }),
    });
    if (created.status !== 201) throw new Error(`registering the demo's webhook receiver failed: ${created.status}`);
    webhooks.listener.secrets = [((await created.json()) as { secret: string }).secret];

    console.log(
      `Roomgate demo: service ${server.url}, sandbox Twilio ${sandbox.url}, database ${directory}${portsPicked ? '\n  (ports picked at random; set PORT to choose the service’s)' : ''}\n`,
    );
    const report = await simulate(
      {
        baseUrl: server.url,
        apiKey: key.key,
        accountSid: credentials.accountSid,
        authToken: credentials.authToken,
        sandboxUrl: sandbox.url,
      },
      { log: (line) => console.log(`  ${line}`) },
    );

    // The consultation whose callbacks Twilio lost: reconciliation reads what happened from the
    // sandbox's REST API and finishes the record through the same fold as callbacks.
    await sandbox.idle();
    await server.app.roomgate.drain();
    const healed: ConsultationReconciliation[] = [];
    for (const lost of report.consultations.filter((consultation) => consultation.scenario === 'lost-callbacks')) {
      const before = (await loadConsultationForReconcile(store.db, lost.id))!;
      const [result] = (await server.app.roomgate.reconciler.run({ consultationId: lost.id })).consultations;
      healed.push(result!);
      const after = (await loadConsultationForReconcile(store.db, lost.id))!;
      console.log(
        `  ${result!.outcome === 'changed' ? 'ok  ' : 'FAIL'} ${'lost-callbacks'.padEnd(16)} ${`reconciled from the REST API: ${before.status} → ${after.status}`.padEnd(44)} facts added: ${result!.facts.join(', ') || 'none'}`,
      );
    }

    if (healed.length > 0) {
      const reads = (await server.app.roomgate.metrics.twilioReads.get()).values.map((v) => `${v.labels.status} ×${v.value}`);
      console.log(`  ${'    '} ${''.padEnd(16)} reconciler's REST reads by status: ${reads.join(', ')} (a 429 waits out its Retry-After)`);
    }

    // The clinic scenarios' windows have closed (the sandbox clock moved): the sweep that `serve`
    // runs every 30 s names the no-shows and completes interrupted consultations — run now.
    await sandbox.idle();
    await server.app.roomgate.drain();
    const twilio = createTwilioRestClient({
      baseUrl: sandbox.url,
      apiKeySid: credentials.apiKeySid,
      apiKeySecret: credentials.apiKeySecret,
    });
    await sweepNoShows({ store, twilio, clock: () => sandbox.now() });
    await closeWindows({ store, clock: () => sandbox.now() });

    // Let the sandbox deliver its own callbacks (room-ended, compositions) and the outbox drain.
    const recorded = report.consultations.filter((consultation) => !consultation.outcome).length;
    const deadline = Date.now() + 20_000;
    for (;;) {
      await sandbox.idle();
      const pending = await listOutboxEntries(store.db, { status: 'pending' });
      const available = await listCompositions(store.db, { status: 'available' });
      if ((pending.length === 0 && available.length >= recorded) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await server.app.roomgate.drain();
    // Every event of the tenant's log reaches the receiver (bounded wait).
    const log = await listTenantEvents(store.db, tenantId, 0, 100_000);
    const delivered = () => new Set(webhooks.received.filter((d) => d.verified).map((d) => d.webhookId));
    const until = Date.now() + 20_000;
    while (log.some((event) => !delivered().has(event.id)) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return await summarise(server, report, healed, { ...webhooks, log });
  } finally {
    await server.close();
  }
}

async function summarise(
  server: RunningServer,
  report: Awaited<ReturnType<typeof simulate>>,
  healed: readonly ConsultationReconciliation[],
  webhooks: DemoWebhooks & { readonly log: readonly TenantEvent[] },
): Promise<number> {
  const { store } = server;
  const accepted = report.results.filter((result) => result.answered === 204).length;
  const refused = report.results.filter((result) => result.answered === 403).length;
  const reasons = await listSecurityEvents(store.db);
  const byReason = new Map<string, number>();
  for (const { reason } of reasons) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  const metrics = await server.app.roomgate.metrics.callbacks.get();
  const duplicates = metrics.values
    .filter((value) => value.labels.outcome === 'duplicate')
    .reduce((total, value) => total + value.value, 0);
  const billing = await listAllBillingRecords(store.db);
  const compositions = await listCompositions(store.db);
  const requests = await listOutboxEntries(store.db, { kind: 'request-composition' });

  const normal = report.consultations.find((consultation) => consultation.scenario === 'normal');
  console.log('\nSummary');
  console.log(`  callbacks answered 204: ${accepted}   refused 403: ${refused}   duplicates absorbed: ${duplicates}`);
  console.log(
    `  refusals and quarantines by reason: ${[...byReason].map(([reason, count]) => `${reason} ×${count}`).join(', ') || 'none'}`,
  );
  if (normal) {
    const timeline = await roomCallbackTimeline(store.db, normal.roomSid, { withTrackEvents: false });
    console.log(`  timeline of consultation ${normal.id} (scenario 'normal'):`);
    for (const entry of timeline)
      console.log(
        `    ${entry.event_timestamp}  ${entry.event_type.padEnd(26)} ${entry.participant_identity ?? ''}${entry.status === 'accepted' ? '' : `  [${entry.status}]`}`,
      );
  }
  // Clinic scenarios (record off) bill when the two sides met; the others all recorded and met.
  const recorded = report.consultations.filter((consultation) => !consultation.outcome);
  const billable = report.consultations.filter(
    (consultation) => !consultation.outcome || consultation.outcome.billableSeconds !== undefined,
  );
  console.log(`  billing records: ${billing.length} for ${billable.length} consultations that met (${report.consultations.length} in all)`);
  for (const row of billing) console.log(`    ${row.consultation_id}: ${row.billable_seconds} s billable, ${row.rounded_seconds} s billed`);
  const byStatus = new Map<string, number>();
  for (const row of compositions) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
  console.log(
    `  compositions: ${[...byStatus].map(([status, count]) => `${count} ${status}`).join(', ') || 'none'}; composition requests sent to Twilio: ${requests.length}`,
  );
  const example = compositions.find((row) => row.media_uri);
  if (example) console.log(`    e.g. ${example.composition_sid}: ${example.media_uri}`);

  console.log(
    `  healed by reconciliation: ${healed.filter((result) => result.outcome === 'changed').length} of ${healed.length} consultations whose callbacks Twilio lost`,
  );

  const verified = new Set(webhooks.received.filter((d) => d.verified).map((d) => d.webhookId));
  const byType = new Map<string, number>();
  for (const d of webhooks.received.filter((d) => d.verified)) byType.set(d.type, (byType.get(d.type) ?? 0) + 1);
  console.log(
    `  webhooks: ${verified.size} of the ${webhooks.log.length} events in the tenant's log delivered to ${webhooks.listener.url}, ${webhooks.received.filter((d) => d.verified).length} of ${webhooks.received.length} deliveries verified (Standard Webhooks)`,
  );
  console.log(`    by type: ${[...byType].map(([type, count]) => `${type} ×${count}`).join(', ') || 'none'}`);
  for (const d of webhooks.received.filter((d) => d.verified).slice(0, 3)) {
    console.log(`    e.g. webhook-id ${d.webhookId}  #${d.sequence ?? '?'} ${d.type}  ${d.consultationId ?? ''}`);
  }

  const problems: string[] = [];
  const clinic = report.consultations.filter((consultation) => consultation.outcome);
  if (clinic.length > 0) console.log('  consultations as clinics run them:');
  for (const { scenario, id, outcome } of clinic) {
    const status = await findConsultationStatus(store.db, id);
    const named = await findNoShowMissing(store.db, id);
    const bill = billing.find((row) => row.consultation_id === id);
    const rooms = (await listConsultationRooms(store.db, [id])).length;
    const seen = `${status}${named ? ` (missing: ${named})` : ''}, ${rooms} room${rooms === 1 ? '' : 's'}, ${bill ? `${bill.billable_seconds} s billed once` : 'not billed'}`;
    const ok =
      status === outcome!.status &&
      (named ?? undefined) === outcome!.missing &&
      rooms === outcome!.rooms &&
      // The sandbox clock runs on between steps: a second or two more than scripted.
      (bill === undefined
        ? outcome!.billableSeconds === undefined
        : outcome!.billableSeconds !== undefined && Math.abs(bill.billable_seconds - outcome!.billableSeconds) <= 5);
    console.log(`    ${ok ? 'ok  ' : 'FAIL'} ${scenario.padEnd(22)} ${seen}`);
    if (!ok) problems.push(`${scenario}: ${seen}`);
  }
  if (webhooks.log.some((event) => !verified.has(event.id)))
    problems.push(`${webhooks.log.filter((event) => !verified.has(event.id)).length} events of the log never reached the webhook receiver`);
  if (webhooks.received.some((d) => !d.verified)) problems.push('a webhook delivery did not verify');
  if (!report.ok) problems.push('some callbacks were not answered as the contract requires');
  if (healed.some((result) => result.outcome !== 'changed'))
    problems.push('a consultation with lost callbacks was not healed by reconciliation');
  if (billing.length !== billable.length) problems.push(`expected ${billable.length} billing records, found ${billing.length}`);
  if (new Set(billing.map((row) => row.consultation_id)).size !== billing.length) problems.push('a consultation was billed twice');
  if (requests.length !== recorded.length)
    problems.push(`expected one composition request per recorded consultation (${recorded.length}), found ${requests.length}`);
  if (compositions.some((row) => row.status !== 'available')) problems.push('a composition is not available');
  console.log(
    problems.length === 0
      ? '\nDemo passed: forged and replayed callbacks refused, duplicates absorbed, lost callbacks healed by reconciliation, one billing record each, every event delivered as a signed webhook; the waiting room, the appointment window, no-shows and rejoining as the contract says.'
      : `\nDemo found problems:\n  - ${problems.join('\n  - ')}`,
  );
  return problems.length === 0 ? 0 : 1;
}
