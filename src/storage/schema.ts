/**
 * The Kysely view of Roomgate's database — one interface for all three engines.
 *
 * Conventions (the same on every engine, so queries and results never differ):
 * - ids: unguessable, time-ordered strings from newId(prefix) (`ten_…`, 26 base32 chars after the
 *   prefix: 50 bits of the creation time, then 80 random bits).
 * - timestamps: UTC ISO-8601 with milliseconds, `YYYY-MM-DDTHH:mm:ss.sssZ` (Date#toISOString),
 *   stored as fixed-width char(24) text. Lexical order is time order, so comparisons and
 *   ORDER BY work on the strings; no driver converts them and no session time zone applies.
 * - booleans: integers 0/1 (`record`).
 * - JSON documents (params, intervals, payload, detail): JSON text, written with JSON.stringify
 *   and read back as the same string on every engine.
 * - 64-bit integers (size) come back as JavaScript numbers on every engine.
 */
import type { Generated, Insertable, Selectable, Transaction, Updateable } from 'kysely';

/** An ISO-8601 UTC timestamp with milliseconds (24 characters). */
export type IsoTimestamp = string;
/** A JSON document, as text. */
export type JsonText = string;

export interface TenantsTable {
  id: string;
  slug: string;
  name: string;
  kind: 'human' | 'veterinary';
  billing_rounding_seconds: Generated<number>;
  retention_days: Generated<number>;
  /** Requests per minute one API key may make; NULL → the service default (migration 0008). */
  rate_limit_per_minute: Generated<number | null>;
  /** Minutes before scheduled_at that joining opens; NULL → the default (migration 0010). */
  join_early_minutes: Generated<number | null>;
  /** Minutes after the slot's end that joining stays open; NULL → the default (migration 0010). */
  join_grace_minutes: Generated<number | null>;
  /** 0/1: care recipients wait in the lobby until admitted; NULL → off (migration 0010). */
  waiting_room: Generated<number | null>;
  /** all-parties or one-party; NULL → off: recording not managed by consent (migration 0013). */
  consent_mode: Generated<string | null>;
  /** 'us-cpt-2025' | 'us-medicare' | 'flat'; NULL → by kind (migration 0014). */
  billing_code_set: Generated<string | null>;
  /** 'visit' | 'block'; NULL → 'visit' (migration 0014). */
  billing_flat_mode: Generated<string | null>;
  created_at: IsoTimestamp;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  /** The public lookup part of the key (unique); the secret part is only stored hashed. */
  lookup_id: string;
  secret_hash: string;
  /** Comma-separated scopes. */
  scopes: string;
  expires_at: IsoTimestamp | null;
  revoked_at: IsoTimestamp | null;
  last_used_at: IsoTimestamp | null;
  created_at: IsoTimestamp;
}

export interface TwilioAccountsTable {
  id: string;
  tenant_id: string | null;
  account_sid: string;
  label: string;
  created_at: IsoTimestamp;
}

export interface ConsultationsTable {
  id: string;
  tenant_id: string;
  room_sid: string | null;
  room_name: string;
  /** The Twilio account (AC…) the room was created under; NULL before migration 0004. */
  account_sid: string | null;
  status: string;
  /** 0/1 */
  record: number;
  scheduled_at: IsoTimestamp | null;
  started_at: IsoTimestamp | null;
  ended_at: IsoTimestamp | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
  version: number;
  /** The fold's state (JSON, migration 0007); NULL: fold again from the callbacks. */
  fold_state: JsonText | null;
  /** The statuses entered, in order (JSON [{ status, at }], migration 0007); NULL before the first fold. */
  status_history: JsonText | null;
  /** The last time the reconciler compared the record with Twilio's REST API (migration 0006). */
  reconciled_at: Generated<IsoTimestamp | null>;
  /** The platform's own reference (unique per tenant when set; migration 0008). */
  external_ref: Generated<string | null>;
  /** A small JSON object of the platform's keys (no personal data); NULL = {}. */
  metadata: Generated<JsonText | null>;
  /** The slot's length; with scheduled_at it makes the appointment window (migration 0010). */
  duration_minutes: Generated<number | null>;
  /** 0/1: this consultation's waiting room; NULL → the tenant's setting (migration 0010). */
  waiting_room: Generated<number | null>;
  /** The appointment window's end, set at creation (migration 0010). */
  window_closes_at: Generated<IsoTimestamp | null>;
  /** Who never came: clinician, care-recipient, both (a no-show named by the window). */
  no_show_missing: Generated<string | null>;
  /** How long the side that came waited. */
  no_show_waited_seconds: Generated<number | null>;
  /** No room may follow after this moment: the window closed, or it was ended on request (migration 0012). */
  closed_at: Generated<IsoTimestamp | null>;
  /** 'new' | 'established' | NULL: picks the code ladder of the billing evidence (migration 0014). */
  patient_status: Generated<string | null>;
}

/** Every room of a consultation, in order (migration 0012); consultations.room_sid is the current one. */
export interface ConsultationRoomsTable {
  room_name: string;
  consultation_id: string;
  /** 1 for the room made with the consultation, then 2, 3, … as rooms are reopened. */
  sequence: number;
  /** NULL until Twilio answered. */
  room_sid: string | null;
  created_at: IsoTimestamp;
  /** Its room-ended, as the fold saw it. */
  ended_at: IsoTimestamp | null;
}

/** One identity in a consultation's lobby (migration 0010). */
export interface LobbyEntriesTable {
  consultation_id: string;
  identity: string;
  role: string;
  /** waiting, admitted, declined, left (core/consultation/lobby.ts). */
  status: string;
  joined_at: IsoTimestamp;
  decided_at: IsoTimestamp | null;
  left_at: IsoTimestamp | null;
}

export interface ParticipantsTable {
  id: string;
  consultation_id: string;
  identity: string;
  role: string;
  participant_sid: string | null;
  created_at: IsoTimestamp;
}

export interface ParticipantSessionsTable {
  id: string;
  consultation_id: string;
  participant_sid: string;
  identity: string;
  connected_at: IsoTimestamp;
  disconnected_at: IsoTimestamp | null;
}

export interface IssuedIdentitiesTable {
  consultation_id: string;
  identity: string;
  role: string;
  issued_at: IsoTimestamp;
  expires_at: IsoTimestamp;
}

export type CallbackStatus = 'accepted' | 'quarantined' | 'unmatched';

/** The inbox: every signed callback, once (UNIQUE dedupe_key). */
export interface CallbacksTable {
  id: string;
  /** A hash of the event's identity, ≤ 64 characters; the database refuses a second copy. */
  dedupe_key: string;
  idempotency_token: string | null;
  account_sid: string;
  room_sid: string | null;
  composition_sid: string | null;
  event_type: string;
  event_timestamp: IsoTimestamp;
  sequence_number: number | null;
  participant_sid: string | null;
  participant_identity: string | null;
  params: JsonText;
  status: CallbackStatus;
  received_at: IsoTimestamp;
  processed_at: IsoTimestamp | null;
  /** 'callback' (sent by Twilio), 'reconciled' (read from Twilio's REST API) or 'operator' (`consultation complete`); migration 0006. */
  source: Generated<CallbackSource>;
  /** 'late': signed and genuine but older than the replay window; not applied until confirmed. */
  held: Generated<'late' | null>;
}

export type CallbackSource = 'callback' | 'reconciled' | 'operator';

/** One lease per name: the reconciler runs on the instance holding 'reconciler'. */
export interface ReconcileLeasesTable {
  name: string;
  holder: string;
  expires_at: IsoTimestamp;
}

export interface RecordingsTable {
  id: string;
  consultation_id: string;
  recording_sid: string;
  track_name: string | null;
  /** Whose track (PA…); NULL before migration 0008_tenant_api_recording_tracks. */
  participant_sid: Generated<string | null>;
  /** `audio`, `video` or `data` (Twilio's `Type`). */
  kind: Generated<string | null>;
  status: string;
  duration: number | null;
  size: number | null;
  media_uri: string | null;
  created_at: IsoTimestamp;
  completed_at: IsoTimestamp | null;
  /** 'not-consented': Twilio recorded a participant who had not consented (migration 0013). */
  consent_flag: Generated<string | null>;
}

/** The consent ledger (migration 0013): append-only, one row per decision. */
export interface ConsentsTable {
  id: string;
  tenant_id: string;
  consultation_id: string;
  /** 1, 2, … per consultation: the ledger's order (unique). */
  position: number;
  identity: string;
  /** recording or transcription. */
  kind: string;
  /** given or withdrawn. */
  decision: string;
  /** The version of the consent text shown. */
  text_version: string;
  /** Who recorded it (an identity or staff reference of the platform's), when given. */
  recorded_by: string | null;
  /** The API key that posted it. */
  api_key_id: string | null;
  recorded_at: IsoTimestamp;
}

/** One row per room that was composed (UNIQUE consultation_id, room_sid: migration 0016). */
export interface CompositionsTable {
  id: string;
  consultation_id: string;
  room_sid: string;
  composition_sid: string | null;
  status: string;
  attempts: number;
  media_uri: string | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

export interface BillingRecordsTable {
  id: string;
  consultation_id: string;
  tenant_id: string;
  billable_seconds: number;
  rounded_seconds: number;
  intervals: JsonText;
  created_at: IsoTimestamp;
  /** Moves with every correction (migration 0008; NULL only before it ran). */
  updated_at: Generated<IsoTimestamp | null>;
  /** 1 when first recorded, +1 with every correction. */
  version: Generated<number>;
  /** The current version's billing evidence, JSON (migration 0014; NULL before it). */
  evidence: Generated<JsonText | null>;
}

/** Every billing record version, chained per tenant by hash (migration 0014). */
export interface BillingRecordVersionsTable {
  tenant_id: string;
  sequence: number;
  billing_record_id: string;
  consultation_id: string;
  version: number;
  recorded_at: IsoTimestamp;
  /** Canonical JSON of the version's content (core/billing/billing-chain.ts BillingVersionContent). */
  content: JsonText;
  previous_hash: string;
  hash: string;
}

/** Each tenant's chain head: its row lock orders the tenant's appends (migration 0014). */
export interface BillingChainHeadsTable {
  tenant_id: string;
  last_sequence: number;
  last_hash: string;
}

/** A request made with an Idempotency-Key, and once answered, its answer (migration 0008). */
export interface IdempotencyKeysTable {
  tenant_id: string;
  idempotency_key: string;
  /** sha256 of method, path and canonical body: the same key with another request is refused. */
  fingerprint: string;
  status: 'in-progress' | 'done';
  response_status: number | null;
  response_body: JsonText | null;
  response_location: string | null;
  /** An in-progress claim older than this was abandoned (crash): another request may take it. */
  locked_until: IsoTimestamp;
  created_at: IsoTimestamp;
  expires_at: IsoTimestamp;
}

export type OutboxStatus = 'pending' | 'done' | 'failed';

export interface OutboxTable {
  id: string;
  kind: string;
  dedupe_key: string;
  payload: JsonText;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: IsoTimestamp;
  locked_by: string | null;
  locked_until: IsoTimestamp | null;
  last_error: string | null;
  created_at: IsoTimestamp;
  done_at: IsoTimestamp | null;
}

/** Append-only. */
export interface AuditLogTable {
  id: string;
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail: JsonText;
  created_at: IsoTimestamp;
}

export interface SecurityEventsTable {
  id: string;
  reason: string;
  remote_address: string;
  path: string;
  claimed_account_sid: string | null;
  detail: JsonText;
  created_at: IsoTimestamp;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  twilio_accounts: TwilioAccountsTable;
  consultations: ConsultationsTable;
  consultation_rooms: ConsultationRoomsTable;
  lobby_entries: LobbyEntriesTable;
  consents: ConsentsTable;
  participants: ParticipantsTable;
  participant_sessions: ParticipantSessionsTable;
  issued_identities: IssuedIdentitiesTable;
  callbacks: CallbacksTable;
  recordings: RecordingsTable;
  compositions: CompositionsTable;
  billing_records: BillingRecordsTable;
  billing_record_versions: BillingRecordVersionsTable;
  billing_chain_heads: BillingChainHeadsTable;
  outbox: OutboxTable;
  audit_log: AuditLogTable;
  security_events: SecurityEventsTable;
  reconcile_leases: ReconcileLeasesTable;
  idempotency_keys: IdempotencyKeysTable;
  service_heartbeats: ServiceHeartbeatsTable;
  tenant_event_counters: TenantEventCountersTable;
  tenant_events: TenantEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_attempts: WebhookAttemptsTable;
}

/** Each tenant's last event sequence (migration 0009): its row lock orders the log's commits. */
export interface TenantEventCountersTable {
  tenant_id: string;
  last_sequence: number;
}

/** The durable per-tenant event log (migration 0009). */
export interface TenantEventsTable {
  tenant_id: string;
  sequence: number;
  id: string;
  type: string;
  consultation_id: string;
  occurred_at: IsoTimestamp;
  payload: JsonText;
}

/** A tenant's outbound webhook endpoint (migration 0011). */
export interface WebhookEndpointsTable {
  id: string;
  tenant_id: string;
  url: string;
  /** JSON array of event types; null: every type. */
  event_types: JsonText | null;
  description: string | null;
  enabled: number;
  disabled_reason: string | null;
  /** The whsec_ secret deliveries are signed with (a secret: never logged). */
  secret: string;
  previous_secret: string | null;
  previous_secret_until: IsoTimestamp | null;
  /** The last tenant event sequence fanned out to this endpoint. */
  log_cursor: number;
  failing_since: IsoTimestamp | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

export type WebhookMessageStatus = 'pending' | 'delivered' | 'failed';

/** One event to deliver to one endpoint (migration 0011), claimed like the outbox. */
export interface WebhookMessagesTable {
  id: string;
  endpoint_id: string;
  tenant_id: string;
  event_id: string;
  event_sequence: number;
  event_type: string;
  consultation_id: string;
  dedupe_key: string;
  status: WebhookMessageStatus;
  attempts: number;
  next_attempt_at: IsoTimestamp;
  first_attempt_at: IsoTimestamp | null;
  locked_by: string | null;
  locked_until: IsoTimestamp | null;
  created_at: IsoTimestamp;
  finished_at: IsoTimestamp | null;
}

export type WebhookAttemptStatus = 'pending' | 'delivered' | 'failed' | 'retrying';

/** One attempt to deliver a message (migration 0011). */
export interface WebhookAttemptsTable {
  id: string;
  message_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  status: WebhookAttemptStatus;
  response_status: number | null;
  latency_ms: number | null;
  error: string | null;
  attempted_at: IsoTimestamp;
  next_attempt_at: IsoTimestamp | null;
}

/** Readiness probes' writes (migration 0005): one row per instance. */
export interface ServiceHeartbeatsTable {
  instance_id: string;
  beat_at: IsoTimestamp;
  padding: string;
}

export type StoreTransaction = Transaction<Database>;

export type CallbackRow = Selectable<CallbacksTable>;
export type NewCallback = Insertable<CallbacksTable>;
export type Tenant = Selectable<TenantsTable>;
export type NewTenant = Insertable<TenantsTable>;
export type ConsultationRow = Selectable<ConsultationsTable>;
export type ConsultationUpdate = Updateable<ConsultationsTable>;
