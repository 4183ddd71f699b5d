/**
 * How a billing record was measured, as a document a payer's auditor can follow: the sessions of
 * the people whose overlap is billed, the overlap cut into segments (who was there, from, to, and
 * whether video was published), the gaps between segments and who left and came back, the
 * modality, the rounding, and the code the tenant's code set suggests. Pure: computed from the
 * folded state (sessions and track publications) and the billing rule's result.
 *
 * Participants are named by Twilio's participant SID, never by identity: the evidence is hashed
 * into the tenant's billing chain, and an erasure (which replaces identities) must not break it.
 * The API adds identities when it serves the evidence.
 */
import type { Billing, Interval } from '../consultation/billing-rule.js';
import type { ParticipantSession, TrackSpan } from '../consultation/consultation-state.js';
import { isCareRecipient } from '../consultation/roles.js';
import { TIMED_CODE_SETS, type CodeSetId, type FlatMode, type Modality, type PatientStatus } from './code-sets.js';
import { suggestCode, type CodeSuggestion } from './suggest-code.js';

export const BILLING_EVIDENCE_SCHEMA = 'roomgate.billing-evidence.v1';

export type SegmentModality = Modality | 'unknown';

export interface EvidenceSession {
  readonly participantSid: string;
  readonly role: 'clinician' | 'care-recipient';
  /** The room it was in, when the consultation spans several rooms. */
  readonly roomSid?: string;
  readonly from: string;
  readonly to: string;
  /** The connect was inferred from the disconnect's ParticipantDuration (its callback never came). */
  readonly connectInferred?: true;
}

export interface EvidenceSegment {
  readonly from: string;
  readonly to: string;
  readonly durationMs: number;
  readonly clinicians: readonly string[];
  readonly careRecipients: readonly string[];
  readonly modality: SegmentModality;
}

export interface EvidenceGap {
  readonly from: string;
  readonly to: string;
  readonly durationMs: number;
}

export interface EvidenceRejoin {
  readonly role: 'clinician' | 'care-recipient';
  /** The session that ended, and the one the same identity started after it. */
  readonly leftSession: string;
  readonly rejoinedSession: string;
  readonly leftAt: string;
  readonly rejoinedAt: string;
}

export interface BillingEvidence {
  readonly schema: typeof BILLING_EVIDENCE_SCHEMA;
  readonly rule: string;
  readonly sessions: readonly EvidenceSession[];
  readonly segments: readonly EvidenceSegment[];
  readonly gaps: readonly EvidenceGap[];
  readonly rejoins: readonly EvidenceRejoin[];
  readonly modality: {
    readonly kind: SegmentModality;
    /** Overlap time with a video track of a billing participant published. */
    readonly videoMs: number;
    /** Overlap time with an audio track (and no video) published. */
    readonly audioOnlyMs: number;
    readonly basis: string;
  };
  readonly measurement: {
    readonly billableSeconds: number;
    readonly roundedSeconds: number;
    readonly roundingSeconds: number;
    readonly rounding: string;
  };
  readonly suggestion: CodeSuggestion & { readonly patientStatus: PatientStatus | null; readonly sources: readonly string[] };
}

export interface BillingEvidenceInput {
  readonly sessions: readonly (ParticipantSession & { readonly roomSid?: string })[];
  readonly tracks: readonly TrackSpan[];
  readonly billing: Billing;
  readonly roundingSeconds: number;
  readonly codeSet: CodeSetId;
  readonly patientStatus?: PatientStatus | undefined;
  readonly flatMode?: FlatMode | undefined;
}

type Closed = ParticipantSession & { connectedAt: number; disconnectedAt: number; roomSid?: string };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * @example billingEvidence({ sessions, tracks, billing: computeBilling(sessions, { roundingSeconds: 60 }),
 *   roundingSeconds: 60, codeSet: 'us-cpt-2025', patientStatus: 'established' }).suggestion.code // '98005'
 */
export function billingEvidence(input: BillingEvidenceInput): BillingEvidence {
  const billed = input.sessions.filter(
    (s): s is Closed =>
      (s.role === 'clinician' || isCareRecipient(s.role)) &&
      s.connectedAt !== null &&
      s.disconnectedAt !== null &&
      s.disconnectedAt > s.connectedAt,
  );
  const roleOf = (s: ParticipantSession) => (s.role === 'clinician' ? 'clinician' : 'care-recipient') as EvidenceSession['role'];
  const sessions: EvidenceSession[] = [...billed]
    .sort((a, b) => a.connectedAt - b.connectedAt || (a.participantSid < b.participantSid ? -1 : 1))
    .map((s) => ({
      participantSid: s.participantSid,
      role: roleOf(s),
      ...(s.roomSid ? { roomSid: s.roomSid } : {}),
      from: iso(s.connectedAt),
      to: iso(s.disconnectedAt),
      ...(s.connectInferred ? { connectInferred: true as const } : {}),
    }));

  const segments = overlapSegments(billed, input.tracks, input.billing.intervals);
  const videoMs = sum(segments.filter((s) => s.modality === 'audio-video'));
  const audioOnlyMs = sum(segments.filter((s) => s.modality === 'audio-only'));
  const kind: SegmentModality = videoMs > 0 ? 'audio-video' : audioOnlyMs > 0 ? 'audio-only' : 'unknown';
  const roundingSeconds = Math.max(1, Math.floor(input.roundingSeconds));
  const suggestion = suggestCode({
    codeSet: input.codeSet,
    billableSeconds: input.billing.billableSeconds,
    roundedSeconds: input.billing.roundedSeconds,
    roundingSeconds,
    modality: kind,
    patientStatus: input.patientStatus,
    flatMode: input.flatMode,
  });
  return {
    schema: BILLING_EVIDENCE_SCHEMA,
    rule: 'Time a clinician and a patient or pet owner were connected at once: the union of clinician sessions intersected with the union of care-recipient sessions.',
    sessions,
    segments,
    gaps: gapsBetween(input.billing.intervals),
    rejoins: rejoinsOf(billed, roleOf),
    modality: {
      kind,
      videoMs,
      audioOnlyMs,
      basis:
        'Tracks published (track-added … track-removed) by a billing participant during the overlap: any video makes it audio-video; audio alone, audio-only; no track seen, unknown.',
    },
    measurement: {
      billableSeconds: input.billing.billableSeconds,
      roundedSeconds: input.billing.roundedSeconds,
      roundingSeconds,
      rounding: `The overlap's milliseconds summed, the fraction of a second dropped; rounded up to a multiple of ${roundingSeconds} s (0 stays 0). Codes are suggested on the unrounded seconds.`,
    },
    suggestion: {
      ...suggestion,
      patientStatus: input.patientStatus ?? null,
      sources: input.codeSet === 'flat' ? [] : TIMED_CODE_SETS[input.codeSet].sources,
    },
  };
}

/** The overlap cut wherever someone joins or leaves or a track starts or stops; equal neighbours merged. */
function overlapSegments(billed: readonly Closed[], tracks: readonly TrackSpan[], intervals: readonly Interval[]): EvidenceSegment[] {
  const sessionOf = new Map(billed.map((s) => [s.participantSid, s]));
  // A track lives within its participant's session: an unknown start or end is the session's.
  const spans = tracks.flatMap((track) => {
    const session = sessionOf.get(track.participantSid);
    if (!session) return [];
    const start = Math.max(track.publishedAt ?? session.connectedAt, session.connectedAt);
    const end = Math.min(track.unpublishedAt ?? session.disconnectedAt, session.disconnectedAt);
    return end > start ? [{ participantSid: track.participantSid, kind: track.kind, start, end }] : [];
  });
  const out: EvidenceSegment[] = [];
  for (const interval of intervals) {
    const cuts = new Set<number>([interval.start, interval.end]);
    for (const s of billed) for (const t of [s.connectedAt, s.disconnectedAt]) if (t > interval.start && t < interval.end) cuts.add(t);
    for (const s of spans) for (const t of [s.start, s.end]) if (t > interval.start && t < interval.end) cuts.add(t);
    const points = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) {
      const [from, to] = [points[i]!, points[i + 1]!];
      const present = billed.filter((s) => s.connectedAt <= from && s.disconnectedAt >= to);
      const presentSids = new Set(present.map((s) => s.participantSid));
      const live = spans.filter((s) => presentSids.has(s.participantSid) && s.start <= from && s.end >= to);
      const modality: SegmentModality = live.some((s) => s.kind === 'video')
        ? 'audio-video'
        : live.some((s) => s.kind === 'audio')
          ? 'audio-only'
          : 'unknown';
      const segment: EvidenceSegment = {
        from: iso(from),
        to: iso(to),
        durationMs: to - from,
        clinicians: present
          .filter((s) => s.role === 'clinician')
          .map((s) => s.participantSid)
          .sort(),
        careRecipients: present
          .filter((s) => s.role !== 'clinician')
          .map((s) => s.participantSid)
          .sort(),
        modality,
      };
      const last = out.at(-1);
      if (last && last.to === segment.from && sameParty(last, segment))
        out[out.length - 1] = { ...last, to: segment.to, durationMs: last.durationMs + segment.durationMs };
      else out.push(segment);
    }
  }
  return out;
}

function sameParty(a: EvidenceSegment, b: EvidenceSegment): boolean {
  return a.modality === b.modality && a.clinicians.join() === b.clinicians.join() && a.careRecipients.join() === b.careRecipients.join();
}

function gapsBetween(intervals: readonly Interval[]): EvidenceGap[] {
  const gaps: EvidenceGap[] = [];
  for (let i = 1; i < intervals.length; i++) {
    const [from, to] = [intervals[i - 1]!.end, intervals[i]!.start];
    gaps.push({ from: iso(from), to: iso(to), durationMs: to - from });
  }
  return gaps;
}

/** The same identity's sessions one after another: each new one after an end is a rejoin. */
function rejoinsOf(billed: readonly Closed[], roleOf: (s: ParticipantSession) => EvidenceRejoin['role']): EvidenceRejoin[] {
  const byIdentity = new Map<string, Closed[]>();
  for (const s of billed) {
    if (s.identity === undefined) continue;
    byIdentity.set(s.identity, [...(byIdentity.get(s.identity) ?? []), s]);
  }
  const rejoins: EvidenceRejoin[] = [];
  for (const list of byIdentity.values()) {
    const ordered = [...list].sort((a, b) => a.connectedAt - b.connectedAt);
    for (let i = 1; i < ordered.length; i++) {
      const [left, back] = [ordered[i - 1]!, ordered[i]!];
      rejoins.push({
        role: roleOf(back),
        leftSession: left.participantSid,
        rejoinedSession: back.participantSid,
        leftAt: iso(left.disconnectedAt),
        rejoinedAt: iso(back.connectedAt),
      });
    }
  }
  return rejoins.sort((a, b) => (a.rejoinedAt < b.rejoinedAt ? -1 : a.rejoinedAt > b.rejoinedAt ? 1 : 0));
}

const sum = (segments: readonly EvidenceSegment[]) => segments.reduce((total, s) => total + s.durationMs, 0);
