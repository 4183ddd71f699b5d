/** The outbox kinds of recording that follows consent (issue 20), named once. */

/** Set the room's Recording Rules from the ledger as it is when the entry runs (recording-rules-handler.ts). */
export const APPLY_RECORDING_RULES = 'apply-recording-rules';

/** Raise the alert for a recording of a participant who had not consented (queued by the fold, with the flag). */
export const REPORT_UNCONSENTED_RECORDING = 'report-unconsented-recording';
