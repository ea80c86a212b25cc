import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient } from '@niro/protocol';
import { SimulatedAgent, createAgentDispatcher, generateClusterInventory } from '@niro/testkit';
import type { Dispatcher } from 'undici';
import { describeBrowser, hydrated, launchBrowser, openPage, saveScreenshot, signInAt } from './support/browser.js';
import { startNotificationReceiver, type NotificationReceiver } from './support/notification-receiver.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'admin@example.test';
const password = 'settings e2e passphrase 42';

describeBrowser('dashboard: add a cluster and the settings pages in Chromium', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];
  let dispatcher: Dispatcher;
  let receiver: NotificationReceiver;
  const agents: SimulatedAgent[] = [];

  beforeAll(async () => {
    server = await startServerProcess({ env: { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password } });
    dispatcher = createAgentDispatcher({ connections: 2 });
    receiver = await startNotificationReceiver();
    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' }));
    // Copy buttons write to the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });

    await signInAt(page, server.url, '/', { email, password }, errors);
    await hydrated(page);
  }, 90_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await dispatcher?.close();
    await browser?.close();
    await receiver?.close();
    await server?.stop();
  });

  it('adds a cluster in the dialog, shows its install command and opens its page once the agent reports', async ({
    annotate,
  }) => {
    // A name already in use is refused under the name field, in the server's words.
    const anonymous = new ApiClient({ baseUrl: server.url });
    const { token } = await anonymous.createToken(email, password, 'settings-e2e');
    await new ApiClient({ baseUrl: server.url, token }).createCluster({ name: 'taken' });

    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await page.getByRole('button', { name: 'Add cluster' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a cluster' });
    const name = dialog.getByRole('textbox', { name: 'Name' });
    await name.fill('Bad Name');
    await dialog.getByRole('button', { name: 'Create cluster' }).click();
    await dialog.getByText('Lower-case letters, digits and dashes; starts and ends').waitFor();
    await name.fill('taken');
    await dialog.getByRole('button', { name: 'Create cluster' }).click();
    await dialog.getByText('A cluster named "taken" already exists').waitFor();
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    // The browser logs the refused request itself; that one is expected, nothing else is.
    expect(errors).toEqual(['console: Failed to load resource: the server responded with a status of 409 (Conflict)']);
    errors.length = 0;

    await name.fill('edge-vienna');
    await dialog.getByLabel('Environment').selectOption('staging');
    await dialog.getByRole('button', { name: 'Add a label' }).click();
    await dialog.getByLabel('Labels: key 1').fill('region');
    await dialog.getByLabel('Labels: value 1').fill('eu');
    await dialog.getByRole('button', { name: 'Create cluster' }).click();

    const command = dialog.getByTestId('install-command');
    await command.waitFor();
    const text = (await command.textContent()) ?? '';
    expect(text).toMatch(/^curl -fsSL http\S+\/install\.sh \| NIRO_TOKEN=\S+ sh$/);
    const enrollmentToken = /NIRO_TOKEN=(\S+)/.exec(text)?.[1];
    if (enrollmentToken === undefined) throw new Error(`no token in the install command: ${text}`);
    await expect.poll(() => dialog.getByTestId('token-expiry').textContent()).toMatch(/expires .*\(in \d+ h\)/);
    await dialog.getByText('Waiting for the agent…').waitFor();
    await dialog.getByRole('button', { name: 'Copy install command' }).click();
    await dialog.getByRole('button', { name: 'install command copied' }).waitFor();
    // A string: the e2e project has no DOM types.
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(text);

    await saveScreenshot(page, 'add-cluster.png');
    await annotate(`[web] screenshot: docs/images/add-cluster.png`);

    const agent = new SimulatedAgent({
      url: server.url,
      dispatcher,
      inventory: generateClusterInventory({ nodes: 2, pods: 12, seed: 'edge-vienna', clusterName: 'edge-vienna' }),
      seed: 'edge-vienna',
      churn: false,
    });
    agents.push(agent);
    const enrolledAt = Date.now();
    const { clusterId } = await agent.enroll(enrollmentToken);
    await agent.heartbeatOnce();
    await page.waitForURL(`${server.url}/clusters/${clusterId}`, { timeout: 15_000 });
    await annotate(
      `[web] from the first heartbeat to the cluster's page: ${Date.now() - enrolledAt} ms (polls every 2 s)`,
    );
    expect(errors).toEqual([]);
  });

  it('creates an API token in settings that works with the API client, shown once', async () => {
    // Opened from the address bar: the server renders the page, the browser hydrates and loads it.
    await page.goto(`${server.url}/settings`);
    await hydrated(page);
    await page.getByRole('heading', { name: 'Members of' }).waitFor();
    await page.getByRole('table', { name: 'Members' }).getByText(email).waitFor();

    const nav = page.getByRole('navigation', { name: 'Settings sections' });
    await nav.getByRole('link', { name: 'API tokens' }).click();
    await page.waitForURL(`${server.url}/settings/tokens`);
    expect(await nav.getByRole('link', { name: 'API tokens' }).getAttribute('aria-current')).toBe('page');
    await page.getByLabel('Token name').fill('ci-deploy');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByTestId('token-secret');
    await secret.waitFor();
    await page.getByText('it is not shown again').waitFor();
    const token = ((await secret.textContent()) ?? '').trim();
    expect(token).toMatch(/^niro_pat_/);

    const me = await new ApiClient({ baseUrl: server.url, token }).me();
    expect(me.email).toBe(email);
    await page.locator('tr[data-token="ci-deploy"]').waitFor();
    expect(errors).toEqual([]);
  });

  it('adds a webhook channel and a test notification is delivered to the receiver', async () => {
    await page
      .getByRole('navigation', { name: 'Settings sections' })
      .getByRole('link', { name: 'Notification channels' })
      .click();
    await page.getByText('No notification channels').waitFor();
    await page.getByRole('button', { name: 'Add channel' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a notification channel' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('On-call hook');
    await dialog.getByRole('textbox', { name: 'URL' }).fill(`${receiver.origin}/niro`);
    await dialog.getByLabel('Minimum severity').selectOption('low');
    await dialog.getByRole('checkbox', { name: 'production' }).check();
    await dialog.getByRole('button', { name: 'Create channel' }).click();
    await page.getByTestId('signing-secret').waitFor();
    expect(await page.getByTestId('signing-secret').textContent()).toMatch(/^whsec_/);

    const row = page.locator('tr[data-channel="On-call hook"]');
    await row.waitFor();
    expect(await row.textContent()).toContain(receiver.origin);
    await page.getByRole('button', { name: 'Send a test to On-call hook' }).click();
    const result = page.getByTestId('test-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('Delivered');
    expect(receiver.requests.some((r) => r.path === '/niro' && r.headers['webhook-signature'] !== undefined)).toBe(
      true,
    );
    // The secret field of an existing channel is write-only: "set", with a way to replace it.
    await page.getByRole('button', { name: 'Edit On-call hook' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit "On-call hook"' });
    await edit.getByText(`URL: set (${receiver.origin})`).waitFor();
    await edit.getByRole('button', { name: 'Cancel' }).click();

    await saveScreenshot(page, 'settings.png');
    expect(errors).toEqual([]);
  });

  it('lists the token creation in the audit log, and filters by action', async () => {
    await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'Audit log' }).click();
    await page.locator('tr[data-action="token.create"]').first().waitFor();
    await page.getByLabel('Action').fill('token.create');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(
        async () =>
          new Set(await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')))),
      )
      .toEqual(new Set(['token.create']));
    expect(errors).toEqual([]);
  });
  it('invites a viewer by link, who then sees the settings read-only', async () => {
    await page.goto(`${server.url}/settings/invitations`);
    await hydrated(page);
    await page.getByRole('textbox', { name: 'Email' }).fill('viewer@example.test');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Create invitation link' }).click();
    const created = page.getByTestId('invitation-created');
    await created.waitFor();
    expect(await created.textContent()).toMatch(/Send this link to viewer@example\.test; it expires .*\(in 7 days\)/);
    const url = ((await page.getByTestId('invitation-url').textContent()) ?? '').trim();
    const inviteToken = url.split('/invite/')[1];
    if (inviteToken === undefined) throw new Error(`not an invitation link: ${url}`);
    await page.locator('tr[data-invitation="viewer@example.test"]').waitFor();

    const viewerPassword = 'viewer passphrase 1234';
    const accepted = await fetch(`${server.url}/api/v1/invitations/${encodeURIComponent(inviteToken)}/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: viewerPassword }),
    });
    expect(accepted.status).toBe(200);

    const {
      context,
      page: viewer,
      errors: viewerErrors,
    } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'dark' });
    try {
      await signInAt(viewer, server.url, '/settings/members', {
        email: 'viewer@example.test',
        password: viewerPassword,
      });
      await viewer.getByText('You are viewer here').waitFor();
      await viewer.getByRole('table', { name: 'Members' }).getByText(email).waitFor();
      expect(await viewer.getByRole('button', { name: 'Add member' }).count()).toBe(0);
      expect(await viewer.getByRole('combobox', { name: `Role of ${email}` }).count()).toBe(0);

      await viewer.getByRole('link', { name: 'Notification channels' }).click();
      await viewer.locator('tr[data-channel="On-call hook"]').waitFor();
      expect(await viewer.getByRole('button', { name: 'Add channel' }).count()).toBe(0);
      expect(await viewer.getByRole('button', { name: 'Send a test to On-call hook' }).count()).toBe(0);
      expect(viewerErrors).toEqual([]);
    } finally {
      await context.close();
    }
    expect(errors).toEqual([]);
  });
});
