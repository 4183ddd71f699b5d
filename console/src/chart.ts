/** Stacked bars of refusals by reason per time bucket (SVG), with a legend; the page adds a table of the same numbers. */
import { h, s } from './dom.js';

export interface ChartData {
  reasons: string[];
  buckets: { start: string; counts: Record<string, number>; total: number }[];
}

/** Distinguishable colours, each with at least 3:1 contrast against white. */
const PALETTE = ['#b3261e', '#1d5fa8', '#7a4f01', '#2e7d32', '#6a1b9a', '#00695c', '#ad1457', '#455a64'];

export const colourOf = (reasons: readonly string[], reason: string) => PALETTE[reasons.indexOf(reason) % PALETTE.length]!;

export function stackedBars(data: ChartData, label: string): HTMLElement {
  const width = 760;
  const height = 240;
  const left = 40;
  const bottom = 24;
  const max = Math.max(1, ...data.buckets.map((bucket) => bucket.total));
  const step = (width - left - 40) / Math.max(1, data.buckets.length);
  const y = (n: number) => ((height - bottom - 10) * n) / max;
  const hour = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const labelEvery = Math.max(1, Math.ceil(data.buckets.length / 8));
  const svg = s(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'chart' },
    s('line', { x1: left, x2: width - 40, y1: height - bottom, y2: height - bottom, class: 'axis' }),
    s('text', { x: left - 6, y: 16, 'text-anchor': 'end', class: 'tick-label' }, String(max)),
    s('text', { x: left - 6, y: height - bottom, 'text-anchor': 'end', class: 'tick-label' }, '0'),
    data.buckets.map((bucket, index) => {
      let base = height - bottom;
      return s(
        'g',
        {},
        data.reasons.map((reason) => {
          const n = bucket.counts[reason] ?? 0;
          if (n === 0) return null;
          base -= y(n);
          return s(
            'rect',
            { x: left + index * step + 1, y: base, width: Math.max(1, step - 2), height: y(n), fill: colourOf(data.reasons, reason) },
            s('title', {}, `${hour(bucket.start)}: ${n} × ${reason}`),
          );
        }),
        index % labelEvery === 0
          ? s(
              'text',
              { x: left + index * step + step / 2, y: height - 6, 'text-anchor': 'middle', class: 'tick-label' },
              hour(bucket.start),
            )
          : null,
      );
    }),
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    data.reasons.map((reason) => h('li', {}, h('span', { class: 'swatch', 'data-colour': colourOf(data.reasons, reason) }), reason)),
  );
  // CSP forbids inline style attributes; the swatch colour is set through the CSSOM.
  for (const swatch of Array.from(legend.querySelectorAll<HTMLElement>('.swatch'))) swatch.style.background = swatch.dataset.colour ?? '';
  return h(
    'figure',
    { class: 'chart-figure' },
    h('div', { class: 'chart-scroll', tabindex: 0, role: 'region', 'aria-label': 'Chart (scrolls sideways)' }, svg),
    h('figcaption', {}, legend),
  );
}
