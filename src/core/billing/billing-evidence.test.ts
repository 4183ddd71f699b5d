import { describe, expect, it } from 'vitest';
import { computeBilling } from '../consultation/billing-rule.js';
import type { ParticipantSession, TrackSpan } from '../consultation/consultation-state.js';
import { billingEvidence } from './billing-evidence.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const min = (m: number) => T0 + m * 60_000;
const at = (m: number) => new Date(min(m)).toISOString();

const session = (participantSid: string, identity: string, role: string, from: number, to: number): ParticipantSession => ({
  participantSid,
  identity,
  role,
  connectedAt: min(from),
  disconnectedAt: min(to),
});
const track = (trackSid: string, participantSid: string, kind: string, from: number | null, to: number | null): TrackSpan => ({
  trackSid,
  participantSid,
  kind,
  publishedAt: from === null ? null : min(from),
  unpublishedAt: to === null ? null : min(to),
});

// Clinician 0–20 (audio only); patient 2–8 (video 2–5), drops, rejoins 10–18 audio only;
// an interpreter (never billed) 0–20 with video.
const sessions = [
  session('PA1', 'clin-1', 'clinician', 0, 20),
  session('PA2', 'pt-1', 'patient', 2, 8),
  session('PA3', 'pt-1', 'patient', 10, 18),
  session('PA4', 'int-1', 'interpreter', 0, 20),
];
const tracks = [
  track('MT1', 'PA1', 'audio', 0, null),
  track('MT2', 'PA2', 'audio', 2, null),
  track('MT3', 'PA2', 'video', 2, 5),
  track('MT4', 'PA3', 'audio', null, 18),
  track('MT5', 'PA4', 'video', 0, 20),
];

const evidence = (input: { tracks?: TrackSpan[]; codeSet?: 'us-cpt-2025' | 'us-medicare' | 'flat' } = {}) =>
  billingEvidence({
    sessions,
    tracks: input.tracks ?? tracks,
    billing: computeBilling(sessions, { roundingSeconds: 60 }),
    roundingSeconds: 60,
    codeSet: input.codeSet ?? 'us-cpt-2025',
    patientStatus: 'established',
  });

describe('billing evidence', () => {
  it('names the billing sessions (never the interpreter), the segments, the gap and the rejoin', () => {
    const result = evidence();
    expect(result.sessions.map((s) => [s.participantSid, s.role, s.from, s.to])).toEqual([
      ['PA1', 'clinician', at(0), at(20)],
      ['PA2', 'care-recipient', at(2), at(8)],
      ['PA3', 'care-recipient', at(10), at(18)],
    ]);
    expect(result.segments).toEqual([
      { from: at(2), to: at(5), durationMs: 180_000, clinicians: ['PA1'], careRecipients: ['PA2'], modality: 'audio-video' },
      { from: at(5), to: at(8), durationMs: 180_000, clinicians: ['PA1'], careRecipients: ['PA2'], modality: 'audio-only' },
      { from: at(10), to: at(18), durationMs: 480_000, clinicians: ['PA1'], careRecipients: ['PA3'], modality: 'audio-only' },
    ]);
    expect(result.gaps).toEqual([{ from: at(8), to: at(10), durationMs: 120_000 }]);
    expect(result.rejoins).toEqual([
      { role: 'care-recipient', leftSession: 'PA2', rejoinedSession: 'PA3', leftAt: at(8), rejoinedAt: at(10) },
    ]);
    expect(JSON.stringify(result)).not.toMatch(/pt-1|clin-1|int-1/); // no identity: erasure never touches the chain
  });

  it('video published in the overlap makes it audio-video; the code follows', () => {
    const result = evidence();
    expect(result.modality).toMatchObject({ kind: 'audio-video', videoMs: 180_000, audioOnlyMs: 660_000 });
    expect(result.measurement).toMatchObject({ billableSeconds: 840, roundedSeconds: 840, roundingSeconds: 60 });
    expect(result.suggestion).toMatchObject({ codeSet: 'us-cpt-2025', code: '98004', patientStatus: 'established', reason: null });
  });

  it('no video in the overlap (only the interpreter had some) is audio-only', () => {
    const result = evidence({ tracks: tracks.filter((t) => t.trackSid !== 'MT3') });
    expect(result.modality.kind).toBe('audio-only');
    expect(result.suggestion.code).toBe('98012');
    expect(evidence({ tracks: tracks.filter((t) => t.trackSid !== 'MT3'), codeSet: 'us-medicare' }).suggestion).toMatchObject({
      code: '99212',
      modifier: '93',
    });
  });

  it('no track seen: modality unknown, no E/M code and the reason', () => {
    const result = evidence({ tracks: [] });
    expect(result.modality.kind).toBe('unknown');
    expect(result.segments.every((s) => s.modality === 'unknown')).toBe(true);
    expect(result.suggestion).toMatchObject({ code: null, reason: 'modality-unknown' });
  });

  it('is the same for the same input (it is hashed)', () => {
    expect(JSON.stringify(evidence())).toBe(JSON.stringify(evidence()));
  });

  it('spans rooms: sessions keep their room, a rejoin into the next room is a rejoin, the time between is a gap', () => {
    const inRoom = (room: string, s: ParticipantSession) => ({ ...s, roomSid: room });
    const rooms = [
      inRoom('RM1', session('PA1', 'clin-1', 'clinician', 0, 10)),
      inRoom('RM1', session('PA2', 'pt-1', 'patient', 0, 10)),
      inRoom('RM2', session('PA3', 'clin-1', 'clinician', 12, 20)),
      inRoom('RM2', session('PA4', 'pt-1', 'patient', 13, 20)),
    ];
    const result = billingEvidence({
      sessions: rooms,
      tracks: [track('MT1', 'PA1', 'video', 0, null), track('MT3', 'PA3', 'audio', null, null), track('MT4', 'PA4', 'audio', 13, 20)],
      billing: computeBilling(rooms, { roundingSeconds: 60 }),
      roundingSeconds: 60,
      codeSet: 'us-cpt-2025',
      patientStatus: 'new',
    });
    expect(result.sessions.map((s) => [s.participantSid, s.roomSid])).toEqual([
      ['PA1', 'RM1'],
      ['PA2', 'RM1'],
      ['PA3', 'RM2'],
      ['PA4', 'RM2'],
    ]);
    expect(result.segments.map((s) => [s.from, s.to, s.modality])).toEqual([
      [at(0), at(10), 'audio-video'],
      [at(13), at(20), 'audio-only'],
    ]);
    expect(result.gaps).toEqual([{ from: at(10), to: at(13), durationMs: 180_000 }]);
    expect(result.rejoins.map((r) => [r.role, r.leftSession, r.rejoinedSession])).toEqual([
      ['clinician', 'PA1', 'PA3'],
      ['care-recipient', 'PA2', 'PA4'],
    ]);
    expect(result.suggestion).toMatchObject({ code: '98000', thresholdMinutes: 15 }); // 17 min, new, video seen
    expect(result.measurement.billableSeconds).toBe(17 * 60);
  });
});
