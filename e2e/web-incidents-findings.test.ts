import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient } from '@niro/protocol';
import {
  SimulatedAgent,
  createAgentDispatcher,
  generateClusterInventory,
  type AgentCredentials,
  type ClusterInventory,
  withCrashLoopingPod,
  withoutFirstAppPod,
} from '@niro/testkit';
import type { Dispatcher } from 'undici';
import { describeBrowser, hydrated, launchBrowser, openPage, saveScreenshot, signInAt } from './support/browser.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'oncall@example.test';
const password = 'incidents e2e passphrase 42';
const CLUSTER = 'shop-berlin';

/** Waits (outside a test, where expect.poll cannot) until `check` holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeBrowser('incidents and findings pages in Chromium (a real server process, a simulated agent)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];
  let dispatcher: Dispatcher;
  let api: ApiClient;
  let clusterId = '';
  let healthyInventory: ClusterInventory | null = null;
  let agentCredentials: AgentCredentials | null = null;
  const agents: SimulatedAgent[] = [];

  beforeAll(async () => {
    server = await startServerProcess({ env: { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password } });
    dispatcher = createAgentDispatcher({ connections: 2 });
    const { token } = await new ApiClient({ baseUrl: server.url }).createToken(email, password, 'web-e2e');
    api = new ApiClient({ baseUrl: server.url, token });

    // A production cluster: first healthy, then one pod crash-loops. Its workloads (some without
    // memory limits) give runtime findings.
    const created = await api.createCluster({ name: CLUSTER, environment: 'production' });
    clusterId = created.cluster.id;
    const inventory = generateClusterInventory({ nodes: 2, pods: 30, seed: CLUSTER, clusterName: CLUSTER });
    const healthy = new SimulatedAgent({ url: server.url, dispatcher, inventory, seed: CLUSTER, churn: false });
    const credentials = await healthy.enroll(created.enrollment.token);
    healthyInventory = inventory;
    agentCredentials = credentials;
    await healthy.heartbeatOnce();
    await healthy.stop();
    const crashing = new SimulatedAgent({
      url: server.url,
      dispatcher,
      inventory: withCrashLoopingPod(inventory),
      seed: `${CLUSTER}-crash`,
      credentials,
      churn: false,
    });
    agents.push(crashing);
    await crashing.heartbeatOnce();
    await until('a firing high incident', async () => {
      return (await api.listIncidents({ state: 'firing', severity: 'high' })).items.length > 0;
    });
    await until('runtime findings', async () => (await api.findings({ cluster: clusterId })).items.length > 0);

    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' }));
    await signInAt(page, server.url, '/incidents', { email, password }, errors);
  }, 90_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await dispatcher?.close();
    await browser?.close();
    await server?.stop();
  });

  it('lists the firing incident, opens it with its evidence, and acknowledges it with a note', async ({ annotate }) => {
    const [incident] = (await api.listIncidents({ state: 'firing', severity: 'high' })).items;
    if (incident === undefined) throw new Error('no firing incident');
    const row = page.locator(`tr[data-incident="${incident.id}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('firing');
    await expect.poll(() => row.textContent()).toContain(CLUSTER);
    expect(await row.textContent()).toContain('high');
    expect(await row.textContent()).toContain(incident.title);

    await saveScreenshot(page, 'incidents.png');
    await annotate('[web] screenshot of the incidents page: docs/images/incidents.png');

    // The resolved view does not list it; back to open.
    await page.getByRole('radiogroup', { name: 'State' }).getByText('Resolved').click();
    await page.waitForURL('**/incidents?state=resolved');
    await page.getByTestId('incidents-empty').waitFor();
    await page.getByRole('radiogroup', { name: 'State' }).getByText('Open').click();
    await row.waitFor();

    await row.getByRole('link', { name: incident.title }).click();
    await page.waitForURL(`**/incidents/${incident.id}`);
    const detail = page.getByTestId('incident-detail');
    await detail.waitFor();
    await page.getByRole('heading', { name: incident.title }).waitFor();
    await expect.poll(() => page.getByTestId('incident-timeline').textContent()).toContain(incident.title);
    // The evidence names the crash-looping container's state.
    await expect.poll(() => page.getByTestId('incident-evidence').textContent()).toContain('CrashLoopBackOff');

    await page.getByRole('button', { name: 'Acknowledge' }).click();
    const dialog = page.getByRole('dialog', { name: 'Acknowledge the incident' });
    await dialog.getByLabel('Note (optional)').fill('Looking at the rollout');
    await dialog.getByRole('button', { name: 'Acknowledge' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect
      .poll(() => page.getByTestId('incident-acknowledged').textContent())
      .toContain(`acknowledged by ${email}`);
    expect(await detail.getAttribute('data-state')).toBe('acknowledged');
    await expect
      .poll(() => page.getByTestId('incident-timeline').textContent())
      .toContain(`Acknowledged by ${email}: Looking at the rollout`);
    expect((await api.getIncident(incident.id)).acknowledgedBy).toBe(email);
    // Only resolved incidents offer Delete.
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);

    await page.getByRole('link', { name: '← All incidents' }).click();
    const listed = page.locator(`tr[data-incident="${incident.id}"][data-state="acknowledged"]`);
    await listed.waitFor();
    expect(await listed.textContent()).toContain(email);
    expect(errors, 'the incidents pages').toEqual([]);
  });

  it("expands a finding to its rule's fix, suppresses it with a reason and finds it under Suppressed", async ({
    annotate,
  }) => {
    const rules = new Map((await api.policyRules()).items.map((r) => [r.id, r]));
    await page.getByRole('link', { name: 'Findings', exact: true }).click();
    await page.waitForURL('**/findings');
    const table = page.getByTestId('finding-table');
    await table.waitFor();

    const first = table.locator('tr[data-finding]').first();
    const findingId = await first.getAttribute('data-finding');
    const ruleId = await first.getAttribute('data-rule');
    const rule = rules.get(ruleId ?? '');
    if (findingId === null || rule === undefined) throw new Error(`no rule ${ruleId} for the first finding`);
    expect(await first.textContent()).toContain(rule.title);

    await first.getByRole('button', { name: /^Show details of/ }).click();
    const details = page.getByTestId('finding-details');
    await details.waitFor();
    // The catalogue's `code` spans are shown as inline code, without the backticks.
    const shown = (markdown: string): string => markdown.replaceAll('`', '');
    expect(await details.getByTestId('finding-fix').textContent()).toContain(shown(rule.fix));
    expect(await details.textContent()).toContain(shown(rule.description));
    await saveScreenshot(page, 'findings.png');
    await annotate('[web] screenshot of the findings page: docs/images/findings.png');

    await details.getByRole('button', { name: 'Suppress…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Suppress this finding' });
    // The reason is required.
    await dialog.getByRole('button', { name: 'Suppress' }).click();
    await dialog.getByText('Say why this finding is accepted').waitFor();
    await dialog.getByLabel('Reason').fill('Batch job: memory is bounded by the node pool');
    await dialog.getByRole('button', { name: 'Suppress' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator(`tr[data-finding="${findingId}"]`).waitFor({ state: 'detached' });

    await page.getByRole('radiogroup', { name: 'State' }).getByText('Suppressed').click();
    await page.waitForURL('**/findings?state=suppressed');
    const suppressed = page.locator(`tr[data-finding="${findingId}"]`);
    await suppressed.waitFor();
    await suppressed.getByRole('button', { name: /^Show details of/ }).click();
    const who = page.getByTestId('finding-suppression');
    await who.waitFor();
    // The suppressor by email (the API's createdByEmail), marked as the reader.
    expect(await who.getByTestId('finding-suppressed-by').textContent()).toBe(`${email} (you)`);
    expect(await who.textContent()).toContain('Batch job: memory is bounded by the node pool');
    const listed = await api.findings({ cluster: clusterId, state: 'suppressed' });
    expect(listed.items.map((f) => f.id)).toContain(findingId);

    // Removing the suppression lists it as open again.
    await who.getByRole('button', { name: 'Remove suppression' }).click();
    await suppressed.waitFor({ state: 'detached' });
    expect((await api.findings({ cluster: clusterId })).items.map((f) => f.id)).toContain(findingId);
    expect(errors, 'the findings page').toEqual([]);
  });

  it('filters findings by rule through the address, on the server', async ({ annotate }) => {
    const all = (await api.findings({ cluster: clusterId, severity: 'info', limit: 1000 })).items;
    const counts = new Map<string, number>();
    for (const f of all) counts.set(f.ruleId, (counts.get(f.ruleId) ?? 0) + 1);
    // The rule with the fewest open findings: most of the list is other rules'.
    const [ruleId, expected] = [...counts].sort((a, b) => a[1] - b[1])[0] ?? [];
    if (ruleId === undefined || expected === undefined || counts.size < 2) {
      throw new Error(`need findings of two rules, got ${[...counts.keys()].join(', ')}`);
    }
    const rule = (await api.policyRules()).items.find((r) => r.id === ruleId);
    const listed = page.waitForRequest((r) => {
      const url = new URL(r.url());
      return url.pathname === '/api/v1/findings' && url.searchParams.get('rule') === ruleId;
    });
    await page.goto(`${server.url}/findings?rule=${ruleId}&severity=info`);
    await hydrated(page);
    await listed;
    const rows = page.locator('[data-testid="finding-table"] tr[data-finding]');
    await expect.poll(() => rows.count()).toBe(expected);
    expect(new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-rule'))))).toEqual(
      new Set([ruleId]),
    );
    await expect.poll(() => page.getByRole('combobox', { name: 'Rule' }).inputValue()).toBe(ruleId);
    await annotate(`[web] rule ${ruleId} (${rule?.title ?? '?'}): ${expected} of ${all.length} open findings`);

    // Back to every rule from the choice: the address follows.
    await page.getByRole('combobox', { name: 'Rule' }).selectOption('');
    await page.waitForURL((url) => url.pathname === '/findings' && !url.searchParams.has('rule'));
    await expect.poll(() => rows.count()).toBe(Math.min(all.length, 100));
    expect(errors, 'the findings page filtered by rule').toEqual([]);
  });

  it('offers Delete once the incident resolved, and deletes it after confirmation', async () => {
    const [incident] = (await api.listIncidents({ state: 'acknowledged' })).items;
    if (incident === undefined || healthyInventory === null || agentCredentials === null) {
      throw new Error('no acknowledged incident from the first test');
    }
    await page.goto(`${server.url}/incidents/${incident.id}`);
    const detail = page.getByTestId('incident-detail');
    await detail.waitFor();

    // The pod is replaced: clean heartbeats resolve the incident; the open page shows it within a poll.
    const fixed = new SimulatedAgent({
      url: server.url,
      dispatcher,
      inventory: withoutFirstAppPod(healthyInventory),
      seed: `${CLUSTER}-recovered`,
      credentials: agentCredentials,
      churn: false,
    });
    agents.push(fixed);
    for (let n = 0; n < 3 && (await api.getIncident(incident.id)).state !== 'resolved'; n++) {
      await fixed.heartbeatOnce();
    }
    expect((await api.getIncident(incident.id)).state).toBe('resolved');
    await page.locator('[data-testid="incident-detail"][data-state="resolved"]').waitFor({ timeout: 15_000 });

    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the incident?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await api.getIncident(incident.id)).state).toBe('resolved');

    await page.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete incident' }).click();
    await page.waitForURL('**/incidents?state=resolved');
    await page.getByTestId('incidents-empty').waitFor();
    expect((await api.listIncidents({ cluster: clusterId })).items.map((i) => i.id)).not.toContain(incident.id);
    expect(errors, 'resolving and deleting').toEqual([]);
  });

  it('loads both pages in the dark theme without a console error or a page error', async () => {
    const {
      context,
      page: dark,
      errors: darkErrors,
    } = await openPage(browser, { viewport: { width: 768, height: 900 }, colorScheme: 'dark' });
    try {
      await signInAt(dark, server.url, '/findings', { email, password });
      await dark.getByTestId('finding-table').waitFor();
      await dark.getByRole('link', { name: 'Incidents', exact: true }).click();
      await dark.getByRole('radiogroup', { name: 'State' }).getByText('All').click();
      await dark.getByTestId('incident-table').or(dark.getByTestId('incidents-empty')).waitFor();
      expect(darkErrors, 'the findings and incidents pages, dark, 768 px').toEqual([]);
    } finally {
      await context.close();
    }
  });
});
