/**
 * Stores signed callbacks durably, exactly once — in group commits: callbacks that arrive
 * together share one transaction, and each is answered when that transaction's COMMIT returns.
 * Within the transaction, per callback, from its one parse (core/webhook/callback-schema.ts):
 *   - screening: a callback the schema refused is kept as 'quarantined' with the schema's reason
 *     (keyed by its body, never by the event it claims); an unknown room is kept as 'unmatched';
 *     a callback whose AccountSid is not the account the room was created under is kept as
 *     'quarantined' ('account-mismatch'), as is a participant identity that breaks the policy or
 *     was never issued for the room — none of these is applied;
 *   - the inbox row (every value bounded to its column: inbox-row.ts), whose UNIQUE dedupe_key
 *     makes the database refuse a second copy.
 * One callback never harms another: values are bounded before SQL, and if a batch still fails
 * for anything but an unavailable store, the committer retries each callback alone.
 * After the commit, the consultations that received new accepted callbacks are handed to the
 * projection worker, which recomputes each record from all its accepted callbacks (so order,
 * lateness and repetition cannot change the result).
 */
import type { Logger } from 'pino';
import { checkIdentity } from '../../core/identity/identity-policy.js';
import type { ParsedCallback } from '../../core/webhook/callback-schema.js';
import { GroupCommitter, type GroupCommitterHealth } from '../../storage/group-committer.js';
import { newId } from '../../storage/ids.js';
import { claimConsultationRoomSid, findConsultationsForRooms } from '../../storage/consultation-repository.js';
import { insertCallbacks, insertsInOneStatement } from '../../storage/inbox-repository.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import type { TenantEventDraft } from '../../core/events/tenant-event.js';
import { findIssuedIdentities } from '../../storage/participant-repository.js';
import type { Kysely } from 'kysely';
import type { Database, NewCallback } from '../../storage/schema.js';
import type { Store, StoreTransaction } from '../../storage/store.js';
import type { CallbackIngest, IngestOutcome, SignedCallback } from './callback-ingest.js';
import { inboxRow } from './inbox-row.js';
import type { LiveEvent } from '../live/live-events.js';
import { rememberParsedCallback } from '../consultations/parsed-events.js';

type Screening =
  { status: 'accepted'; consultationId: string } | { status: 'unmatched' } | { status: 'quarantined'; reason: string; room?: Room };

export interface StoreIngest extends CallbackIngest {
  /** The group committer's recent outcomes (readiness). */
  health(): GroupCommitterHealth;
  drain(): Promise<void>;
  close(): Promise<void>;
}

interface BatchOutcome {
  readonly outcome: IngestOutcome;
  /** The consultation to fold once the batch has committed, if this callback changes it. */
  readonly dirty?: string;
  /** The tenant whose event log this callback's quarantine was appended to. */
  readonly logged?: string;
}

export interface StoreIngestOptions {
  readonly store: Store;
  /** A batch not committed within this long answers 503 and its connection is discarded. */
  readonly deadlineMs?: number;
  readonly clock: () => Date;
  readonly logger: Logger;
  /** Called after the commit with the consultations that received new accepted callbacks. */
  readonly onCommitted: (consultationIds: string[]) => void;
  /** Called after the commit with a wake-up for each tenant whose event log it appended to (a quarantine). */
  readonly onTenantEvents?: (wakeUps: LiveEvent[]) => void;
  /**
   * The account of consultations created before rooms recorded theirs (migration 0004): the
   * first configured account, whose API key created every room until then.
   */
  readonly legacyAccountSid: () => string | undefined;
}

export function createStoreIngest(options: StoreIngestOptions): StoreIngest {
  const settings = {
    maxBatch: 256,
    // PostgreSQL/MySQL: two batches in flight, so one's COMMIT round trip does not hold the next.
    concurrency: options.store.engine === 'sqlite' ? 1 : 2,
    ...(options.deadlineMs ? { deadlineMs: options.deadlineMs } : {}),
  };
  // PostgreSQL/MySQL: the screening reads outside a transaction (READ COMMITTED reads the same
  // inside), and a batch whose only write is its INSERT runs it alone: it commits atomically by
  // itself, so BEGIN and COMMIT — two of the batch's five round trips — are saved.
  const committer = options.store.capabilities.loneStatementsCommitAlone
    ? new GroupCommitter<SignedCallback, BatchOutcome>({
        ...settings,
        store: options.store,
        unit: 'session',
        apply: (session, callbacks) => ingestBatch({ session }, callbacks, options),
      })
    : new GroupCommitter<SignedCallback, BatchOutcome>({
        ...settings,
        store: options.store,
        apply: (trx, callbacks) => ingestBatch({ trx }, callbacks, options),
      });
  return {
    async submit(callback) {
      const { outcome, dirty, logged } = await committer.submit(callback);
      if (dirty) options.onCommitted([dirty]);
      // A wake-up only: streams and webhooks read the quarantine event itself from the log.
      if (logged) {
        options.onTenantEvents?.([
          { tenantId: logged, consultationId: '', type: 'callback.quarantined', at: options.clock().toISOString(), data: {} },
        ]);
      }
      return outcome;
    },
    health: () => committer.health,
    drain: () => committer.drain(),
    close: () => committer.close(),
  };
}

/**
 * track-enabled / track-disabled are kept in the inbox (and the timeline) but change nothing in
 * the record. track-added / track-removed are folded: the billing evidence's audio-only versus
 * audio-video comes from the tracks published during the overlap.
 */
const INERT_EVENTS: readonly string[] = ['track-enabled', 'track-disabled'];
function changesRecord(event: string | undefined): boolean {
  return !INERT_EVENTS.includes(event ?? '');
}

type IngestOptions = { clock: () => Date; logger: Logger; legacyAccountSid: () => string | undefined };

/**
 * The batch's unit: its transaction, or a connection outside one (`session`), where the reads
 * run as they are and the writes go in one statement or in a transaction opened here — the
 * whole batch in one when a room's SID is to be claimed.
 */
type BatchUnit = { readonly trx: StoreTransaction } | { readonly session: Kysely<Database> };

async function ingestBatch(unit: BatchUnit, callbacks: readonly SignedCallback[], options: IngestOptions): Promise<BatchOutcome[]> {
  const db = 'trx' in unit ? unit.trx : unit.session;
  const screenings = await screen(db, callbacks, options.legacyAccountSid(), 'trx' in unit);
  if (screenings === CLAIM_NEEDED) return db.transaction().execute((trx) => ingestBatch({ trx }, callbacks, options));
  const now = options.clock().toISOString();
  const rows = callbacks.map((callback, index) => {
    const screened = screenings[index]!.status;
    // A late callback that would be accepted is held: kept, never applied, until the
    // reconciler confirmed it against Twilio's REST API (its status is then 'accepted').
    if (callback.late && screened === 'accepted')
      return inboxRow({ id: newId('cb'), callback, status: 'quarantined', processedAt: null, held: 'late' });
    // Muting and unmuting change nothing in the record: nothing to fold.
    const folded = screened === 'accepted' && !changesRecord(callback.parsed.event);
    const row = inboxRow({ id: newId('cb'), callback, status: screened, processedAt: folded ? now : null });
    // The projector, in this thread, finds the event under the text it reads back: no second parse.
    if (screened === 'accepted' && !folded && callback.parsed.ok) rememberParsedCallback(row.params, callback.parsed);
    return row;
  });
  const logsQuarantine = screenings.some((screening) => screening.status === 'quarantined' && screening.room);
  const inserted =
    'trx' in unit
      ? await writeBatch(unit.trx, callbacks, screenings, rows, now)
      : !logsQuarantine && insertsInOneStatement(rows)
        ? await insertCallbacks(unit.session, rows)
        : await unit.session.transaction().execute((trx) => writeBatch(trx, callbacks, screenings, rows, now));
  return outcomes(callbacks, screenings, inserted, options.logger);
}

/** The batch's rows, and its quarantines' events in the same transaction; which rows were new. */
async function writeBatch(
  trx: StoreTransaction,
  callbacks: readonly SignedCallback[],
  screenings: readonly Screening[],
  rows: readonly NewCallback[],
  now: string,
): Promise<boolean[]> {
  const inserted = await insertCallbacks(trx, rows);
  // A quarantined callback of a known consultation is the tenant's business too: an event in its
  // log, in this transaction (without the identity: one that broke the policy may be personal data).
  const quarantines = callbacks.flatMap((callback, index): TenantEventDraft[] => {
    const screening = screenings[index]!;
    if (!inserted[index] || screening.status !== 'quarantined' || !screening.room) return [];
    return [
      {
        tenantId: screening.room.tenantId,
        consultationId: screening.room.consultationId,
        type: 'callback.quarantined',
        at: now,
        data: { callbackEvent: callback.parsed.event ?? 'unknown', reason: screening.reason },
      },
    ];
  });
  await appendTenantEvents(trx, quarantines);
  return inserted;
}

function outcomes(
  callbacks: readonly SignedCallback[],
  screenings: readonly Screening[],
  inserted: readonly boolean[],
  logger: Logger,
): BatchOutcome[] {
  return callbacks.map((callback, index): BatchOutcome => {
    const event = callback.parsed.event ?? 'unknown';
    const screening = screenings[index]!;
    if (!inserted[index]) {
      // A duplicate is usually folded already. But when its first copy's COMMIT went through and
      // its answer was lost (503: the connection dropped, the deadline passed), nothing marked
      // the consultation: Twilio's retry does, or the record would wait for the sweep. A fold
      // that finds nothing new writes nothing.
      const refold = screening.status === 'accepted' && !callback.late && changesRecord(event);
      return refold
        ? { outcome: { outcome: 'duplicate', event }, dirty: screening.consultationId }
        : { outcome: { outcome: 'duplicate', event } };
    }
    if (callback.late && screening.status === 'accepted') return { outcome: { outcome: 'late', event } };
    if (screening.status === 'quarantined') {
      return {
        outcome: { outcome: 'quarantined', event, reason: screening.reason },
        ...(screening.room ? { logged: screening.room.tenantId } : {}),
      };
    }
    if (screening.status === 'unmatched') {
      logger.warn(
        { alert: 'unmatched-callback', event, roomSid: callback.parsed.fields.RoomSid },
        'callback for a room Roomgate does not know',
      );
      return { outcome: { outcome: 'unmatched', event } };
    }
    return changesRecord(event)
      ? { outcome: { outcome: 'stored', event }, dirty: screening.consultationId }
      : { outcome: { outcome: 'stored', event } };
  });
}

interface Room {
  readonly consultationId: string;
  readonly tenantId: string;
  /** The account the room was created under. */
  readonly accountSid: string | undefined;
}

/** screen() found a room SID to claim outside a transaction: the batch is run again in one. */
const CLAIM_NEEDED = Symbol('claim needed');

/** Decides, per callback, whether it may be applied — trusting nothing but its signed, parsed fields. */
async function screen(
  db: Kysely<Database>,
  callbacks: readonly SignedCallback[],
  legacyAccountSid: string | undefined,
  inTransaction: boolean,
): Promise<Screening[] | typeof CLAIM_NEEDED> {
  const sound = callbacks.map((callback) => callback.parsed).filter((parse): parse is ParsedCallback => parse.ok);
  const roomSids = [...new Set(sound.map((callback) => callback.roomSid))];
  const roomNames = [...new Set(sound.map((callback) => callback.fields.RoomName).filter((name): name is string => name !== undefined))];
  const consultations = await findConsultationsForRooms(db, roomSids, roomNames);
  const byRoom = new Map<string, Room>();
  for (const row of consultations) {
    if (row.room_sid) {
      byRoom.set(row.room_sid, { consultationId: row.id, tenantId: row.tenant_id, accountSid: row.account_sid ?? legacyAccountSid });
    }
  }
  for (const row of consultations) {
    if (row.room_sid) continue;
    // A callback can overtake the API's own write of the room's SID: match by our unguessable
    // room name (signed by Twilio) and record the SID now — only from the room's own account,
    // and never a SID another consultation already has.
    const accountSid = row.account_sid ?? legacyAccountSid;
    const match = sound.find(
      (callback) => callback.fields.RoomName === row.room_name && callback.accountSid === accountSid && !byRoom.has(callback.roomSid),
    );
    if (!match) continue;
    // The claim commits with the batch's rows.
    if (!inTransaction) return CLAIM_NEEDED;
    await claimConsultationRoomSid(db, row.id, match.roomSid, row.room_name);
    byRoom.set(match.roomSid, { consultationId: row.id, tenantId: row.tenant_id, accountSid });
  }

  // Only identities that pass the policy are looked up: the others are quarantined anyway, and
  // an arbitrary value (a NUL, thousands of characters) never reaches a query.
  const identities = sound
    .map((callback) => ({ room: byRoom.get(callback.roomSid), callback, identity: callback.fields.ParticipantIdentity }))
    .filter(
      (entry): entry is { room: Room; callback: ParsedCallback; identity: string } =>
        entry.room !== undefined &&
        entry.room.accountSid === entry.callback.accountSid &&
        entry.identity !== undefined &&
        checkIdentity(entry.identity).ok,
    );
  const issued = new Set<string>();
  if (identities.length > 0) {
    const rows = await findIssuedIdentities(
      db,
      [...new Set(identities.map((entry) => entry.room.consultationId))],
      [...new Set(identities.map((entry) => entry.identity))],
    );
    for (const row of rows) issued.add(`${row.consultation_id}\u0000${row.identity}`);
  }

  return callbacks.map(({ parsed: parse }): Screening => {
    if (!parse.ok) return { status: 'quarantined', reason: parse.reason };
    const room = byRoom.get(parse.roomSid);
    if (!room) return { status: 'unmatched' };
    if (room.accountSid !== parse.accountSid) return { status: 'quarantined', reason: 'account-mismatch', room };
    const identity = parse.fields.ParticipantIdentity;
    if (identity !== undefined) {
      const policy = checkIdentity(identity);
      if (!policy.ok) return { status: 'quarantined', reason: `identity-${policy.reason}`, room };
      if (!issued.has(`${room.consultationId}\u0000${identity}`)) return { status: 'quarantined', reason: 'identity-never-issued', room };
    }
    return { status: 'accepted', consultationId: room.consultationId };
  });
}
