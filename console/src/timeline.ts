/**
 * A consultation's time line as SVG: one lane per participant (their sessions), one per lobby
 * wait, and the overlap of a clinician with the other side (what billing counts). The picture
 * is described by a text list next to it, so nothing depends on seeing it.
 */
import { h, s } from './dom.js';
import type { Consultation } from './types.js';

interface Span {
  readonly start: number;
  readonly end: number;
}

interface Lane {
  readonly label: string;
  readonly kind: 'session' | 'lobby' | 'overlap';
  readonly spans: readonly Span[];
}

/** The roles of core/consultation/roles.ts that billing pairs: a clinician with a care recipient. */
const CARE_RECIPIENTS = new Set(['patient', 'pet-owner']);

/** Where a clinician and a care recipient were connected at once (the billing rule's overlap). */
export function overlap(consultation: Consultation, now: number): Span[] {
  const edges: { at: number; clinician: boolean; delta: number }[] = [];
  for (const participant of consultation.participants) {
    if (participant.role !== 'clinician' && !CARE_RECIPIENTS.has(participant.role)) continue;
    const clinician = participant.role === 'clinician';
    for (const session of participant.sessions) {
      edges.push({ at: Date.parse(session.connectedAt), clinician, delta: 1 });
      edges.push({ at: session.disconnectedAt ? Date.parse(session.disconnectedAt) : now, clinician, delta: -1 });
    }
  }
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const spans: Span[] = [];
  let clinicians = 0;
  let others = 0;
  let openedAt: number | undefined;
  for (const edge of edges) {
    if (edge.clinician) clinicians += edge.delta;
    else others += edge.delta;
    const together = clinicians > 0 && others > 0;
    if (together && openedAt === undefined) openedAt = edge.at;
    if (!together && openedAt !== undefined) {
      if (edge.at > openedAt) spans.push({ start: openedAt, end: edge.at });
      openedAt = undefined;
    }
  }
  return spans;
}

export function lanes(consultation: Consultation, now: number): Lane[] {
  const result: Lane[] = consultation.participants.map((participant) => ({
    label: `${participant.identity} (${participant.role})`,
    kind: 'session',
    spans: participant.sessions.map((session) => ({
      start: Date.parse(session.connectedAt),
      end: session.disconnectedAt ? Date.parse(session.disconnectedAt) : now,
    })),
  }));
  for (const entry of consultation.lobby) {
    const end = entry.decidedAt ?? entry.leftAt;
    result.push({
      label: `${entry.identity} in the lobby`,
      kind: 'lobby',
      spans: [{ start: Date.parse(entry.joinedAt), end: end ? Date.parse(end) : now }],
    });
  }
  result.push({ label: 'Overlap (billed)', kind: 'overlap', spans: overlap(consultation, now) });
  return result;
}

const clock = (at: number) => new Date(at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const seconds = (span: Span) => Math.round((span.end - span.start) / 1000);

export function timeline(consultation: Consultation, now = Date.now()): HTMLElement {
  const all = lanes(consultation, now);
  const spans = all.flatMap((lane) => lane.spans);
  if (spans.length === 0) return h('p', { class: 'notice' }, 'No one has joined yet.');
  const from = Math.min(...spans.map((span) => span.start));
  const to = Math.max(from + 1000, ...spans.map((span) => span.end));
  const width = 760;
  const labelWidth = 220;
  const laneHeight = 30;
  const height = all.length * laneHeight + 30;
  // Room on the right for the last tick's label.
  const x = (at: number) => labelWidth + ((at - from) / (to - from)) * (width - labelWidth - 50);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => from + f * (to - from));
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-labelledby': 'timeline-title',
      class: 'timeline',
      preserveAspectRatio: 'xMinYMin meet',
    },
    s('title', { id: 'timeline-title' }, 'Time line of the participants, the lobby and their overlap'),
    all.map((lane, index) =>
      s(
        'g',
        { class: `lane lane-${lane.kind}` },
        s(
          'text',
          { x: 4, y: index * laneHeight + 19, class: 'lane-label' },
          lane.label.length > 30 ? `${lane.label.slice(0, 29)}…` : lane.label,
        ),
        lane.spans.map((span) =>
          s('rect', {
            x: x(span.start),
            y: index * laneHeight + 6,
            width: Math.max(2, x(span.end) - x(span.start)),
            height: laneHeight - 12,
            rx: 3,
            class: `bar bar-${lane.kind}`,
          }),
        ),
      ),
    ),
    ticks.map((tick) =>
      s(
        'g',
        { class: 'tick' },
        s('line', { x1: x(tick), x2: x(tick), y1: 0, y2: all.length * laneHeight, class: 'grid' }),
        s('text', { x: x(tick), y: all.length * laneHeight + 18, 'text-anchor': 'middle', class: 'tick-label' }, clock(tick)),
      ),
    ),
  );
  const described = h(
    'ul',
    { class: 'timeline-text' },
    all.map((lane) =>
      h(
        'li',
        { 'data-lane': lane.kind },
        `${lane.label}: `,
        lane.spans.length === 0
          ? 'never'
          : lane.spans.map((span) => `${clock(span.start)}–${clock(span.end)} (${seconds(span)} s)`).join(', '),
      ),
    ),
  );
  return h(
    'figure',
    { class: 'timeline-figure' },
    h('div', { class: 'timeline-scroll', tabindex: 0, role: 'region', 'aria-label': 'Time line (scrolls sideways)' }, svg),
    h('figcaption', {}, described),
  );
}
