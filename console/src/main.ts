/**
 * The console's shell: sign-in, the navigation of the tenant's or the operator's pages, the
 * API-down banner, and a hash router (#/consultations/…) so every page has a link and the
 * browser's back button works. Each page renders into <main> and returns its clean-up.
 */
import { setApiHooks } from './api.js';
import { h, replace } from './dom.js';
import { billingPage } from './pages/billing.js';
import { consultationPage } from './pages/consultation.js';
import { consultationsPage } from './pages/consultations.js';
import { keysPage } from './pages/keys.js';
import { doctorPage } from './pages/operator-doctor.js';
import { quarantinePage } from './pages/operator-quarantine.js';
import { reconciliationPage } from './pages/operator-reconciliation.js';
import { refusalsPage } from './pages/operator-refusals.js';
import { tenantsPage } from './pages/operator-tenants.js';
import { signInPage } from './pages/sign-in.js';
import { webhooksPage } from './pages/webhooks.js';
import { clearSession, loadSession, type Session } from './session.js';

export type Page = (main: HTMLElement, session: Session, params: readonly string[]) => (() => void) | void;

interface Route {
  readonly path: RegExp;
  readonly title: string;
  readonly kind: 'tenant' | 'operator';
  readonly nav?: string;
  readonly page: Page;
}

const ROUTES: readonly Route[] = [
  { path: /^\/consultations$/, title: 'Live consultations', kind: 'tenant', nav: '#/consultations', page: consultationsPage },
  { path: /^\/consultations\/([A-Za-z0-9_]+)$/, title: 'Consultation', kind: 'tenant', page: consultationPage },
  { path: /^\/billing$/, title: 'Billing records', kind: 'tenant', nav: '#/billing', page: billingPage },
  { path: /^\/webhooks$/, title: 'Webhook endpoints', kind: 'tenant', nav: '#/webhooks', page: webhooksPage },
  { path: /^\/keys$/, title: 'API keys', kind: 'tenant', nav: '#/keys', page: keysPage },
  { path: /^\/operator\/refusals$/, title: 'Refusals', kind: 'operator', nav: '#/operator/refusals', page: refusalsPage },
  { path: /^\/operator\/quarantine$/, title: 'Quarantine', kind: 'operator', nav: '#/operator/quarantine', page: quarantinePage },
  { path: /^\/operator\/doctor$/, title: 'Signature doctor', kind: 'operator', nav: '#/operator/doctor', page: doctorPage },
  { path: /^\/operator\/tenants$/, title: 'Tenants', kind: 'operator', nav: '#/operator/tenants', page: tenantsPage },
  {
    path: /^\/operator\/reconciliation$/,
    title: 'Reconciliation',
    kind: 'operator',
    nav: '#/operator/reconciliation',
    page: reconciliationPage,
  },
];

const root = document.getElementById('app')!;
const banner = h('div', { id: 'banner', class: 'banner', role: 'alert', hidden: true });
let cleanup: (() => void) | void;
let notice: string | undefined;

setApiHooks({
  signedOut(message) {
    notice = message;
    go('#/sign-in');
  },
  apiDown(down) {
    banner.hidden = !down;
    banner.textContent = down
      ? 'The Roomgate API cannot be reached right now. The console keeps retrying; what is shown may be out of date.'
      : '';
  },
});

/** Shows a route: through hashchange when the hash changes, at once when it does not. */
function go(hash: string): void {
  if (location.hash !== hash) return void (location.hash = hash);
  render();
  document.getElementById('main')?.focus();
}

function header(session: Session, current: Route | undefined): HTMLElement {
  const links = ROUTES.filter((route) => route.kind === session.kind && route.nav);
  return h(
    'header',
    { class: 'top' },
    h('span', { class: 'brand' }, 'Roomgate console'),
    h(
      'nav',
      { 'aria-label': 'Sections' },
      h(
        'ul',
        {},
        links.map((route) =>
          h(
            'li',
            {},
            h(
              'a',
              {
                href: route.nav,
                ...(route === current || (current && route.nav && current.page === consultationPage && route.page === consultationsPage)
                  ? { 'aria-current': 'page' }
                  : {}),
              },
              route.title,
            ),
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'who' },
      h('span', {}, session.kind === 'operator' ? 'Platform operator' : `Tenant ${session.tenant ?? ''}`),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () => {
            clearSession();
            notice = 'You signed out.';
            go('#/sign-in');
          },
        },
        'Sign out',
      ),
    ),
  );
}

function render(): void {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const path = location.hash.replace(/^#/, '') || '/';
  const session = loadSession();
  const main = h('main', { id: 'main', tabindex: -1 });
  if (!session) {
    replace(root, h('a', { class: 'skip', href: '#main' }, 'Skip to content'), banner, main);
    document.title = 'Sign in · Roomgate console';
    // The notice (why the console signed out) stays until someone signs in again.
    cleanup = signInPage(main, notice, (signedIn) => {
      notice = undefined;
      go(signedIn.kind === 'operator' ? '#/operator/refusals' : '#/consultations');
    });
    return;
  }
  let match: RegExpExecArray | null = null;
  const route = ROUTES.find((candidate) => candidate.kind === session.kind && (match = candidate.path.exec(path)));
  if (!route || !match) {
    location.replace(session.kind === 'operator' ? '#/operator/refusals' : '#/consultations');
    return;
  }
  replace(root, h('a', { class: 'skip', href: '#main' }, 'Skip to content'), header(session, route), banner, main);
  document.title = `${route.title} · Roomgate console`;
  cleanup = route.page(main, session, (match as RegExpExecArray).slice(1));
}

// The skip link moves focus without changing the route.
document.addEventListener('click', (event) => {
  const target = event.target as HTMLElement | null;
  if (target?.classList.contains('skip')) {
    event.preventDefault();
    document.getElementById('main')?.focus();
  }
});
window.addEventListener('hashchange', () => {
  render();
  document.getElementById('main')?.focus();
});
render();
