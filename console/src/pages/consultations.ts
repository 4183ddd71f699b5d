/** Live consultations: the latest page, kept current by the tenant's event stream. */
import { ApiError, get } from '../api.js';
import { badge, duration, h, replace, time } from '../dom.js';
import { followEvents, type LiveEvent } from '../event-stream.js';
import type { Page } from '../main.js';
import { can } from '../session.js';
import type { Consultation, Page as ListPage } from '../types.js';

export const consultationsPage: Page = (main, session) => {
  main.append(h('h1', {}, 'Live consultations'));
  if (!can(session, 'consultations:read')) {
    main.append(h('p', { class: 'notice' }, 'This key lacks consultations:read: ask for a key with it to see consultations.'));
    return;
  }
  const state = h('p', { class: 'stream-state', role: 'status' }, 'Loading…');
  const body = h('tbody', {});
  const recent = h('ol', { class: 'events', 'aria-label': 'Recent events' });
  const rows = new Map<string, Consultation>();
  main.append(
    state,
    h(
      'div',
      { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Consultations' },
      h(
        'table',
        { id: 'consultations' },
        h('caption', { class: 'visually-hidden' }, 'Consultations, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Consultation', 'Status', 'Participants', 'Started', 'Ended', 'Billed'].map((label) => h('th', { scope: 'col' }, label)),
          ),
        ),
        body,
      ),
    ),
    h('h2', {}, 'Recent events'),
    recent,
  );

  const draw = () => {
    const sorted = [...rows.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    replace(
      body,
      sorted.length === 0
        ? h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No consultations yet; they appear here as they start.'))
        : sorted.map((c) =>
            h(
              'tr',
              { 'data-id': c.id, 'data-status': c.status },
              h('td', { 'data-label': 'Consultation' }, h('a', { href: `#/consultations/${c.id}` }, c.externalRef ?? c.id)),
              h('td', { 'data-label': 'Status' }, badge(c.status)),
              h('td', { 'data-label': 'Participants' }, c.participants.map((p) => `${p.identity} (${p.role})`).join(', ') || '—'),
              h('td', { 'data-label': 'Started' }, time(c.startedAt)),
              h('td', { 'data-label': 'Ended' }, time(c.endedAt)),
              h('td', { 'data-label': 'Billed' }, c.billing ? duration(c.billing.roundedSeconds) : '—'),
            ),
          ),
    );
  };

  const refresh = async (id: string) => {
    try {
      rows.set(id, await get<Consultation>(`/v1/consultations/${id}`));
      draw();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) rows.delete(id);
    }
  };

  // The events of one change arrive together: each consultation is read once for them.
  const queued = new Set<string>();
  let flush: ReturnType<typeof setTimeout> | undefined;
  const queue = (id: string) => {
    queued.add(id);
    flush ??= setTimeout(() => {
      flush = undefined;
      for (const next of queued) void refresh(next);
      queued.clear();
    }, 200);
  };
  let stop = () => undefined as void;
  // Left before the first page arrived: no stream is opened at all.
  let left = false;
  void (async () => {
    try {
      const page = await get<ListPage<Consultation>>('/v1/consultations?limit=50');
      for (const c of page.data) rows.set(c.id, c);
      draw();
    } catch (error) {
      state.textContent = `Could not load consultations: ${(error as Error).message}`;
      return;
    }
    if (!can(session, 'events:read')) {
      state.textContent = 'Not live: this key lacks events:read, so the list does not update by itself.';
      return;
    }
    if (left) return;
    state.textContent = 'Connecting to live events…';
    stop = followEvents(
      (event: LiveEvent) => {
        recent.prepend(h('li', {}, time(event.at), ' ', h('code', {}, event.type), event.consultationId ? ` ${event.consultationId}` : ''));
        while (recent.children.length > 20) recent.lastElementChild?.remove();
        if (event.consultationId) queue(event.consultationId);
      },
      (live) => (state.textContent = live === 'live' ? 'Live: updates as events arrive.' : 'Reconnecting to live events…'),
    );
  })();
  return () => {
    left = true;
    clearTimeout(flush);
    stop();
  };
};
