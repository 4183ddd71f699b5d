/**
 * The billing record's evidence (GET /v1/billing-records/:id/evidence) and the consent ledger
 * (GET /v1/consultations/:id/consents), drawn for a reader: the measurement, the suggested code,
 * the billed segments and gaps, rejoins, the chain entry; each identity's consent and the ledger.
 * Read defensively: a field this console does not know is left out, never a reason to fail.
 */
import { badge, duration, h, table, time, type Child } from './dom.js';

interface Evidence {
  version?: number;
  participants?: { participantSid: string; identity: string | null }[];
  evidence?: {
    rule?: string;
    segments?: { from: string; to: string; durationMs: number; modality: string }[];
    gaps?: { from: string; to: string; durationMs: number }[];
    rejoins?: { role: string; leftAt: string; rejoinedAt: string }[];
    modality?: { kind: string; videoMs: number; audioOnlyMs: number };
    measurement?: { billableSeconds: number; roundedSeconds: number; rounding: string };
    suggestion?: {
      codeSet: string;
      code: string | null;
      modifier: string | null;
      units: number;
      description: string;
      reason: string | null;
    };
  } | null;
  chain?: { sequence: number; hash: string; previousHash: string; recordedAt: string; headSequence: number } | null;
}

const seconds = (ms: number) => duration(Math.round(ms / 1000));

export function evidenceView(value: unknown): HTMLElement {
  const answer = value as Evidence;
  const doc = answer.evidence;
  const facts: Child[] = [];
  const fact = (term: string, detail: Child) => facts.push(h('dt', {}, term), h('dd', {}, detail));
  if (doc?.measurement)
    fact('Measured', `${doc.measurement.billableSeconds} s, rounded ${doc.measurement.roundedSeconds} s (${doc.measurement.rounding})`);
  if (doc?.modality)
    fact('Modality', `${doc.modality.kind}: video ${seconds(doc.modality.videoMs)}, audio only ${seconds(doc.modality.audioOnlyMs)}`);
  if (doc?.suggestion) {
    const s = doc.suggestion;
    fact(
      'Suggested code',
      h(
        'span',
        { 'data-field': 'code' },
        s.code ? `${s.code}${s.modifier ? `-${s.modifier}` : ''} × ${s.units} (${s.codeSet})` : `none (${s.reason ?? 'no code'})`,
        ` — ${s.description}`,
      ),
    );
  }
  if (doc?.rule) fact('Rule', doc.rule);
  if (answer.chain) {
    fact(
      'Billing chain',
      h(
        'span',
        {},
        `entry ${answer.chain.sequence} of ${answer.chain.headSequence}, `,
        h('code', { title: answer.chain.hash }, `${answer.chain.hash.slice(0, 16)}…`),
        ', recorded ',
        time(answer.chain.recordedAt),
      ),
    );
  }
  return h(
    'div',
    { id: 'evidence' },
    h('h3', {}, `Evidence${answer.version ? ` (version ${answer.version})` : ''}`),
    doc === null ? h('p', { class: 'help' }, 'This version was recorded before evidence existed; it is still chained.') : null,
    facts.length > 0 ? h('dl', { class: 'kv' }, facts) : null,
    doc?.segments && doc.segments.length > 0
      ? table(
          'Billed segments',
          ['From', 'To', 'Length', 'Modality'],
          doc.segments.map((segment) => [time(segment.from), time(segment.to), seconds(segment.durationMs), segment.modality]),
        )
      : null,
    doc?.gaps && doc.gaps.length > 0
      ? table(
          'Unbilled gaps',
          ['From', 'To', 'Length'],
          doc.gaps.map((gap) => [time(gap.from), time(gap.to), seconds(gap.durationMs)]),
        )
      : null,
    doc?.rejoins && doc.rejoins.length > 0
      ? table(
          'Rejoins',
          ['Role', 'Left', 'Came back'],
          doc.rejoins.map((rejoin) => [rejoin.role, time(rejoin.leftAt), time(rejoin.rejoinedAt)]),
        )
      : null,
  );
}

interface ConsentLedger {
  consentMode?: string;
  data?: {
    position: number;
    identity: string;
    kind: string;
    decision: string;
    textVersion: string;
    recordedBy: string | null;
    recordedAt: string;
  }[];
  current?: { identity: string; kind: string; decision: string; since: string }[];
}

export function consentView(value: unknown): HTMLElement {
  const ledger = value as ConsentLedger;
  return h(
    'div',
    { id: 'consent' },
    ledger.consentMode ? h('p', {}, 'Consent mode: ', h('strong', {}, ledger.consentMode)) : null,
    table(
      'Current decisions',
      ['Identity', 'Kind', 'Decision', 'Since'],
      (ledger.current ?? []).map((entry) => [entry.identity, entry.kind, badge(entry.decision), time(entry.since)]),
    ),
    table(
      'Ledger (every decision, in order)',
      ['#', 'Identity', 'Kind', 'Decision', 'Text', 'Recorded by', 'At'],
      (ledger.data ?? []).map((entry) => [
        String(entry.position),
        entry.identity,
        entry.kind,
        badge(entry.decision),
        entry.textVersion,
        entry.recordedBy ?? '—',
        time(entry.recordedAt),
      ]),
    ),
  );
}
