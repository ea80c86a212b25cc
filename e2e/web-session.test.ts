import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { runSimulation, type Simulation } from '@niro/testkit';
import {
  accessibilityViolations,
  describeBrowser,
  hydrated,
  launchBrowser,
  openPage,
  saveScreenshot,
  signIn,
  signInAt,
} from './support/browser.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'web-session@example.test';
const password = 'web session passphrase 42';
/** More than the rows the server sends with the data (40), so the second segment is hydrated too. */
const CLUSTERS = 90;
describeBrowser('dashboard sessions, keyboard and accessibility in Chromium', () => {
  let server: ServerProcess;
  let sim: Simulation;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServerProcess({ env: { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password } });
    sim = runSimulation({
      url: server.url,
      email,
      password,
      clusters: CLUSTERS,
      nodes: 2,
      pods: 12,
      seed: 'web-session',
    });
    await sim.ready;
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sim?.stop();
    await server?.stop();
  });

  it('hydrates a fleet longer than one screen without an error and scrolls to its last cluster', async () => {
    const { context, page, errors } = await openPage(browser, { viewport: { width: 1280, height: 800 } });
    try {
      await signInAt(page, server.url, '/', { email, password });
      await hydrated(page);
      await expect.poll(() => page.getByLabel('Search').isEnabled()).toBe(true);
      // Virtualised: far fewer rows in the document than clusters in the fleet.
      expect(await page.locator('tr[data-cluster]').count()).toBeLessThan(CLUSTERS);

      await page.getByLabel('Sort').selectOption('name');
      const names = sim
        .clusters()
        .map((c) => c.name)
        .sort((a, b) => a.localeCompare(b));
      const last = names[names.length - 1] ?? '';
      await page.evaluate(
        `(() => { const s = document.querySelector('[data-testid="fleet-table"]').parentElement; s.scrollTop = s.scrollHeight; })()`,
      );
      await page.locator(`tr[data-cluster="${last}"]`).waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('sends an expired session to sign-in with a notice, then back to the page it was on', async () => {
    const { context, page, errors } = await openPage(browser, { viewport: { width: 1280, height: 800 } });
    try {
      await signInAt(page, server.url, '/', { email, password });
      await hydrated(page);

      // Another tab signs out (the server deletes the session); this page finds out on its next poll.
      const cookie = (await context.cookies()).find((c) => c.name === 'niro_session');
      expect(cookie).toBeDefined();
      const logout = await fetch(`${server.url}/api/v1/auth/logout`, {
        method: 'POST',
        headers: { cookie: `niro_session=${cookie?.value ?? ''}`, origin: server.url },
      });
      expect(logout.status).toBeLessThan(300);

      await page.waitForURL(/\/login\?next=%2F&expired=1$/, { timeout: 15_000 });
      await page.getByTestId('session-ended').waitFor();
      await signIn(page, email, password);
      await page.waitForURL(`${server.url}/`);
      await page.locator('tr[data-cluster]').first().waitFor();
      // The 401 that ended the session is the browser's own network log, not the page's error.
      expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('signs out: the session ends on the server, and every page asks to sign in again', async () => {
    const { context, page, errors } = await openPage(browser, { viewport: { width: 1280, height: 800 } });
    try {
      await signInAt(page, server.url, '/pods', { email, password });
      await hydrated(page);
      const before = (await context.cookies()).find((c) => c.name === 'niro_session');
      expect(before).toBeDefined();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${server.url}/login`, { timeout: 20_000 });
      await page.getByRole('heading', { name: 'Sign in to Niro' }).waitFor();
      // The old cookie no longer opens anything, in this browser or any other.
      const me = await fetch(`${server.url}/api/v1/me`, { headers: { cookie: `niro_session=${before?.value ?? ''}` } });
      expect(me.status).toBe(401);
      await page.goto(`${server.url}/settings/tokens`);
      await page.waitForURL(`${server.url}/login?next=/settings/tokens`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('signs out without "your session has ended" when a poll meets the ended session first', async () => {
    const { context, page, errors } = await openPage(browser, { viewport: { width: 1280, height: 800 } });
    try {
      // The incident list polls every 5 s; the sign-out's reply is held back for longer, after the
      // server has ended the session, so a poll is bound to get its 401 in between.
      await signInAt(page, server.url, '/incidents', { email, password });
      await hydrated(page);
      let polledAfterLogout = false;
      let loggedOut = false;
      page.on('response', (res) => {
        if (loggedOut && res.url().includes('/api/v1/incidents') && res.status() === 401) polledAfterLogout = true;
      });
      await page.route('**/api/v1/auth/logout', async (route) => {
        const res = await route.fetch();
        loggedOut = true;
        await expect.poll(() => polledAfterLogout, { timeout: 15_000 }).toBe(true);
        // Time for a redirect the 401 might start to take the page away before the reply lands.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await route.fulfill({ response: res });
      });
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${server.url}/login`, { timeout: 25_000 });
      await page.getByRole('heading', { name: 'Sign in to Niro' }).waitFor();
      expect(await page.getByTestId('session-ended').count()).toBe(0);
      expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('can be used from the keyboard: a skip link first, then the main navigation', async () => {
    const { context, page } = await openPage(browser, { viewport: { width: 1024, height: 768 } });
    try {
      await signInAt(page, server.url, '/', { email, password });
      await hydrated(page);
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
      await page.keyboard.press('Enter');
      expect(await page.evaluate('window.location.hash')).toBe('#main');
      // From the top again: the home link, then the navigation, the current page marked.
      await page.evaluate('document.activeElement?.blur()');
      await page.goto(`${server.url}/`);
      await hydrated(page);
      const current = page.locator('nav[aria-label="Main"] a[aria-current="page"]');
      expect(await current.textContent()).toBe('Fleet');
      for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Fleet');
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Pods');
    } finally {
      await context.close();
    }
  });

  it('fits a tablet: nothing but the table scrolls sideways at 768 px', async () => {
    const { context, page, errors } = await openPage(browser, {
      viewport: { width: 768, height: 1024 },
      colorScheme: 'dark',
    });
    try {
      await signInAt(page, server.url, '/', { email, password });
      await hydrated(page);
      await page.locator('tr[data-cluster]').first().waitFor();
      const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      await expect.poll(() => page.getByRole('link', { name: 'Settings' }).isVisible()).toBe(true);
      await saveScreenshot(page, 'fleet-tablet-dark.png');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('has no WCAG A/AA violation axe-core can find on any page, in either theme', async ({ annotate }) => {
    const cluster = sim.clusters()[0];
    if (cluster === undefined) throw new Error('no simulated cluster');
    const pages = [
      '/',
      ...[
        '',
        '/nodes',
        '/pods',
        '/workloads',
        '/events',
        '/findings',
        '/incidents',
        '/commands',
        '/logs',
        '/settings',
      ].map((tab) => `/clusters/${cluster.id}${tab}`),
      '/pods',
      '/images',
      '/incidents',
      '/findings',
      '/deployments',
      '/deployments/new',
      '/registries',
      ...['members', 'invitations', 'organizations', 'tokens', 'channels', 'audit'].map((s) => `/settings/${s}`),
    ];
    const found: Record<string, string[]> = {};
    for (const colorScheme of ['light', 'dark'] as const) {
      const { context, page, errors } = await openPage(browser, {
        viewport: { width: 1280, height: 800 },
        colorScheme,
      });
      try {
        await signInAt(page, server.url, '/', { email, password });
        for (const path of pages) {
          await page.goto(`${server.url}${path}`);
          await hydrated(page);
          await page.waitForLoadState('networkidle');
          await expect.poll(() => page.getByTestId('page-loading').count()).toBe(0);
          const violations = await accessibilityViolations(page);
          if (violations.length > 0) found[`${path} (${colorScheme})`] = violations;
        }
        expect(errors, `console or page errors (${colorScheme})`).toEqual([]);
      } finally {
        await context.close();
      }
    }
    expect(found).toEqual({});
    await annotate(`[web] axe-core: ${pages.length} pages clean in the light and the dark theme`);
  }, 240_000);

  it('has no WCAG A/AA violation axe-core can find on the sign-in page, in either theme', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { context, page } = await openPage(browser, { viewport: { width: 1280, height: 800 }, colorScheme });
      try {
        await page.goto(`${server.url}/login?next=%2Fpods&expired=1`);
        await hydrated(page);
        await page.getByTestId('session-ended').waitFor();
        expect(await accessibilityViolations(page), `login (${colorScheme})`).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });
});
