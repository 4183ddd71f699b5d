/**
 * Debian's Chromium driven by playwright-core (no browser download): launch, a context per
 * viewport, the axe-core check of a page, and screenshots into docs/console/. CSP violations
 * and script errors on a page are collected so a test can prove there were none.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const CHROMIUM = '/usr/bin/chromium';

export const VIEWPORTS = {
  laptop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface WatchedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors and page errors (a CSP violation is one). */
  readonly problems: string[];
}

export async function openPage(browser: Browser, viewport: keyof typeof VIEWPORTS): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: VIEWPORTS[viewport],
    deviceScaleFactor: 1,
    acceptDownloads: true,
    ...(viewport === 'phone' ? { isMobile: true, hasTouch: true } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // A failed fetch while the API is down is the test's own doing; everything else counts.
    if (message.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return { page, context, problems };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's serious and critical violations on the page as it is now (evaluated over CDP, which CSP does not govern). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: AxeViolation[] }> } })
      .axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

/**
 * Where a screenshot goes: docs/console/ with ROOMGATE_UPDATE_SCREENSHOTS=1 (how the committed
 * ones were made), else a temporary directory, so a test run leaves the work tree clean.
 */
export function screenshotPath(name: string): string {
  const dir = process.env.ROOMGATE_UPDATE_SCREENSHOTS === '1' ? new URL('../../../docs/console/', import.meta.url).pathname : shotDir();
  return join(dir, `${name}.png`);
}

let temporary: string | undefined;
function shotDir(): string {
  temporary ??= mkdtempSync(join(tmpdir(), 'roomgate-console-'));
  return temporary;
}
