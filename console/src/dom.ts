/**
 * A tiny element builder: text is always set as text (never parsed as HTML), so nothing an API
 * answer carries can become markup or script. `on…` attributes take listeners.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Attr = string | number | boolean | null | undefined | ((event: Event) => void);

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child as readonly Child[]);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setAttrs(element: Element, attrs: Record<string, Attr>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

export function s(tag: string, attrs: Record<string, Attr> = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS(SVG, tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A time as the reader's local clock shows it, with the full instant as the tooltip. */
export function time(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return '—';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }));
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const m = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return m > 0 ? `${m} min ${rest} s` : `${rest} s`;
}

/** A table with a caption (visually hidden when `hideCaption`) and one header row. */
export function table(caption: string, headers: readonly string[], rows: readonly (readonly Child[])[], hideCaption = false): HTMLElement {
  // Focusable, so a keyboard can scroll a table wider than a phone.
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', hideCaption ? { class: 'visually-hidden' } : {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((header) => h('th', { scope: 'col' }, header)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length === 0
          ? h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'Nothing yet.'))
          : rows.map((cells) =>
              h(
                'tr',
                {},
                cells.map((cell) => h('td', {}, cell)),
              ),
            ),
      ),
    ),
  );
}

export function badge(text: string, tone = text): HTMLElement {
  return h('span', { class: `badge badge-${tone.replace(/[^a-z-]/g, '')}` }, text);
}
