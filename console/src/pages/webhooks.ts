/**
 * Webhook endpoints with their delivery attempts and a redeliver button per delivery
 * (GET /v1/webhook-endpoints, …/deliveries, POST …/redeliver). Where this Roomgate has no
 * outbound webhooks the page says so.
 */
import { ApiError, get, post } from '../api.js';
import { badge, h, replace, table, time } from '../dom.js';
import type { Page } from '../main.js';
import type { Page as ListPage } from '../types.js';

interface Endpoint {
  id: string;
  url: string;
  eventTypes?: string[];
  description?: string | null;
  enabled: boolean;
  disabledReason?: string | null;
  createdAt: string;
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  attempt: number;
  status: string;
  responseStatus?: number | null;
  latencyMs?: number | null;
  error?: string | null;
  attemptedAt: string;
  nextAttemptAt?: string | null;
}

export const webhooksPage: Page = (main) => {
  const timers: ReturnType<typeof setTimeout>[] = [];
  const body = h('div', { class: 'stack' }, h('p', { role: 'status' }, 'Loading…'));
  const status = h('p', { role: 'status', class: 'help', id: 'webhook-status' });
  main.append(h('h1', {}, 'Webhook endpoints'), status, body);

  const deliveries = async (endpoint: Endpoint, into: HTMLElement) => {
    try {
      const page = await get<ListPage<Delivery>>(`/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=50`);
      replace(
        into,
        table(
          `Delivery attempts to ${endpoint.url}`,
          ['Event', 'Attempt', 'Status', 'Answer', 'Latency', 'At', ''],
          page.data.map((delivery) => [
            h('code', {}, delivery.eventType),
            String(delivery.attempt),
            badge(delivery.status),
            delivery.responseStatus ? String(delivery.responseStatus) : (delivery.error ?? '—'),
            delivery.latencyMs === null || delivery.latencyMs === undefined ? '—' : `${delivery.latencyMs} ms`,
            time(delivery.attemptedAt),
            h(
              'button',
              {
                type: 'button',
                class: 'secondary redeliver',
                'data-delivery': delivery.id,
                'aria-label': `Redeliver ${delivery.eventType} (attempt ${delivery.attempt})`,
                onclick: async (event: Event) => {
                  const button = event.currentTarget as HTMLButtonElement;
                  button.disabled = true;
                  try {
                    await post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}/redeliver`);
                    status.textContent = `Redelivery of ${delivery.eventType} queued.`;
                    // The worker sends it within a poll; the list is read again to show the new attempt.
                    for (const delay of [1000, 3000]) timers.push(setTimeout(() => void deliveries(endpoint, into), delay));
                  } catch (error) {
                    status.textContent = `Could not redeliver: ${(error as Error).message}`;
                    button.disabled = false;
                  }
                },
              },
              'Redeliver',
            ),
          ]),
          true,
        ),
      );
    } catch (error) {
      replace(into, h('p', { class: 'error' }, `Could not load deliveries: ${(error as Error).message}`));
    }
  };

  void (async () => {
    let endpoints: Endpoint[];
    try {
      endpoints = (await get<ListPage<Endpoint>>('/v1/webhook-endpoints?limit=100')).data;
    } catch (error) {
      const message =
        error instanceof ApiError && error.status === 404
          ? 'This Roomgate does not offer outbound webhook endpoints.'
          : error instanceof ApiError && error.status === 403
            ? 'This key lacks webhooks:manage, which webhook endpoints need.'
            : `Could not load webhook endpoints: ${(error as Error).message}`;
      replace(body, h('p', { class: 'notice' }, message));
      return;
    }
    if (endpoints.length === 0) return replace(body, h('p', {}, 'No webhook endpoints yet.'));
    replace(
      body,
      endpoints.map((endpoint) => {
        const list = h('div', {}, h('p', { role: 'status' }, 'Loading deliveries…'));
        void deliveries(endpoint, list);
        return h(
          'section',
          { class: 'card', 'aria-label': `Endpoint ${endpoint.url}`, 'data-endpoint': endpoint.id },
          h('h2', {}, endpoint.url),
          h(
            'p',
            {},
            badge(endpoint.enabled ? 'enabled' : 'disabled'),
            endpoint.disabledReason ? ` ${endpoint.disabledReason}` : '',
            endpoint.description ? ` — ${endpoint.description}` : '',
            ` · events: ${endpoint.eventTypes && endpoint.eventTypes.length > 0 ? endpoint.eventTypes.join(', ') : 'all'}`,
          ),
          list,
        );
      }),
    );
  })();
  return () => timers.forEach((timer) => clearTimeout(timer));
};
