/**
 * An operator finishes a consultation Twilio no longer knows (`roomgate consultation complete ID
 * --reason …`): after reconciliation (when Twilio is configured) has had its say, a consultation
 * still not final gets an operator's room-ended — an inbox row with source 'operator', folded like
 * every fact — at the room's last known event (or `at`). A genuine room-ended that arrives later
 * supersedes it in the fold; billing stays one record, the composition one request.
 */
import { lastEventAt, loadConsultationForReconcile, insertReconciledFacts, reconciledRow } from '../../storage/reconcile-repository.js';
import { lockConsultations } from '../../storage/row-locks.js';
import { closeConsultation } from '../../storage/consultation-room-repository.js';
import type { Store } from '../../storage/store.js';
import { FINAL_STATUSES, type ConsultationStatus } from '../../core/consultation/consultation-state.js';
import type { AuditLog } from '../audit-log.js';
import { projectConsultations } from '../consultations/consultation-projector.js';

export interface CompletionResult {
  readonly consultationId: string;
  readonly before: string;
  readonly after: string;
  /** The room-ended moment the operator's fact carries; undefined when nothing was written. */
  readonly endedAt: string | undefined;
}

export async function completeConsultation(
  store: Store,
  input: { id: string; reason: string; at?: Date; clock: () => Date; accountSid: string | undefined; audit: AuditLog },
): Promise<CompletionResult | undefined> {
  const consultation = await loadConsultationForReconcile(store.db, input.id);
  if (!consultation) return undefined;
  const before = consultation.status;
  if (FINAL_STATUSES.includes(before as ConsultationStatus) || !consultation.room_sid) {
    return { consultationId: input.id, before, after: before, endedAt: undefined };
  }
  const roomSid = consultation.room_sid;
  const accountSid = consultation.account_sid ?? input.accountSid ?? '';
  const now = input.clock().toISOString();
  const endedAt = input.at?.toISOString() ?? (await lastEventAt(store.db, roomSid)) ?? now;
  const params: [string, string][] = [
    ['AccountSid', accountSid],
    ['RoomName', consultation.room_name],
    ['RoomSid', roomSid],
    ['RoomStatus', 'completed'],
    ['StatusCallbackEvent', 'room-ended'],
    ['Timestamp', endedAt],
    ['SequenceNumber', '0'],
  ];
  await store.transaction(async (trx) => {
    await lockConsultations(trx, [input.id]);
    await insertReconciledFacts(trx, [
      reconciledRow({ roomSid, accountSid, fact: 'room-ended', event: 'room-ended', params, now, source: 'operator' }),
    ]);
    // No room follows an operator's completion (rejoining): closed at the same moment.
    await closeConsultation(trx, input.id, endedAt);
    await projectConsultations(trx, [input.id], now);
    // Audited in the same transaction: the completion and its record commit together.
    await input.audit.recordIn(trx, {
      tenantId: consultation.tenant_id,
      actor: 'operator:cli',
      action: 'consultation.complete',
      target: input.id,
      outcome: 'completed',
      detail: { reason: input.reason, endedAt, statusBefore: before },
    });
  });
  const after = (await loadConsultationForReconcile(store.db, input.id))!.status;
  return { consultationId: input.id, before, after, endedAt };
}
