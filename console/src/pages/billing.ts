/** Billing records created between two dates, with a CSV export of exactly what is shown. */
import { all } from '../api.js';
import { duration, h, replace, table, time } from '../dom.js';
import { toCsv } from '../csv.js';
import type { Page } from '../main.js';
import { can } from '../session.js';
import type { BillingRecord } from '../types.js';

const day = (date: Date) => date.toISOString().slice(0, 10);
const HEADERS = ['id', 'consultationId', 'billableSeconds', 'roundedSeconds', 'version', 'createdAt', 'updatedAt'];

export const billingPage: Page = (main, session) => {
  main.append(h('h1', {}, 'Billing records'));
  if (!can(session, 'billing:read')) {
    main.append(h('p', { class: 'notice' }, 'This key lacks billing:read.'));
    return;
  }
  const today = new Date();
  const from = h('input', {
    id: 'from',
    name: 'from',
    type: 'date',
    value: day(new Date(today.getTime() - 30 * 86_400_000)),
    required: true,
  });
  const to = h('input', { id: 'to', name: 'to', type: 'date', value: day(today), required: true });
  const result = h('div', { id: 'billing-result' });
  const status = h('p', { role: 'status', class: 'help' });
  const exportButton = h('button', { type: 'button', id: 'export-csv', disabled: true }, 'Export CSV');
  let shown: BillingRecord[] = [];

  const load = async () => {
    status.textContent = 'Loading…';
    exportButton.disabled = true;
    // Records of consultations completed from `from` (00:00 UTC) to `to` (24:00 UTC): the API
    // filters by last change, which is never before creation; creation is filtered here.
    const start = `${from.value}T00:00:00.000Z`;
    const end = new Date(Date.parse(`${to.value}T00:00:00.000Z`) + 86_400_000).toISOString();
    try {
      const records = await all<BillingRecord>(`/v1/billing-records?updatedSince=${encodeURIComponent(start)}`, 10_000);
      shown = records
        .filter((record) => record.createdAt >= start && record.createdAt < end)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    } catch (error) {
      status.textContent = `Could not load billing records: ${(error as Error).message}`;
      return;
    }
    const total = shown.reduce((sum, record) => sum + record.roundedSeconds, 0);
    status.textContent = `${shown.length} record${shown.length === 1 ? '' : 's'}, ${duration(total)} billed in total.`;
    exportButton.disabled = shown.length === 0;
    replace(
      result,
      table(
        `Billing records created from ${from.value} to ${to.value} (UTC)`,
        ['Record', 'Consultation', 'Billable', 'Rounded', 'Version', 'Created', 'Updated'],
        shown.map((record) => [
          record.id,
          h('a', { href: `#/consultations/${record.consultationId}` }, record.consultationId),
          `${record.billableSeconds} s`,
          `${record.roundedSeconds} s`,
          String(record.version),
          time(record.createdAt),
          time(record.updatedAt),
        ]),
      ),
    );
  };

  exportButton.addEventListener('click', () => {
    const csv = toCsv(
      HEADERS,
      shown.map((r) => [r.id, r.consultationId, r.billableSeconds, r.roundedSeconds, r.version, r.createdAt, r.updatedAt]),
    );
    const link = h('a', {
      href: URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' })),
      download: `billing-${from.value}-to-${to.value}.csv`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  });

  main.append(
    h(
      'form',
      {
        class: 'card filters',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void load();
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'from' }, 'Created from (UTC)'), from),
      h('div', { class: 'field' }, h('label', { for: 'to' }, 'to (UTC, inclusive)'), to),
      h('button', { type: 'submit' }, 'Show'),
      exportButton,
    ),
    status,
    result,
  );
  void load();
};
