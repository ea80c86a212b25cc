import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, inject } from 'vitest';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** Found (or not) by the web global setup; without Chromium the browser tests are skipped unless CI requires it. */
const browserInfo = inject('browser');

/** Where the browser tests save the screenshots the docs show. */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '..', '..', 'docs', 'images');

/** A suite that needs Chromium: skipped, with the reason in its name, on a machine without one. */
export function describeBrowser(name: string, fn: () => void): void {
  if (browserInfo.executablePath === null) describe.skip(`${name} (skipped: ${browserInfo.reason})`, fn);
  else describe(name, fn);
}

/** Headless Chromium as the global setup found it; the flags let it run as root in a container. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: browserInfo.executablePath ?? undefined,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/**
 * Every console error and uncaught page error of a page, from before its first request. A hydration
 * mismatch (React error #418) surfaces as a page error; a missing asset as a console error.
 */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  return errors;
}

/** A page in a new context (no cookie: a browser that has never seen the server), its errors collected. */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  return { context, page, errors: collectErrors(page) };
}

/** Hydration committed (the App's effect marks <html>); a failure names the page's errors so far, when given. */
export async function hydrated(page: Page, errors?: readonly string[]): Promise<void> {
  await page
    .locator('html[data-hydrated="true"]')
    .waitFor({ state: 'attached' })
    .catch((err: unknown) => {
      if (errors === undefined) throw err;
      throw new Error(`the page did not hydrate (${errors.join('; ') || 'no console error'})`, { cause: err });
    });
}

/** Fills the sign-in form on the page and submits it. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens the sign-in page for `next`, signs in once it has hydrated and waits until the browser is at `next`. */
export async function signInAt(
  page: Page,
  serverUrl: string,
  next: string,
  credentials: { email: string; password: string },
  errors?: readonly string[],
): Promise<void> {
  await page.goto(`${serverUrl}/login?next=${encodeURIComponent(next)}`);
  await page.getByRole('heading', { name: 'Sign in to Niro' }).waitFor();
  await hydrated(page, errors);
  await signIn(page, credentials.email, credentials.password);
  await page.waitForURL(`${serverUrl}${next}`);
}

/** Saves a screenshot of the page under SCREENSHOT_DIR; returns its path relative to the working directory. */
export async function saveScreenshot(page: Page, file: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const target = path.join(SCREENSHOT_DIR, file);
  await page.screenshot({ path: target });
  return path.relative(process.cwd(), target);
}

const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

type AxeViolation = {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
};

/** Runs axe-core (WCAG 2.x A and AA rules) on the page and lists what it finds, one line per rule. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_SOURCE });
  // A string, evaluated in the page: the test's own TypeScript has no DOM types.
  const violations: unknown = await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } })
       .then((result) => JSON.stringify(result.violations))`,
  );
  if (typeof violations !== 'string') throw new Error('axe returned no result');
  const parsed: unknown = JSON.parse(violations);
  if (!Array.isArray(parsed)) throw new Error('axe returned no violation list');
  return (parsed as AxeViolation[]).map(
    (v) =>
      `${v.id} (${v.impact ?? 'n/a'}): ${v.help} at ${v.nodes
        .slice(0, 3)
        .map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`)
        .join(', ')}`,
  );
}
