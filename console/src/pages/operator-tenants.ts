/** Every tenant with its consultation counts and health. */
import { get } from '../api.js';
import { badge, h, replace, table, time } from '../dom.js';
import type { Page } from '../main.js';

interface Tenant {
  id: string;
  slug: string;
  name: string;
  kind: string;
  consultations: { total: number; live: number; byStatus: Record<string, number> };
  health: { status: string; quarantinedLastDay: number; staleConsultations: number; lastCallbackAt: string | null };
}

export const tenantsPage: Page = (main) => {
  const body = h('div', {}, h('p', { role: 'status' }, 'Loading…'));
  main.append(h('h1', {}, 'Tenants'), body);
  void (async () => {
    try {
      const { data } = await get<{ data: Tenant[] }>('/v1/operator/tenants');
      replace(
        body,
        table(
          'Tenants',
          ['Tenant', 'Kind', 'Consultations', 'Live', 'Completed', 'Health', 'Quarantined (24 h)', 'Stale', 'Last callback'],
          data.map((tenant) => [
            h('span', { title: tenant.id }, `${tenant.name} (${tenant.slug})`),
            tenant.kind,
            String(tenant.consultations.total),
            String(tenant.consultations.live),
            String(tenant.consultations.byStatus.completed ?? 0),
            badge(tenant.health.status),
            String(tenant.health.quarantinedLastDay),
            String(tenant.health.staleConsultations),
            time(tenant.health.lastCallbackAt),
          ]),
          true,
        ),
      );
    } catch (error) {
      replace(body, h('p', { class: 'error' }, `Could not load tenants: ${(error as Error).message}`));
    }
  })();
};
