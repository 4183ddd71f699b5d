/**
 * Consent to recording (and transcription), as the ledger records it, and the Twilio Recording
 * Rules that follow from it (issue 20). Pure: the ledger's entries and who is present are passed in.
 *
 * Consent modes (a tenant setting; README "Recording only with consent"):
 * - `one-party`: each participant who currently consents is recorded — their own tracks only;
 *   a participant who does not consent is never recorded.
 * - `all-parties`: nothing is recorded unless every participant present consents; then the
 *   consenting participants' tracks are recorded. One participant present without consent (never
 *   given, or withdrawn) stops every recording.
 * - `off` (a tenant that chose none, e.g. from before the ledger): Roomgate does not manage
 *   recording by consent; `record` records every participant from connect, as before.
 */

export const CONSENT_KINDS = ['recording', 'transcription'] as const;
export type ConsentKind = (typeof CONSENT_KINDS)[number];
export const CONSENT_DECISIONS = ['given', 'withdrawn'] as const;
export type ConsentDecision = (typeof CONSENT_DECISIONS)[number];
export const CONSENT_MODES = ['all-parties', 'one-party', 'off'] as const;
export type ConsentMode = (typeof CONSENT_MODES)[number];

/** A stored mode (NULL or anything unknown: off). */
export function consentModeOf(stored: string | null | undefined): ConsentMode {
  return stored === 'all-parties' || stored === 'one-party' ? stored : 'off';
}

/** A ledger entry, as far as the rules care. `position` orders entries of one consultation. */
export interface ConsentFact {
  readonly identity: string;
  readonly kind: ConsentKind;
  readonly decision: ConsentDecision;
  /** ISO-8601 UTC, when Roomgate recorded it. */
  readonly recordedAt: string;
  readonly position: number;
}

/** One of Twilio's Recording Rules (`POST /v1/Rooms/{sid}/RecordingRules`, form field `Rules`). */
export type RecordingRule =
  { readonly type: 'include' | 'exclude'; readonly all: true } | { readonly type: 'include' | 'exclude'; readonly publisher: string };

/** Records nothing: what a room without consent gets. */
export const RECORD_NOTHING: readonly RecordingRule[] = [{ type: 'exclude', all: true }];

/**
 * The latest decision of each identity for one kind, in ledger order.
 * @example latestDecisions([{ identity: 'a', kind: 'recording', decision: 'given', recordedAt: 't1', position: 1 }], 'recording') // Map { 'a' => 'given' }
 */
export function latestDecisions(facts: readonly ConsentFact[], kind: ConsentKind): Map<string, ConsentDecision> {
  const latest = new Map<string, ConsentDecision>();
  for (const fact of [...facts].sort((a, b) => a.position - b.position)) {
    if (fact.kind === kind) latest.set(fact.identity, fact.decision);
  }
  return latest;
}

/** The identities whose latest decision for this kind is `given`. */
export function consentingIdentities(facts: readonly ConsentFact[], kind: ConsentKind): Set<string> {
  return new Set([...latestDecisions(facts, kind)].filter(([, decision]) => decision === 'given').map(([identity]) => identity));
}

/**
 * The Recording Rules for the room now: consenting identities' tracks by publisher, or nothing.
 * `present`: the identities connected to the room (all-parties looks at them).
 * @example recordingRules('one-party', new Set(['clin-1']), new Set(['clin-1', 'pt-1'])) // [{ type: 'include', publisher: 'clin-1' }]
 * @example recordingRules('all-parties', new Set(['clin-1']), new Set(['clin-1', 'pt-1'])) // RECORD_NOTHING
 */
export function recordingRules(mode: ConsentMode, consenting: ReadonlySet<string>, present: ReadonlySet<string>): RecordingRule[] {
  if (mode === 'off') return [{ type: 'include', all: true }];
  if (mode === 'all-parties' && [...present].some((identity) => !consenting.has(identity))) return [...RECORD_NOTHING];
  const included = [...consenting].sort();
  return included.length === 0 ? [...RECORD_NOTHING] : included.map((publisher) => ({ type: 'include', publisher }));
}

/**
 * Clocks differ: Twilio stamps a recording's start with its clock, the ledger with Roomgate's. A
 * consent recorded up to this long after a recording's start still covers it (Roomgate never
 * includes a publisher before its consent is recorded, so an earlier start is clock skew).
 */
export const CONSENT_CLOCK_SKEW_MS = 5_000;

/**
 * Whether the identity consented to recording when a recording of theirs started: its latest
 * decision at that moment is `given`, or a `given` was recorded within the clock-skew allowance
 * after it. One-party and all-parties judge a single participant's recording alike: a
 * participant is recorded only with their own consent.
 */
export function consentedAt(facts: readonly ConsentFact[], identity: string, startedAt: string): boolean {
  const start = Date.parse(startedAt);
  let decision: ConsentDecision | undefined;
  for (const fact of [...facts].sort((a, b) => a.position - b.position)) {
    if (fact.kind !== 'recording' || fact.identity !== identity) continue;
    const at = Date.parse(fact.recordedAt);
    if (at <= start) decision = fact.decision;
    else if (fact.decision === 'given' && at <= start + CONSENT_CLOCK_SKEW_MS) return true;
  }
  return decision === 'given';
}
