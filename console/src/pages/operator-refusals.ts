/** Refused callbacks by reason over the last hours, as a chart and as a table; refreshed every 10 s. */
import { get } from '../api.js';
import { h, replace, table } from '../dom.js';
import { stackedBars, type ChartData } from '../chart.js';
import type { Page } from '../main.js';

interface RefusalChart extends ChartData {
  from: string;
  to: string;
  bucketMinutes: number;
  total: number;
  truncated: boolean;
}

const PERIODS: readonly [number, number, string][] = [
  [1, 5, 'Last hour'],
  [6, 15, 'Last 6 hours'],
  [24, 60, 'Last 24 hours'],
];

export const refusalsPage: Page = (main) => {
  const select = h(
    'select',
    { id: 'period', name: 'period' },
    PERIODS.map(([hours, , label], index) => h('option', { value: String(index), ...(hours === 6 ? { selected: true } : {}) }, label)),
  );
  const summary = h('p', { role: 'status', id: 'refusal-total' }, 'Loading…');
  const result = h('div', {});
  main.append(
    h('h1', {}, 'Refused callbacks'),
    h('div', { class: 'field inline' }, h('label', { for: 'period' }, 'Period'), select),
    summary,
    result,
  );
  const load = async () => {
    const [hours, bucketMinutes, label] = PERIODS[Number(select.value)] ?? PERIODS[1]!;
    try {
      const chart = await get<RefusalChart>(`/v1/operator/refusals?hours=${hours}&bucketMinutes=${bucketMinutes}`);
      summary.textContent = `${chart.total} callback${chart.total === 1 ? '' : 's'} refused — ${label.toLowerCase()}, in ${bucketMinutes}-minute bars.${chart.truncated ? ' More were stored than one view reads: counts are a floor.' : ''}`;
      const totals = chart.reasons.map((reason) => [
        reason,
        String(chart.buckets.reduce((sum, bucket) => sum + (bucket.counts[reason] ?? 0), 0)),
      ]);
      replace(
        result,
        chart.total === 0
          ? h('p', { class: 'notice' }, 'No refusals in this period.')
          : stackedBars(chart, `Refusals by reason, ${label.toLowerCase()}`),
        table('Refusals by reason', ['Reason', 'Refused'], totals),
      );
    } catch (error) {
      summary.textContent = `Could not load refusals: ${(error as Error).message}`;
    }
  };
  select.addEventListener('change', () => void load());
  void load();
  const timer = setInterval(() => void load(), 10_000);
  return () => clearInterval(timer);
};
