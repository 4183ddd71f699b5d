/**
 * One consultation: its time line (participants, lobby, overlap), status history, recordings
 * and consents, the billing record with its evidence, and the raw callbacks of its room.
 * Sections the key has no scope for, or the API does not offer, say so instead of failing.
 */
import { ApiError, all, get } from '../api.js';
import { badge, duration, h, replace, table, time, type Child } from '../dom.js';
import { followEvents } from '../event-stream.js';
import type { Page } from '../main.js';
import { can } from '../session.js';
import { timeline } from '../timeline.js';
import { consentView, evidenceView } from '../evidence.js';
import type { Consultation } from '../types.js';

interface Recordings {
  recordings: { recordingSid: string; identity: string | null; kind: string | null; status: string; duration: number | null }[];
  composition: { compositionSid: string | null; status: string; attempts: number } | null;
}

interface Callback {
  event: string;
  at: string;
  identity: string | null;
  status: string;
  source: string;
}

function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return h('section', { 'aria-labelledby': id, class: 'card' }, h('h2', { id }, title), ...children);
}

async function optional<T>(path: string): Promise<T | 'absent' | 'forbidden'> {
  try {
    return await get<T>(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return 'absent';
    if (error instanceof ApiError && error.status === 403) return 'forbidden';
    throw error;
  }
}

export const consultationPage: Page = (main, session, [id]) => {
  const heading = h('h1', {}, `Consultation ${id}`);
  const body = h('div', { class: 'stack' }, h('p', { role: 'status' }, 'Loading…'));
  main.append(h('p', {}, h('a', { href: '#/consultations' }, '← All consultations')), heading, body);

  const load = async () => {
    let consultation: Consultation;
    try {
      consultation = await get<Consultation>(`/v1/consultations/${id}`);
    } catch (error) {
      replace(
        body,
        h(
          'p',
          { class: 'error', role: 'alert' },
          error instanceof ApiError && error.status === 404 ? 'No such consultation.' : (error as Error).message,
        ),
      );
      return;
    }
    const [recordings, callbacks, evidence, consents] = await Promise.all([
      can(session, 'recordings:read') ? optional<Recordings>(`/v1/consultations/${id}/recordings`) : Promise.resolve('forbidden' as const),
      all<Callback>(`/v1/consultations/${id}/callbacks`, 1000).catch(() => [] as Callback[]),
      consultation.billing && can(session, 'billing:read')
        ? optional<unknown>(`/v1/billing-records/${consultation.billing.id}/evidence`)
        : Promise.resolve('absent' as const),
      optional<unknown>(`/v1/consultations/${id}/consents`),
    ]);

    const overview = section(
      'Overview',
      'overview-title',
      h(
        'dl',
        { class: 'kv' },
        h('dt', {}, 'Status'),
        h('dd', { 'data-field': 'status' }, badge(consultation.status)),
        h('dt', {}, 'Room'),
        h('dd', {}, consultation.roomName, consultation.roomSid ? ` (${consultation.roomSid})` : ''),
        h('dt', {}, 'Created'),
        h('dd', {}, time(consultation.createdAt)),
        h('dt', {}, 'Started'),
        h('dd', {}, time(consultation.startedAt)),
        h('dt', {}, 'Ended'),
        h('dd', {}, time(consultation.endedAt)),
        consultation.noShow
          ? [
              h('dt', {}, 'No-show'),
              h('dd', {}, `${consultation.noShow.missing} missing; the other side waited ${duration(consultation.noShow.waitedSeconds)}`),
            ]
          : null,
      ),
    );

    const waits = consultation.lobby.map((entry) => [
      entry.identity,
      entry.role,
      badge(entry.status),
      time(entry.joinedAt),
      duration(entry.waitedSeconds),
    ]);
    const firstJoin = consultation.participants
      .flatMap((p) => p.sessions.map((s) => ({ role: p.role, at: Date.parse(s.connectedAt) })))
      .sort((a, b) => a.at - b.at);
    const clinicianAt = firstJoin.find((join) => join.role === 'clinician')?.at;
    const recipientAt = firstJoin.find((join) => join.role === 'patient' || join.role === 'pet-owner')?.at;
    const waited =
      clinicianAt !== undefined && recipientAt !== undefined ? Math.round(Math.abs(clinicianAt - recipientAt) / 1000) : undefined;

    const timeLine = section(
      'Time line',
      'timeline-heading',
      timeline(consultation),
      h(
        'p',
        { 'data-field': 'waiting' },
        waited === undefined
          ? 'Waiting time: not known until both the clinician and the care recipient have joined.'
          : `Waiting time: the first to join waited ${duration(waited)} for the other side.`,
      ),
      consultation.lobby.length > 0 ? table('Lobby', ['Identity', 'Role', 'Status', 'Joined', 'Waited'], waits) : null,
    );

    const history = section(
      'Status history',
      'history-title',
      table(
        'Status history',
        ['Status', 'At', 'Source'],
        consultation.statusHistory.map((entry) => [badge(entry.status), time(entry.at), entry.source ?? 'callback']),
        true,
      ),
    );

    const billing = section(
      'Billing',
      'billing-title',
      consultation.billing
        ? h(
            'dl',
            { class: 'kv', id: 'billing' },
            h('dt', {}, 'Record'),
            h('dd', {}, consultation.billing.id),
            h('dt', {}, 'Billable'),
            h(
              'dd',
              { 'data-field': 'billable' },
              `${consultation.billing.billableSeconds} s (${duration(consultation.billing.billableSeconds)})`,
            ),
            h('dt', {}, 'Rounded'),
            h(
              'dd',
              { 'data-field': 'rounded' },
              `${consultation.billing.roundedSeconds} s (${duration(consultation.billing.roundedSeconds)})`,
            ),
            h('dt', {}, 'Version'),
            h('dd', {}, String(consultation.billing.version)),
            h('dt', {}, 'Updated'),
            h('dd', {}, time(consultation.billing.updatedAt)),
          )
        : h('p', {}, 'No billing record yet: one is written when the consultation completes.'),
      evidence === 'absent' || evidence === 'forbidden'
        ? consultation.billing
          ? h(
              'p',
              { class: 'help' },
              evidence === 'forbidden' ? 'Evidence needs billing:read.' : 'No evidence is available for this record.',
            )
          : null
        : evidenceView(evidence),
    );

    const media =
      recordings === 'forbidden'
        ? section('Recordings', 'recordings-title', h('p', { class: 'help' }, 'Recordings need recordings:read.'))
        : recordings === 'absent'
          ? null
          : section(
              'Recordings',
              'recordings-title',
              table(
                'Recordings',
                ['Recording', 'Whose', 'Kind', 'Status', 'Duration'],
                recordings.recordings.map((r) => [r.recordingSid, r.identity ?? '—', r.kind ?? '—', badge(r.status), duration(r.duration)]),
                true,
              ),
              h(
                'p',
                {},
                recordings.composition
                  ? `Composition: ${recordings.composition.status} (${recordings.composition.attempts} attempt${recordings.composition.attempts === 1 ? '' : 's'})`
                  : consultation.record
                    ? 'Composition: not requested yet.'
                    : 'Not recorded.',
              ),
            );

    const consent = consents === 'absent' || consents === 'forbidden' ? null : section('Consent', 'consent-title', consentView(consents));

    const raw = section(
      'Raw callbacks',
      'callbacks-title',
      table(
        'Callbacks of the room, in Twilio Timestamp order',
        ['Event', 'At', 'Identity', 'Status', 'Source'],
        callbacks.map((c) => [h('code', {}, c.event), time(c.at), c.identity ?? '—', badge(c.status), c.source]),
        true,
      ),
    );
    replace(body, overview, timeLine, billing, media, consent, history, raw);
  };
  void load();
  let pending: ReturnType<typeof setTimeout> | undefined;
  // While it is live, each event of this consultation redraws it.
  const stop = can(session, 'events:read')
    ? followEvents(
        (event) => {
          if (event.consultationId !== id || pending) return;
          // The events of one change arrive together: one redraw for them all.
          pending = setTimeout(() => {
            pending = undefined;
            void load();
          }, 250);
        },
        () => undefined,
      )
    : () => undefined;
  return () => {
    clearTimeout(pending);
    stop();
  };
};
