import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient, type Environment } from '@niro/protocol';
import {
  SimulatedAgent,
  createAgentDispatcher,
  generateClusterInventory,
  withCrashLoopingPod,
  withoutFirstAppPod,
  type AgentCredentials,
} from '@niro/testkit';
import type { Dispatcher } from 'undici';
import {
  collectErrors,
  describeBrowser,
  hydrated,
  launchBrowser,
  openPage,
  saveScreenshot,
  signIn,
} from './support/browser.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'admin@example.test';
const password = 'dashboard e2e passphrase 42';

const FLEET: { name: string; environment: Environment; labels: Record<string, string>; nodes: number; pods: number }[] =
  [
    { name: 'shop-berlin', environment: 'production', labels: { region: 'eu', site: 'shop' }, nodes: 3, pods: 42 },
    { name: 'shop-hamburg', environment: 'production', labels: { region: 'eu', site: 'shop' }, nodes: 3, pods: 38 },
    { name: 'factory-lyon', environment: 'production', labels: { region: 'eu', site: 'factory' }, nodes: 5, pods: 64 },
    { name: 'edge-oslo', environment: 'staging', labels: { region: 'eu', tier: 'edge' }, nodes: 1, pods: 18 },
    { name: 'homelab', environment: 'dev', labels: { owner: 'ops' }, nodes: 2, pods: 25 },
    { name: 'rack-frankfurt', environment: 'production', labels: { region: 'eu', site: 'dc' }, nodes: 8, pods: 96 },
    { name: 'ci-runners', environment: 'staging', labels: { team: 'platform' }, nodes: 4, pods: 30 },
  ];

describeBrowser('dashboard in Chromium (a real server process, simulated agents)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];
  let dispatcher: Dispatcher;
  const agents = new Map<string, SimulatedAgent>();
  const credentials = new Map<string, AgentCredentials>();

  beforeAll(async () => {
    server = await startServerProcess({});
    dispatcher = createAgentDispatcher({ connections: 4 });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 760 }, colorScheme: 'light' });
    pageErrors = collectErrors(page);
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents.values()) await agent.stop();
    await dispatcher?.close();
    await browser?.close();
    await server?.stop();
  });

  it('creates the first admin on a new server and lands on the fleet', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForURL('**/login?next=/');
    await page.getByRole('heading', { name: 'Create the first admin' }).waitFor();
    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="password"]').fill(password);
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.getByText('No clusters yet.').waitFor();
    await hydrated(page);
    expect(pageErrors, 'the first-run page and the empty fleet').toEqual([]);
  });

  it('shows the simulated fleet, and a cluster turns critical within a poll when a pod crash-loops', async ({
    annotate,
  }) => {
    const anonymous = new ApiClient({ baseUrl: server.url });
    const { token } = await anonymous.createToken(email, password, 'web-e2e');
    const api = new ApiClient({ baseUrl: server.url, token });
    for (const c of FLEET) {
      const created = await api.createCluster({ name: c.name, environment: c.environment, labels: c.labels });
      const inventory = generateClusterInventory({ nodes: c.nodes, pods: c.pods, seed: c.name, clusterName: c.name });
      const agent = new SimulatedAgent({ url: server.url, dispatcher, inventory, seed: c.name, churn: false });
      credentials.set(c.name, await agent.enroll(created.enrollment.token));
      await agent.heartbeatOnce();
      agents.set(c.name, agent);
    }

    await page.reload();
    for (const c of FLEET) await page.locator(`tr[data-cluster="${c.name}"]`).waitFor();
    const berlin = page.locator('tr[data-cluster="shop-berlin"]');
    expect(await berlin.getAttribute('data-status')).toBe('healthy');
    await expect.poll(() => berlin.textContent()).toMatch(/\d+ s ago|just now/);

    // The agent now reports a crash-looping pod; the page's next poll shows the cluster critical.
    const agent = agents.get('shop-berlin');
    const creds = credentials.get('shop-berlin');
    if (agent === undefined || creds === undefined) throw new Error('no agent for shop-berlin');
    await agent.stop();
    const crashing = new SimulatedAgent({
      url: server.url,
      dispatcher,
      inventory: withCrashLoopingPod(agent.inventory),
      seed: 'shop-berlin-crash',
      credentials: creds,
      churn: false,
    });
    await crashing.heartbeatOnce();
    agents.set('shop-berlin-crash', crashing);
    await page.locator('tr[data-cluster="shop-berlin"][data-status="critical"]').waitFor({ timeout: 15_000 });
    await expect.poll(() => berlin.textContent()).toContain('1 high');

    const screenshot = await saveScreenshot(page, 'fleet-overview.png');
    await annotate(`[web] screenshot of the fleet overview: ${screenshot}`);

    // The crash-looping pod is replaced: clean heartbeats resolve the incident and the page's next
    // poll shows the cluster healthy again, without a reload.
    await crashing.stop();
    const fixed = new SimulatedAgent({
      url: server.url,
      dispatcher,
      inventory: withoutFirstAppPod(agent.inventory),
      seed: 'shop-berlin-fixed',
      credentials: creds,
      churn: false,
    });
    agents.set('shop-berlin-fixed', fixed);
    for (
      let n = 0;
      n < 5 && (await api.fleet()).clusters.find((c) => c.name === 'shop-berlin')?.status !== 'healthy';
      n++
    ) {
      await fixed.heartbeatOnce();
    }
    await page.locator('tr[data-cluster="shop-berlin"][data-status="healthy"]').waitFor({ timeout: 15_000 });
    await expect.poll(() => berlin.textContent()).not.toContain('high');
    expect(pageErrors).toEqual([]);
  });

  it('loads and hydrates the login and fleet pages without a console error or a page error', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const {
        context,
        page: fresh,
        errors,
      } = await openPage(browser, { viewport: { width: 1400, height: 760 }, colorScheme });
      try {
        await fresh.goto(`${server.url}/`);
        await fresh.waitForURL('**/login?next=/');
        await fresh.getByRole('heading', { name: 'Sign in to Niro' }).waitFor();
        await hydrated(fresh);
        expect(errors, `the login page (${colorScheme})`).toEqual([]);

        await signIn(fresh, email, password);
        await fresh.waitForURL(`${server.url}/`);
        await fresh.locator('tr[data-cluster="shop-berlin"]').waitFor();
        await hydrated(fresh);
        // The fleet's controls are enabled by the table's own effect: its Suspense boundary hydrated too.
        await expect.poll(() => fresh.getByLabel('Search').isEnabled()).toBe(true);
        expect(errors, `the fleet page (${colorScheme})`).toEqual([]);

        // A reload hydrates the streamed fleet straight from the server's response.
        await fresh.reload();
        await fresh.locator('tr[data-cluster="shop-berlin"]').waitFor();
        await hydrated(fresh);
        await expect.poll(() => fresh.getByLabel('Search').isEnabled()).toBe(true);
        expect(errors, `the reloaded fleet page (${colorScheme})`).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });
});
