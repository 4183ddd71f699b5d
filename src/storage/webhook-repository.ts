/**
 * Outbound webhooks (migration 0011): a tenant's endpoints, the messages fanned out to them from
 * the tenant event log, and the attempts to deliver each.
 *
 * Exactly once per endpoint, with several instances: `advanceEndpointCursor` moves an endpoint's
 * `log_cursor` by compare-and-set inside the transaction that inserts the messages, so of two
 * fan-outs of the same events one finds the cursor moved and rolls back; UNIQUE `dedupe_key`
 * (`<endpoint>/<event>`) is the second guard. Messages are claimed like the outbox (leased
 * compare-and-set, renewed by a heartbeat), and only the head of each (endpoint, consultation)
 * queue is claimable: a consultation's events reach an endpoint in sequence order.
 */
import type { Kysely } from 'kysely';
import type { TenantEvent, TenantEventType } from '../core/events/tenant-event.js';
import { newId } from './ids.js';
import { lockFreeRows } from './row-locks.js';
import type { Database, IsoTimestamp, StoreTransaction, WebhookAttemptStatus, WebhookMessageStatus } from './schema.js';

type Db = Kysely<Database>;

const ENDPOINT_COLUMNS = [
  'id',
  'tenant_id',
  'url',
  'event_types',
  'description',
  'enabled',
  'disabled_reason',
  'log_cursor',
  'failing_since',
  'created_at',
  'updated_at',
] as const;

export interface NewWebhookEndpoint {
  readonly tenantId: string;
  readonly url: string;
  readonly eventTypes: readonly string[] | null;
  readonly description: string | null;
  readonly enabled: boolean;
  readonly secret: string;
  readonly now: IsoTimestamp;
}

/**
 * Creates an endpoint whose cursor is the tenant's last sequence: it receives the events that
 * commit after it, never the history (that is what recovery is for). Returns its id.
 */
export async function insertWebhookEndpoint(trx: StoreTransaction, endpoint: NewWebhookEndpoint): Promise<string> {
  const counter = await trx
    .selectFrom('tenant_event_counters')
    .select('last_sequence')
    .where('tenant_id', '=', endpoint.tenantId)
    .executeTakeFirst();
  const id = newId('whe');
  await trx
    .insertInto('webhook_endpoints')
    .values({
      id,
      tenant_id: endpoint.tenantId,
      url: endpoint.url,
      event_types: endpoint.eventTypes ? JSON.stringify(endpoint.eventTypes) : null,
      description: endpoint.description,
      enabled: endpoint.enabled ? 1 : 0,
      disabled_reason: null,
      secret: endpoint.secret,
      previous_secret: null,
      previous_secret_until: null,
      log_cursor: counter ? Number(counter.last_sequence) : 0,
      failing_since: null,
      created_at: endpoint.now,
      updated_at: endpoint.now,
    })
    .execute();
  return id;
}

/** One of the tenant's endpoints (never another tenant's), without its secrets. */
export async function findWebhookEndpoint(db: Db, tenantId: string, id: string) {
  return db
    .selectFrom('webhook_endpoints')
    .select(ENDPOINT_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export type WebhookEndpointRow = NonNullable<Awaited<ReturnType<typeof findWebhookEndpoint>>>;

/** The tenant's endpoints, newest first, one more than `limit` (is there a next page?). */
export async function listWebhookEndpointsPage(
  db: Db,
  page: { tenantId: string; limit: number; before?: { createdAt: string; id: string } },
) {
  let query = db
    .selectFrom('webhook_endpoints')
    .select(ENDPOINT_COLUMNS)
    .where('tenant_id', '=', page.tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

export interface WebhookEndpointPatch {
  readonly url?: string;
  readonly eventTypes?: readonly string[] | null;
  readonly description?: string | null;
  readonly enabled?: boolean;
}

/**
 * Changes an endpoint; true if it exists. Enabling a disabled one clears why it was disabled and
 * since when it failed, and makes its waiting messages due now.
 */
export async function updateWebhookEndpoint(
  trx: StoreTransaction,
  tenantId: string,
  id: string,
  patch: WebhookEndpointPatch,
  now: IsoTimestamp,
): Promise<boolean> {
  const current = await trx
    .selectFrom('webhook_endpoints')
    .select(['enabled'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!current) return false;
  const enabling = patch.enabled === true && current.enabled === 0;
  await trx
    .updateTable('webhook_endpoints')
    .set({
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.eventTypes !== undefined ? { event_types: patch.eventTypes ? JSON.stringify(patch.eventTypes) : null } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled ? 1 : 0 } : {}),
      ...(patch.enabled === false ? { disabled_reason: 'disabled by the tenant' } : {}),
      ...(enabling ? { disabled_reason: null, failing_since: null } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
  if (enabling) {
    await trx
      .updateTable('webhook_messages')
      .set({ next_attempt_at: now })
      .where('endpoint_id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }
  return true;
}

/** Deletes an endpoint with its messages and attempts; true if it existed. */
export async function deleteWebhookEndpoint(trx: StoreTransaction, tenantId: string, id: string): Promise<boolean> {
  const found = await trx
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!found) return false;
  // Children first: MySQL and SQLite apply the cascade too, but the order keeps every engine alike.
  await trx.deleteFrom('webhook_attempts').where('endpoint_id', '=', id).execute();
  await trx.deleteFrom('webhook_messages').where('endpoint_id', '=', id).execute();
  await trx.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
  return true;
}

/** A new secret; the current one keeps signing until `previousUntil`. True if the endpoint exists. */
export async function rotateWebhookSecret(
  trx: StoreTransaction,
  rotation: { tenantId: string; id: string; secret: string; previousUntil: IsoTimestamp; now: IsoTimestamp },
): Promise<boolean> {
  const current = await trx
    .selectFrom('webhook_endpoints')
    .select('secret')
    .where('tenant_id', '=', rotation.tenantId)
    .where('id', '=', rotation.id)
    .executeTakeFirst();
  if (!current) return false;
  await trx
    .updateTable('webhook_endpoints')
    .set({
      secret: rotation.secret,
      previous_secret: current.secret,
      previous_secret_until: rotation.previousUntil,
      updated_at: rotation.now,
    })
    .where('id', '=', rotation.id)
    .execute();
  return true;
}

/** Enabled endpoints whose cursor is behind their tenant's log: the fan-out's work. */
export async function endpointsBehindLog(db: Db, limit: number) {
  const rows = await db
    .selectFrom('webhook_endpoints as e')
    .innerJoin('tenant_event_counters as c', 'c.tenant_id', 'e.tenant_id')
    .select(['e.id', 'e.tenant_id', 'e.log_cursor', 'e.event_types'])
    .where('e.enabled', '=', 1)
    .whereRef('c.last_sequence', '>', 'e.log_cursor')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ ...row, log_cursor: Number(row.log_cursor) }));
}

/** Compare-and-set of an endpoint's cursor: true only for the one transaction that found it at `from`. */
export async function advanceEndpointCursor(trx: StoreTransaction, cursor: { id: string; from: number; to: number }): Promise<boolean> {
  // An endpoint whose row another transaction holds (an edit under way, or a dead host's open
  // transaction until the server ends it) is not waited for: false, as if its cursor had moved —
  // the fan-out passes it over this time, and the other endpoints' messages go on.
  if (!(await lockFreeRows(trx, 'webhook_endpoints', [cursor.id])).length) return false;
  const result = await trx
    .updateTable('webhook_endpoints')
    .set({ log_cursor: cursor.to })
    .where('id', '=', cursor.id)
    .where('log_cursor', '=', cursor.from)
    .where('enabled', '=', 1)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The tenant's events after `after` (sequence order, at most `limit`): id, sequence, type, consultation only. */
export async function tenantEventHeads(
  db: Db,
  tenantId: string,
  range: { after: number; upTo?: number; since?: IsoTimestamp; limit: number },
) {
  let query = db
    .selectFrom('tenant_events')
    .select(['id', 'sequence', 'type', 'consultation_id'])
    .where('tenant_id', '=', tenantId)
    .where('sequence', '>', range.after)
    .orderBy('sequence')
    .limit(range.limit);
  if (range.upTo !== undefined) query = query.where('sequence', '<=', range.upTo);
  if (range.since !== undefined) query = query.where('occurred_at', '>=', range.since);
  const rows = await query.execute();
  return rows.map((row) => ({ ...row, sequence: Number(row.sequence) }));
}

export interface NewWebhookMessage {
  readonly endpointId: string;
  readonly tenantId: string;
  readonly eventId: string;
  readonly eventSequence: number;
  readonly eventType: string;
  readonly consultationId: string;
  /** `<endpoint>/<event>` for the fan-out; redeliveries and recoveries add their own suffix. */
  readonly dedupeKey: string;
  readonly now: IsoTimestamp;
}

export async function insertWebhookMessages(trx: StoreTransaction | Db, messages: readonly NewWebhookMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await trx
    .insertInto('webhook_messages')
    .values(
      messages.map((message) => ({
        id: newId('whm'),
        endpoint_id: message.endpointId,
        tenant_id: message.tenantId,
        event_id: message.eventId,
        event_sequence: message.eventSequence,
        event_type: message.eventType,
        consultation_id: message.consultationId,
        dedupe_key: message.dedupeKey,
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: message.now,
        first_attempt_at: null,
        locked_by: null,
        locked_until: null,
        created_at: message.now,
        finished_at: null,
      })),
    )
    .execute();
}

/**
 * Due messages of enabled endpoints, unclaimed, each the first pending one of its endpoint and
 * consultation (so a consultation's events go out in sequence order).
 */
export async function findDueWebhookMessages(db: Db, now: IsoTimestamp, limit: number) {
  const rows = await db
    .selectFrom('webhook_messages as m')
    .innerJoin('webhook_endpoints as e', 'e.id', 'm.endpoint_id')
    .select(['m.id'])
    .where('m.status', '=', 'pending')
    .where('m.next_attempt_at', '<=', now)
    .where('e.enabled', '=', 1)
    .where((eb) => eb.or([eb('m.locked_until', 'is', null), eb('m.locked_until', '<', now)]))
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('webhook_messages as p')
            .select('p.id')
            .whereRef('p.endpoint_id', '=', 'm.endpoint_id')
            .whereRef('p.consultation_id', '=', 'm.consultation_id')
            .where('p.status', '=', 'pending')
            .whereRef('p.event_sequence', '<', 'm.event_sequence'),
        ),
      ),
    )
    .orderBy('m.next_attempt_at')
    .orderBy('m.event_sequence')
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

/**
 * Claims due messages by compare-and-set (one UPDATE: only rows still unclaimed are taken; the
 * rows this worker won are read back by its id and this claim's lease end) and records, in the
 * same transaction, each one's attempt as `pending` — closing as failed an earlier attempt still
 * `pending` (its worker died mid-send). One commit per poll, however many it claims.
 */
export async function claimWebhookMessages(
  trx: StoreTransaction,
  claim: { ids: readonly string[]; workerId: string; now: IsoTimestamp; lockedUntil: IsoTimestamp },
): Promise<{ messageId: string; attemptId: string }[]> {
  if (claim.ids.length === 0) return [];
  // Messages whose rows another transaction holds (another worker's claim, a dead host's open
  // transaction) are passed over, never waited for: one held row must not fail every poll's
  // claims at the lock timeout and stop every tenant's deliveries. They stay due.
  const free = await lockFreeRows(trx, 'webhook_messages', claim.ids);
  if (free.length === 0) return [];
  await trx
    .updateTable('webhook_messages')
    .set({ locked_by: claim.workerId, locked_until: claim.lockedUntil })
    .where('id', 'in', free)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', claim.now)]))
    .execute();
  const won = await trx
    .selectFrom('webhook_messages')
    .select(['id', 'endpoint_id', 'event_id', 'event_type', 'attempts'])
    .where('id', 'in', claim.ids)
    .where('locked_by', '=', claim.workerId)
    .where('locked_until', '=', claim.lockedUntil)
    .execute();
  if (won.length === 0) return [];
  await trx
    .updateTable('webhook_attempts')
    .set({ status: 'failed', error: 'interrupted: the delivering instance stopped' })
    .where(
      'message_id',
      'in',
      won.map((row) => row.id),
    )
    .where('status', '=', 'pending')
    .execute();
  const attempts = won.map((row) => ({
    id: newId('wha'),
    message_id: row.id,
    endpoint_id: row.endpoint_id,
    event_id: row.event_id,
    event_type: row.event_type,
    attempt: row.attempts + 1,
    status: 'pending' as const,
    response_status: null,
    latency_ms: null,
    error: null,
    attempted_at: claim.now,
    next_attempt_at: null,
  }));
  await trx.insertInto('webhook_attempts').values(attempts).execute();
  return attempts.map((attempt) => ({ messageId: attempt.message_id, attemptId: attempt.id }));
}

/** The worker's heartbeat; false if the claim is no longer this worker's. */
export async function renewWebhookLease(db: Db, lease: { id: string; workerId: string; lockedUntil: IsoTimestamp }): Promise<boolean> {
  const result = await db
    .updateTable('webhook_messages')
    .set({ locked_until: lease.lockedUntil })
    .where('id', '=', lease.id)
    .where('status', '=', 'pending')
    .where('locked_by', '=', lease.workerId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** What one delivery needs: the message, its endpoint (with the secrets) and its event from the log (undefined once retention removed it). */
export async function webhookDeliveryContext(db: Db, messageId: string) {
  const message = await db
    .selectFrom('webhook_messages as m')
    .innerJoin('webhook_endpoints as e', 'e.id', 'm.endpoint_id')
    .select([
      'm.id',
      'm.endpoint_id',
      'm.tenant_id',
      'm.event_id',
      'm.event_sequence',
      'm.event_type',
      'm.attempts',
      'm.first_attempt_at',
      'e.url',
      'e.secret',
      'e.previous_secret',
      'e.previous_secret_until',
      'e.failing_since',
    ])
    .where('m.id', '=', messageId)
    .executeTakeFirst();
  if (!message) return undefined;
  const row = await db
    .selectFrom('tenant_events')
    .selectAll()
    .where('tenant_id', '=', message.tenant_id)
    .where('sequence', '=', message.event_sequence)
    .where('id', '=', message.event_id)
    .executeTakeFirst();
  const event: TenantEvent | undefined = row
    ? {
        id: row.id,
        sequence: Number(row.sequence),
        type: row.type as TenantEventType,
        consultationId: row.consultation_id === '' ? null : row.consultation_id,
        occurredAt: row.occurred_at,
        data: JSON.parse(row.payload) as Record<string, unknown>,
      }
    : undefined;
  return { ...message, event_sequence: Number(message.event_sequence), event };
}

export interface AttemptOutcome {
  readonly messageId: string;
  readonly attemptId: string;
  readonly endpointId: string;
  readonly workerId: string;
  readonly attempts: number;
  readonly firstAttemptAt: IsoTimestamp;
  readonly attemptStatus: Exclude<WebhookAttemptStatus, 'pending'>;
  readonly messageStatus: WebhookMessageStatus;
  readonly responseStatus: number | null;
  readonly latencyMs: number | null;
  readonly error: string | null;
  readonly nextAttemptAt: IsoTimestamp | null;
  /** The endpoint's failure streak: ended by a delivery, started by a failure; undefined: unchanged. */
  readonly streak?: 'ended' | 'started';
  readonly now: IsoTimestamp;
}

export class WebhookClaimLostError extends Error {
  override readonly name = 'WebhookClaimLostError';
}

/**
 * Records an attempt's outcome, releases the claim, and keeps the endpoint's failure streak.
 * The endpoint row is written first, as the fan-out does (endpoint, then messages): two such
 * transactions never wait for each other in opposite orders. Throws WebhookClaimLostError (and
 * so rolls back) when the claim is no longer this worker's: whoever took it over decides.
 */
export async function finishWebhookAttempt(trx: StoreTransaction, outcome: AttemptOutcome): Promise<void> {
  if (outcome.streak === 'ended') {
    await trx
      .updateTable('webhook_endpoints')
      .set({ failing_since: null })
      .where('id', '=', outcome.endpointId)
      .where('failing_since', 'is not', null)
      .execute();
  } else if (outcome.streak === 'started') {
    await trx
      .updateTable('webhook_endpoints')
      .set({ failing_since: outcome.now })
      .where('id', '=', outcome.endpointId)
      .where('failing_since', 'is', null)
      .execute();
  }
  const result = await trx
    .updateTable('webhook_messages')
    .set({
      status: outcome.messageStatus,
      attempts: outcome.attempts,
      first_attempt_at: outcome.firstAttemptAt,
      next_attempt_at: outcome.nextAttemptAt ?? outcome.now,
      locked_by: null,
      locked_until: null,
      finished_at: outcome.messageStatus === 'pending' ? null : outcome.now,
    })
    .where('id', '=', outcome.messageId)
    .where('locked_by', '=', outcome.workerId)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new WebhookClaimLostError(`the claim of ${outcome.messageId} was lost`);
  await trx
    .updateTable('webhook_attempts')
    .set({
      status: outcome.attemptStatus,
      response_status: outcome.responseStatus,
      latency_ms: outcome.latencyMs,
      error: outcome.error,
      next_attempt_at: outcome.nextAttemptAt,
    })
    .where('id', '=', outcome.attemptId)
    .execute();
}

/** Disables an enabled endpoint; true for the one call that did (its tenant and URL, for the event). */
export async function disableWebhookEndpoint(trx: StoreTransaction, disable: { id: string; reason: string; now: IsoTimestamp }) {
  const result = await trx
    .updateTable('webhook_endpoints')
    .set({ enabled: 0, disabled_reason: disable.reason, updated_at: disable.now })
    .where('id', '=', disable.id)
    .where('enabled', '=', 1)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return undefined;
  return trx.selectFrom('webhook_endpoints').select(['tenant_id', 'url', 'failing_since']).where('id', '=', disable.id).executeTakeFirst();
}

/** An endpoint's attempts, newest first, one more than `limit`. */
export async function listWebhookAttemptsPage(
  db: Db,
  page: { endpointId: string; limit: number; before?: { createdAt: string; id: string } },
) {
  let query = db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('endpoint_id', '=', page.endpointId)
    .orderBy('attempted_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('attempted_at', '<', before.createdAt), eb.and([eb('attempted_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

/** Queues the attempt's event for the endpoint again (a new message, the same `webhook-id`); false if no such attempt. */
export async function enqueueRedelivery(
  db: Db,
  redelivery: { endpointId: string; attemptId: string; now: IsoTimestamp },
): Promise<boolean> {
  const source = await db
    .selectFrom('webhook_attempts as a')
    .innerJoin('webhook_messages as m', 'm.id', 'a.message_id')
    .select(['m.endpoint_id', 'm.tenant_id', 'm.event_id', 'm.event_sequence', 'm.event_type', 'm.consultation_id'])
    .where('a.id', '=', redelivery.attemptId)
    .where('a.endpoint_id', '=', redelivery.endpointId)
    .executeTakeFirst();
  if (!source) return false;
  await insertWebhookMessages(db, [
    {
      endpointId: source.endpoint_id,
      tenantId: source.tenant_id,
      eventId: source.event_id,
      eventSequence: Number(source.event_sequence),
      eventType: source.event_type,
      consultationId: source.consultation_id,
      dedupeKey: `${source.endpoint_id}/${source.event_id}/${newId('r')}`,
      now: redelivery.now,
    },
  ]);
  return true;
}

/** Messages by status (tests, benches, operator summaries). */
export async function countWebhookMessages(db: Db, endpointId: string) {
  const rows = await db
    .selectFrom('webhook_messages')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('endpoint_id', '=', endpointId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)])) as Partial<Record<WebhookMessageStatus, number>>;
}

/** Retention: the tenant's messages finished before the cutoff, with their attempts; how many messages. */
export async function purgeFinishedWebhookMessages(trx: StoreTransaction, tenantId: string, cutoff: IsoTimestamp): Promise<number> {
  const ids = (
    await trx
      .selectFrom('webhook_messages')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('status', 'in', ['delivered', 'failed'])
      .where('finished_at', '<', cutoff)
      .execute()
  ).map((row) => row.id);
  let removed = 0;
  for (let start = 0; start < ids.length; start += 500) {
    const chunk = ids.slice(start, start + 500);
    await trx.deleteFrom('webhook_attempts').where('message_id', 'in', chunk).execute();
    const result = await trx.deleteFrom('webhook_messages').where('id', 'in', chunk).executeTakeFirst();
    removed += Number(result.numDeletedRows);
  }
  return removed;
}
