/**
 * Stores signed callbacks durably, exactly once — in group commits: callbacks that arrive
 * together share one transaction, and each is answered when that transaction's COMMIT returns.
 * Within the transaction, per callback:
 *   - screening: an unknown room is kept as 'unmatched'; a participant identity that breaks the
 *     policy or was never issued for the room is kept as 'quarantined' — neither is applied;
 *   - the inbox row, whose UNIQUE dedupe_key makes the database refuse a second copy.
 * After the commit, the consultations that received new accepted callbacks are handed to the
 * projection worker, which recomputes each record from all its accepted callbacks (so order,
 * lateness and repetition cannot change the result).
 */
import type { Logger } from 'pino';
import { eventDedupeKey, TRACK_EVENT_TYPES } from '../../core/consultation/consultation-event.js';
import { checkIdentity } from '../../core/identity/identity-policy.js';
import { GroupCommitter } from '../../storage/group-committer.js';
import { newId } from '../../storage/ids.js';
import { insertCallbacks } from '../../storage/inbox-repository.js';
import type { Store, StoreTransaction } from '../../storage/store.js';
import type { CallbackIngest, IngestOutcome, SignedCallback } from './callback-ingest.js';

type Screening =
  { status: 'accepted'; consultationId: string } | { status: 'unmatched' } | { status: 'quarantined'; reason: string; identity: string };

export interface StoreIngest extends CallbackIngest {
  drain(): Promise<void>;
  close(): Promise<void>;
}

interface BatchOutcome {
  readonly outcome: IngestOutcome;
  /** The consultation to fold once the batch has committed, if this callback changes it. */
  readonly dirty?: string;
}

export interface StoreIngestOptions {
  readonly store: Store;
  readonly clock: () => Date;
  readonly logger: Logger;
  /** Called after the commit with the consultations that received new accepted callbacks. */
  readonly onCommitted: (consultationIds: string[]) => void;
}

export function createStoreIngest(options: StoreIngestOptions): StoreIngest {
  const committer = new GroupCommitter<SignedCallback, BatchOutcome>({
    store: options.store,
    maxBatch: 256,
    apply: (trx, callbacks) => ingestBatch(trx, callbacks, options),
  });
  return {
    async submit(callback) {
      const { outcome, dirty } = await committer.submit(callback);
      if (dirty) options.onCommitted([dirty]);
      return outcome;
    },
    drain: () => committer.drain(),
    close: () => committer.close(),
  };
}

/** Track events are kept in the inbox (and the timeline) but change nothing in the record. */
function changesRecord(event: string | undefined): boolean {
  return !(TRACK_EVENT_TYPES as readonly string[]).includes(event ?? '');
}

async function ingestBatch(
  trx: StoreTransaction,
  callbacks: readonly SignedCallback[],
  options: { clock: () => Date; logger: Logger },
): Promise<BatchOutcome[]> {
  const fields = callbacks.map((callback) => Object.fromEntries(callback.params) as Record<string, string>);
  const screenings = await screen(trx, fields);
  const now = options.clock().toISOString();
  const inserted = await insertCallbacks(
    trx,
    callbacks.map((callback, index) => {
      const params = fields[index]!;
      const screening = screenings[index]!;
      return {
        id: newId('cb'),
        dedupe_key: eventDedupeKey(params),
        idempotency_token: callback.idempotencyToken ?? null,
        account_sid: params.AccountSid ?? '',
        room_sid: params.RoomSid ?? null,
        composition_sid: params.CompositionSid ?? null,
        event_type: params.StatusCallbackEvent ?? 'unknown',
        event_timestamp: params.Timestamp ? new Date(params.Timestamp).toISOString() : now,
        sequence_number: params.SequenceNumber && /^\d+$/.test(params.SequenceNumber) ? Number(params.SequenceNumber) : null,
        participant_sid: params.ParticipantSid ?? null,
        participant_identity: params.ParticipantIdentity ?? null,
        params: JSON.stringify(callback.params),
        status: screening.status,
        received_at: callback.receivedAt.toISOString(),
        // Track events change nothing in the record: nothing to fold.
        processed_at: screening.status === 'accepted' && !changesRecord(params.StatusCallbackEvent) ? now : null,
      };
    }),
  );

  return callbacks.map((_, index): BatchOutcome => {
    const event = fields[index]!.StatusCallbackEvent ?? 'unknown';
    const screening = screenings[index]!;
    if (!inserted[index]) return { outcome: { outcome: 'duplicate', event } };
    if (screening.status === 'quarantined')
      return { outcome: { outcome: 'quarantined', event, reason: screening.reason, identity: screening.identity } };
    if (screening.status === 'unmatched') {
      options.logger.warn(
        { alert: 'unmatched-callback', event, roomSid: fields[index]!.RoomSid },
        'callback for a room Roomgate does not know',
      );
      return { outcome: { outcome: 'unmatched', event } };
    }
    return changesRecord(event)
      ? { outcome: { outcome: 'stored', event }, dirty: screening.consultationId }
      : { outcome: { outcome: 'stored', event } };
  });
}

/** Decides, per callback, whether it may be applied — without trusting anything but the signed params. */
async function screen(trx: StoreTransaction, fields: readonly Record<string, string>[]): Promise<Screening[]> {
  const roomSids = [...new Set(fields.map((params) => params.RoomSid).filter((sid): sid is string => Boolean(sid)))];
  const roomNames = [...new Set(fields.map((params) => params.RoomName).filter((name): name is string => Boolean(name)))];
  const consultations = roomSids.length
    ? await trx
        .selectFrom('consultations')
        .select(['id', 'room_sid', 'room_name'])
        .where((eb) =>
          eb.or([
            eb('room_sid', 'in', roomSids),
            ...(roomNames.length ? [eb.and([eb('room_sid', 'is', null), eb('room_name', 'in', roomNames)])] : []),
          ]),
        )
        .execute()
    : [];
  const byRoom = new Map<string, string>();
  for (const row of consultations) {
    if (row.room_sid) {
      byRoom.set(row.room_sid, row.id);
      continue;
    }
    // A callback can overtake the API's own write of the room's SID: match by our unguessable
    // room name (signed by Twilio) and record the SID now.
    const roomSid = fields.find((params) => params.RoomName === row.room_name)?.RoomSid;
    if (!roomSid) continue;
    await trx.updateTable('consultations').set({ room_sid: roomSid }).where('id', '=', row.id).where('room_sid', 'is', null).execute();
    byRoom.set(roomSid, row.id);
  }

  const identities = fields
    .map((params) => ({ consultationId: params.RoomSid ? byRoom.get(params.RoomSid) : undefined, identity: params.ParticipantIdentity }))
    .filter((entry): entry is { consultationId: string; identity: string } => Boolean(entry.consultationId && entry.identity));
  const issued = new Set<string>();
  if (identities.length > 0) {
    const rows = await trx
      .selectFrom('issued_identities')
      .select(['consultation_id', 'identity'])
      .where('consultation_id', 'in', [...new Set(identities.map((entry) => entry.consultationId))])
      .where('identity', 'in', [...new Set(identities.map((entry) => entry.identity))])
      .execute();
    for (const row of rows) issued.add(`${row.consultation_id}\u0000${row.identity}`);
  }

  return fields.map((params): Screening => {
    const consultationId = params.RoomSid ? byRoom.get(params.RoomSid) : undefined;
    if (!consultationId) return { status: 'unmatched' };
    const identity = params.ParticipantIdentity;
    if (identity !== undefined) {
      const policy = checkIdentity(identity);
      if (!policy.ok) return { status: 'quarantined', reason: `identity-${policy.reason}`, identity };
      if (!issued.has(`${consultationId}\u0000${identity}`)) return { status: 'quarantined', reason: 'identity-never-issued', identity };
    }
    return { status: 'accepted', consultationId };
  });
}
