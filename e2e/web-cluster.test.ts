import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient } from '@niro/protocol';
import { SimulatedAgent, createAgentDispatcher, generateClusterInventory } from '@niro/testkit';
import type { Dispatcher } from 'undici';
import {
  SCREENSHOT_DIR,
  describeBrowser,
  hydrated,
  launchBrowser,
  openPage,
  saveScreenshot,
  signInAt,
} from './support/browser.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'admin@example.test';
const password = 'cluster page e2e passphrase 7';
const NODES = 3;
const PODS = 24;
const HEARTBEATS = 3;

describeBrowser('cluster page in Chromium (a real server process, a simulated agent)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];
  let dispatcher: Dispatcher;
  let agent: SimulatedAgent;
  let clusterId = '';

  beforeAll(async () => {
    server = await startServerProcess({ env: { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password } });
    dispatcher = createAgentDispatcher({ connections: 2 });
    const anonymous = new ApiClient({ baseUrl: server.url });
    const { token } = await anonymous.createToken(email, password, 'web-cluster-e2e');
    const api = new ApiClient({ baseUrl: server.url, token });
    const created = await api.createCluster({ name: 'edge-lab', environment: 'staging', labels: { region: 'eu' } });
    clusterId = created.cluster.id;
    await api.createCluster({ name: 'edge-other', environment: 'dev' });
    const inventory = generateClusterInventory({ nodes: NODES, pods: PODS, seed: 'edge-lab', clusterName: 'edge-lab' });
    agent = new SimulatedAgent({ url: server.url, dispatcher, inventory, seed: 'edge-lab', churn: false });
    await agent.enroll(created.enrollment.token);
    for (let i = 0; i < HEARTBEATS; i++) await agent.heartbeatOnce();

    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' }));
    await signInAt(page, server.url, '/', { email, password }, errors);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await dispatcher?.close();
    await browser?.close();
    await server?.stop();
  });

  it('opens the cluster from the fleet: header, summary and usage', async ({ annotate }) => {
    const row = page.locator('tr[data-cluster="edge-lab"]');
    await row.waitFor();
    await row.getByRole('link', { name: 'edge-lab' }).click();
    await page.waitForURL(`${server.url}/clusters/${clusterId}`);
    await expect.poll(() => page.getByTestId('cluster-name').textContent()).toBe('edge-lab');
    await expect.poll(() => page.getByTestId('cluster-status').getAttribute('data-status')).toBe('healthy');
    await expect.poll(() => page.getByTestId('cluster-heartbeat').textContent()).toMatch(/\d+ s ago|just now/);
    const header = page.getByTestId('cluster-header');
    expect(await header.textContent()).toContain('region=eu');
    expect(await header.textContent()).toContain('staging');
    await expect.poll(() => page.getByTestId('card-nodes-ready').textContent()).toContain(`${NODES}/${NODES}`);
    await expect.poll(() => page.getByTestId('card-open-incidents').textContent()).toMatch(/Open incidents\s*\d/);
    // The usage endpoint answers with points (charts or the no-metrics line) or, where it is missing, an error panel.
    await page
      .locator('[data-testid="usage-summary"], [data-testid="usage-none"], [data-testid="usage-error"]')
      .first()
      .waitFor();
    const usage = await page
      .locator('[data-testid="usage-summary"], [data-testid="usage-none"], [data-testid="usage-error"]')
      .first()
      .textContent();
    await annotate(`[web-cluster] usage section: ${usage ?? ''}`);
    expect(await page.getByTestId('capabilities').textContent()).toContain('NIRO_ENABLE_LOGS=1');

    await saveScreenshot(page, 'cluster-overview.png');
    expect(errors, 'the cluster overview').toEqual([]);
  });

  it("shows the agent's nodes and pods in their tabs, kept by reload and the back button", async ({ annotate }) => {
    await page.getByTestId('tab-nodes').click();
    await page.waitForURL(`${server.url}/clusters/${clusterId}/nodes`);
    await expect.poll(() => page.locator('[data-testid="nodes-table"] tbody tr').count()).toBe(NODES);
    expect(await page.getByTestId('tab-nodes').getAttribute('aria-current')).toBe('page');

    await page.reload();
    await hydrated(page, errors);
    await expect.poll(() => page.locator('[data-testid="nodes-table"] tbody tr').count()).toBe(NODES);

    await page.getByTestId('tab-pods').click();
    await page.waitForURL(`${server.url}/clusters/${clusterId}/pods`);
    const podRows = page.locator('[data-testid="pods-table"] tbody tr');
    await expect.poll(() => podRows.count()).toBe(PODS);
    await saveScreenshot(page, 'cluster-pods.png');
    await annotate(
      `[web-cluster] screenshots in ${path.relative(process.cwd(), SCREENSHOT_DIR)}: cluster-overview.png, cluster-pods.png`,
    );

    // A name filter narrows the list and lands in the address.
    const firstName = (await podRows.first().getAttribute('data-pod')) ?? '';
    await page.getByLabel('Pod name').fill(firstName);
    await page.waitForURL((u) => u.searchParams.get('q') === firstName);
    await expect.poll(() => podRows.count()).toBeGreaterThanOrEqual(1);
    expect(await podRows.first().getAttribute('data-pod')).toBe(firstName);

    // A pod's details, with a link to its logs.
    await page
      .getByRole('button', { name: new RegExp(`Details of pod .*/${firstName}$`) })
      .first()
      .click();
    const details = page.getByTestId('pod-details');
    await details.waitFor();
    const logs = await page.getByTestId('pod-logs-link').getAttribute('href');
    expect(logs).toContain(`/clusters/${clusterId}/logs?namespace=`);
    expect(logs).toContain(`pod=${encodeURIComponent(firstName)}`);
    await page.keyboard.press('Escape');
    await details.waitFor({ state: 'detached' });

    await page.goBack();
    await page.waitForURL(`${server.url}/clusters/${clusterId}/nodes`);
    await expect.poll(() => page.locator('[data-testid="nodes-table"] tbody tr').count()).toBe(NODES);
    expect(errors, 'the nodes and pods tabs').toEqual([]);
  });

  it('lists workloads, Warning events and commands; a ping from the page is listed', async ({ annotate }) => {
    await page.getByTestId('tab-workloads').click();
    await page.waitForURL(`${server.url}/clusters/${clusterId}/workloads`);
    await expect.poll(() => page.locator('[data-testid="workloads-table"] tbody tr').count()).toBeGreaterThan(0);

    await page.getByTestId('tab-events').click();
    const events = page.locator('[data-testid="events-table"] tbody tr');
    await page
      .locator('[data-testid="events-table"], [data-testid="cluster-tab-events"] >> text=No Warning events')
      .first()
      .waitFor();
    await annotate(`[web-cluster] Warning events listed: ${await events.count()}`);

    await page.getByTestId('tab-commands').click();
    await page.waitForURL(`${server.url}/clusters/${clusterId}/commands`);
    await page.getByRole('button', { name: 'Ping the agent' }).click();
    const rows = page.locator('[data-testid="commands-table"] tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('ping');
    expect(errors, 'the workloads, events and commands tabs').toEqual([]);
  });

  it('renames the cluster in settings and the header follows', async () => {
    await page.getByTestId('tab-settings').click();
    await page.waitForURL(`${server.url}/clusters/${clusterId}/settings`);
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('Bad Name');
    await expect.poll(() => page.getByRole('button', { name: 'Save changes' }).isDisabled()).toBe(true);
    await name.fill('edge-lab-renamed');
    await page.getByRole('button', { name: 'Add label' }).click();
    await page.getByLabel('Label 2 key').fill('tier');
    await page.getByLabel('Label 2 value').fill('edge');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByTestId('cluster-name').textContent()).toBe('edge-lab-renamed');
    await expect.poll(() => page.getByTestId('cluster-header').textContent()).toContain('tier=edge');

    // A new enrollment token shows the install command to copy.
    await page.getByRole('button', { name: 'New enrollment token' }).click();
    await expect.poll(() => page.getByTestId('install-command').textContent()).toContain('niro_et_');
    expect(errors, 'the settings tab').toEqual([]);
  });

  it('renders the overview and its charts in the dark theme without an error', async () => {
    const {
      context: dark,
      page: p,
      errors: darkErrors,
    } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'dark' });
    try {
      await signInAt(p, server.url, '/', { email, password }, darkErrors);
      await p.goto(`${server.url}/clusters/${clusterId}?range=24h`);
      await p.getByTestId('cluster-name').waitFor();
      expect(await p.locator('html').getAttribute('data-mantine-color-scheme')).toBe('dark');
      await p.locator('[data-testid="usage-summary"], [data-testid="usage-none"]').first().waitFor();
      expect(await p.getByRole('radio', { name: 'Last 24 hours' }).isChecked()).toBe(true);
      expect(darkErrors, 'the dark overview').toEqual([]);
    } finally {
      await dark.close();
    }
  });

  it('deletes the cluster after typing its name and lands on the fleet without it', async () => {
    await page.getByRole('button', { name: 'Delete cluster…' }).click();
    const confirm = page.getByRole('button', { name: 'Delete permanently' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel('Cluster name').fill('edge-lab');
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel('Cluster name').fill('edge-lab-renamed');
    await confirm.click();
    await page.waitForURL(`${server.url}/`);
    await page.locator('tr[data-cluster="edge-other"]').waitFor();
    expect(await page.locator('tr[data-cluster^="edge-lab"]').count()).toBe(0);

    // The page's GET of the deleted cluster is a 404, which Chromium logs as a failed resource; nothing else may fail.
    const seen = errors.length;
    const missing = page.waitForResponse(
      (r) => r.url().endsWith(`/api/v1/clusters/${clusterId}`) && r.status() === 404,
    );
    await page.goto(`${server.url}/clusters/${clusterId}`);
    await missing;
    await page.getByTestId('cluster-not-found').waitFor();

    expect(await page.getByTestId('cluster-not-found').textContent()).toContain('No such cluster');
    await page.getByRole('link', { name: 'Back to the fleet' }).click();
    await page.waitForURL(`${server.url}/`);
    expect(errors.slice(0, seen), 'delete').toEqual([]);
    expect(
      errors.slice(seen).filter((e) => !e.includes('status of 404')),
      'the missing cluster',
    ).toEqual([]);
  });
});
