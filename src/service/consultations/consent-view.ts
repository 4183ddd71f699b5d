/** The ConsentEntry model and the current decisions (api/schemas/consent.ts) from ledger rows. */
import {
  CONSENT_KINDS,
  latestDecisions,
  type ConsentDecision,
  type ConsentFact,
  type ConsentKind,
} from '../../core/consultation/consent.js';
import type { ConsentEntry } from '../../storage/consent-repository.js';
import type { ConsentEntryView } from '../api/schemas/consent.js';

export function consentEntryView(entry: ConsentEntry): ConsentEntryView {
  return {
    id: entry.id,
    position: entry.position,
    identity: entry.identity,
    kind: entry.kind as ConsentEntryView['kind'],
    decision: entry.decision as ConsentEntryView['decision'],
    textVersion: entry.textVersion,
    recordedBy: entry.recordedBy,
    recordedAt: entry.recordedAt,
  };
}

/** Ledger rows as the pure rules read them (the route wrote only the schema's values). */
export function consentFacts(entries: readonly ConsentEntry[]): ConsentFact[] {
  return entries.map((entry) => ({
    identity: entry.identity,
    kind: entry.kind as ConsentKind,
    decision: entry.decision as ConsentDecision,
    recordedAt: entry.recordedAt,
    position: entry.position,
  }));
}

/** Each identity's latest decision per kind, with when it was made. */
export function currentConsents(entries: readonly ConsentEntry[]) {
  const facts = consentFacts(entries);
  return CONSENT_KINDS.flatMap((kind) =>
    [...latestDecisions(facts, kind)].map(([identity, decision]) => ({
      identity,
      kind,
      decision,
      since: facts.filter((fact) => fact.kind === kind && fact.identity === identity).at(-1)!.recordedAt,
    })),
  ).sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : a.kind < b.kind ? -1 : 1));
}
