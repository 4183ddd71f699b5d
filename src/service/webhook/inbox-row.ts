/**
 * A signed callback as its inbox row. Every value is bounded to its column here, before it
 * reaches SQL: the schema vouches for the fields (SIDs, Timestamp, SequenceNumber), and what it
 * cannot vouch for — the unsigned idempotency header, an identity of any length — is hashed or
 * left out. So no callback, whatever it holds, can make an INSERT fail on PostgreSQL or MySQL
 * (a value over a varchar's length, a NUL) and take its group commit down with it.
 */
import { createHash } from 'node:crypto';
import { eventDedupeKey } from '../../core/consultation/consultation-event.js';
import type { CallbackStatus, NewCallback } from '../../storage/schema.js';
import type { SignedCallback } from './callback-ingest.js';

/** callbacks.idempotency_token is varchar(128); callbacks.participant_identity varchar(128). */
const TOKEN_COLUMN = 128;
const IDENTITY_COLUMN = 128;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface InboxRowInput {
  readonly id: string;
  readonly callback: SignedCallback;
  readonly status: CallbackStatus;
  /** When the row counts as folded already (accepted callbacks that change nothing); else null. */
  readonly processedAt: string | null;
  /** 'late': kept, not applied, until the reconciler confirms it (status is then 'quarantined'). */
  readonly held?: 'late';
}

export function inboxRow({ id, callback, status, processedAt, held }: InboxRowInput): NewCallback {
  const { parsed } = callback;
  const fields = parsed.fields;
  return {
    id,
    dedupe_key: dedupeKey(callback),
    idempotency_token: boundedToken(callback.idempotencyToken),
    account_sid: fields.AccountSid ?? '',
    room_sid: fields.RoomSid ?? null,
    composition_sid: fields.CompositionSid ?? null,
    event_type: parsed.event ?? 'unknown',
    event_timestamp: new Date(parsed.timestamp ?? callback.receivedAt.getTime()).toISOString(),
    sequence_number: fields.SequenceNumber === undefined ? null : Number(fields.SequenceNumber),
    participant_sid: fields.ParticipantSid ?? null,
    participant_identity: boundedText(fields.ParticipantIdentity, IDENTITY_COLUMN),
    params: JSON.stringify(callback.params),
    status,
    received_at: callback.receivedAt.toISOString(),
    processed_at: processedAt,
    ...(held ? { held } : {}),
  };
}

/**
 * The event's own key for a callback that passed the schema. One the schema quarantined is
 * never keyed by the event it claims to be — it could then block, or be blocked by, the genuine
 * one — but by its raw body: `q` + 63 hex digits, which no event key (64 hex digits) can equal.
 * The same body sent again is still stored once.
 */
function dedupeKey(callback: SignedCallback): string {
  if (callback.parsed.ok) return eventDedupeKey(callback.parsed.fields);
  return `q${callback.bodySha256.slice(0, 63)}`;
}

/** The header as sent when it fits the column as printable ASCII; otherwise its SHA-256, still comparable. */
function boundedToken(token: string | undefined): string | null {
  if (token === undefined || token === '') return null;
  if (token.length <= TOKEN_COLUMN && PRINTABLE_ASCII.test(token)) return token;
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** A text value for a bounded column, or null when it does not fit or holds what SQL would refuse. */
function boundedText(value: string | undefined, max: number): string | null {
  if (value === undefined || value.length > max || value.includes('\u0000') || LONE_SURROGATE.test(value)) return null;
  return value;
}
