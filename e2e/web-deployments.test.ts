import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient, type CommandMessage, type CommandResultBody, type ObjectResult } from '@niro/protocol';
import { parseManifests } from '@niro/policy';
import {
  DEFAULT_CAPABILITIES,
  SimulatedCommandAgent,
  buildFullHeartbeat,
  generateClusterInventory,
  registrySkipReason,
  startRegistry,
  type Registry,
} from '@niro/testkit';
import {
  accessibilityViolations,
  describeBrowser,
  hydrated,
  launchBrowser,
  openPage,
  saveScreenshot,
  signInAt,
} from './support/browser.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'admin@example.test';
const password = 'deployments page e2e passphrase 3';
const registrySkip = registrySkipReason();
/** What the server learns from the agent reaches the page with its next poll (every 5 s while under way). */
const LIVE = { timeout: 15_000 };

/** What the real agent reports for an apply, delete or diff: one result per object of the manifests. */
function agentResult(command: CommandMessage): CommandResultBody {
  const payload = typeof command.payload === 'object' && command.payload !== null ? command.payload : {};
  const manifests = 'manifests' in payload && typeof payload.manifests === 'string' ? payload.manifests : '';
  const namespace = 'namespace' in payload && typeof payload.namespace === 'string' ? payload.namespace : 'default';
  if (command.kind === 'apply') {
    const objects: ObjectResult[] = parseManifests(manifests).objects.map((o) => ({
      kind: o.kind,
      namespace: o.metadata.namespace ?? namespace,
      name: o.metadata.name,
      action: 'configured',
      generation: 1,
    }));
    return { status: 'succeeded', result: { objects } };
  }
  if (command.kind === 'delete') {
    return {
      status: 'succeeded',
      result: { objects: [{ kind: 'Deployment', namespace, name: 'shop', action: 'deleted' }] },
    };
  }
  if (command.kind === 'diff') return { status: 'succeeded', result: { objects: [] } };
  return { status: 'succeeded', result: { pong: true } };
}

describeBrowser('deployments and registries in Chromium (a real server, a simulated agent that applies)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];
  let token = '';
  let agent: SimulatedCommandAgent;
  let clusterId = '';
  let deploymentUrl = '';

  beforeAll(async () => {
    server = await startServerProcess({
      env: {
        NIRO_ADMIN_EMAIL: email,
        NIRO_ADMIN_PASSWORD: password,
        NIRO_SECRET_KEY: randomBytes(32).toString('base64'),
      },
      logLevel: 'warn',
    });
    ({ token } = await new ApiClient({ baseUrl: server.url }).createToken(email, password, 'web-deploy-e2e'));
    const api = new ApiClient({ baseUrl: server.url, token });
    const created = await api.createCluster({ name: 'shop-prod', environment: 'production' });
    clusterId = created.cluster.id;
    const { agentKey } = await new ApiClient({ baseUrl: server.url }).enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'shop-prod-uid' },
    });
    const inventory = generateClusterInventory({ nodes: 1, pods: 4, seed: 'shop-prod', clusterName: 'shop-prod' });
    for (let seq = 1; seq <= 2; seq++) {
      const heartbeat = buildFullHeartbeat(inventory, {
        seq,
        now: Date.now(),
        capabilities: { ...DEFAULT_CAPABILITIES, apply: true },
      });
      const res = await fetch(`${server.url}/api/agent/v1/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(heartbeat),
      });
      expect(res.status, `heartbeat ${seq}`).toBe(200);
    }
    agent = new SimulatedCommandAgent({ url: server.url, agentKey, execute: agentResult });
    await agent.start();

    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' }));
    // A step that does not happen fails naming its locator, well within the test's time.
    page.setDefaultTimeout(10_000);
    await signInAt(page, server.url, '/deployments', { email, password }, errors);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await browser?.close();
    await server?.stop();
  });

  /** Live findings of a rule at medium severity (a missing CPU limit stays as info). */
  const findingRows = (rule: string) =>
    page.locator(`[data-testid="live-findings"] li[data-rule="${rule}"][data-severity="medium"]`);
  const preview = () => page.locator('[data-testid="yaml-preview"] .cm-content');

  it('creates a builder deployment with live findings and a YAML preview; it turns succeeded', async ({ annotate }) => {
    await page.getByTestId('deployments-empty').waitFor();
    await page.getByTestId('deployments-empty').getByRole('button', { name: 'New deployment' }).click();
    await page.waitForURL(`${server.url}/deployments/new`);
    await page.getByLabel('Cluster', { exact: true }).selectOption(clusterId);
    await expect.poll(() => page.getByTestId('apply-capability').textContent()).toBe('on');
    await page.getByLabel('Namespace', { exact: true }).fill('shop');
    await page.getByLabel('Deployment name', { exact: true }).fill('shop');

    // The preview follows the form.
    await expect.poll(() => preview().textContent()).toContain('image: nginx:1.27');
    await page.getByLabel('Image', { exact: true }).fill('nginx:1.27.3');
    await expect.poll(() => preview().textContent()).toContain('image: nginx:1.27.3');
    expect(await preview().textContent()).toContain('namespace: shop');

    // Without requests and limits, the policy says so (in the browser, for a production cluster); with them, not.
    await page.getByLabel('CPU request', { exact: true }).fill('');
    await page.getByLabel('Memory request', { exact: true }).fill('');
    await page.getByLabel('Memory limit', { exact: true }).fill('');
    await expect.poll(() => findingRows('missing-requests').count()).toBeGreaterThan(0);
    await expect.poll(() => findingRows('missing-limits').count()).toBeGreaterThan(0);
    await page.evaluate('window.scrollTo(0, 0)');
    await saveScreenshot(page, 'deployment-builder.png');
    // The builder with findings and a preview, too.
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.getByLabel('CPU request', { exact: true }).fill('100m');
    await page.getByLabel('Memory request', { exact: true }).fill('128Mi');
    await page.getByLabel('Memory limit', { exact: true }).fill('256Mi');
    await expect.poll(() => findingRows('missing-requests').count()).toBe(0);
    await expect.poll(() => findingRows('missing-limits').count()).toBe(0);
    await annotate(
      `[web-deployments] live findings after adding requests/limits: ${await page.locator('[data-testid="live-findings"] li').count()}`,
    );

    // A rule between fields is named next to its field and blocks the submit.
    await page.getByLabel('Memory limit', { exact: true }).fill('64Mi');
    await expect.poll(() => page.getByTestId('builder-issues').count()).toBe(1);
    expect(await page.getByTestId('submit-deployment').isDisabled()).toBe(true);
    await page.getByLabel('Memory limit', { exact: true }).fill('256Mi');

    await page.getByTestId('submit-deployment').click();
    await page.waitForURL((u) => /^\/deployments\/[^/]+$/.test(u.pathname) && u.pathname !== '/deployments/new');
    deploymentUrl = page.url();
    await expect.poll(() => page.getByTestId('deployment-status').getAttribute('data-state'), LIVE).toBe('succeeded');
    await expect.poll(() => page.locator('[data-testid="revisions-table"] tbody tr').count(), LIVE).toBe(1);
    expect(errors, 'creating a builder deployment').toEqual([]);
  });

  it('marks a YAML syntax error at its line, and the server refuses it: nothing is created', async () => {
    await page.goto(`${server.url}/deployments/new`);
    await hydrated(page, errors);
    await page.getByLabel('Cluster', { exact: true }).selectOption(clusterId);
    await page.getByLabel('Deployment name', { exact: true }).fill('broken');
    await page.getByRole('tab', { name: 'YAML' }).click();
    // Builder → YAML carries the generated manifests over.
    const editor = page.locator('[data-testid="yaml-editor"] .cm-content');
    await expect.poll(() => editor.textContent()).toContain('kind: Deployment');
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata: { key: [unclosed\n',
    );
    await page.locator('[data-testid="yaml-editor"] .cm-lint-marker-error').first().waitFor();
    await page.getByTestId('manifest-errors').waitFor();

    await page.getByTestId('submit-deployment').click();
    const error = page.getByTestId('editor-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/line|manifest/i);
    expect(page.url()).toBe(`${server.url}/deployments/new`);
    const listed = await fetch(`${server.url}/api/v1/deployments?q=broken`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await listed.json()) as { items: unknown[] }).items).toEqual([]);
    // The refusal is the only error: the browser logs the 400 response.
    expect(errors, 'the YAML tab').toEqual([
      'console: Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ]);
    errors.length = 0;
  });

  it('edits to revision 2, compares 1 and 2, rolls back to 1 as revision 3', async ({ annotate }) => {
    await page.goto(deploymentUrl);
    await hydrated(page, errors);
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.waitForURL(`${deploymentUrl}/edit`);
    await page.getByLabel('Image', { exact: true }).fill('nginx:1.28.0');
    await expect.poll(() => preview().textContent()).toContain('image: nginx:1.28.0');
    await page.getByTestId('submit-deployment').click();
    await page.waitForURL(deploymentUrl);
    await expect.poll(() => page.locator('[data-testid="revisions-table"] tbody tr').count(), LIVE).toBe(2);
    await expect.poll(() => page.getByTestId('deployment-status').getAttribute('data-state'), LIVE).toBe('succeeded');

    // The compare picker starts at 1 → 2: the image line changed.
    const diff = page.getByTestId('revision-diff');
    await diff.waitFor();
    expect(await diff.locator('[data-kind="del"]').allTextContents()).toContain('-          image: nginx:1.27.3');
    expect(await diff.locator('[data-kind="add"]').allTextContents()).toContain('+          image: nginx:1.28.0');

    await page.getByRole('button', { name: 'Rollback…' }).click();
    await page.getByLabel('Revision to apply again').selectOption('1');
    await page.getByRole('button', { name: 'Roll back to revision 1' }).click();
    await expect.poll(() => page.locator('[data-testid="revisions-table"] tbody tr').count(), LIVE).toBe(3);
    const newest = page.locator('[data-testid="revisions-table"] tbody tr[data-revision="3"]');
    expect(await newest.getByTestId('revision-note').textContent()).toContain('rollback of 1');
    await expect.poll(() => newest.getByTestId('revision-status').getAttribute('data-state'), LIVE).toBe('succeeded');

    // A revision's details: per-object results and its manifests.
    await page.getByRole('button', { name: 'Details of revision 3' }).click();
    await page.getByTestId('revision-objects').waitFor();
    await expect
      .poll(() => page.locator('[data-testid="revision-manifests"] .cm-content').textContent())
      .toContain('nginx:1.27.3');
    await page.keyboard.press('Escape');
    await page.getByTestId('revision-detail').waitFor({ state: 'detached' });
    await page.locator('.mantine-Drawer-overlay').waitFor({ state: 'detached' });
    await expect.poll(() => page.getByTestId('deployment-status').getAttribute('data-state'), LIVE).toBe('succeeded');
    // The page with revisions, a diff and a rollout has no WCAG A/AA violation axe-core can find.
    expect(await accessibilityViolations(page)).toEqual([]);

    // A second deployment, made through the API from YAML, for the list.
    const res = await fetch(`${server.url}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'api',
        clusterId,
        namespace: 'backend',
        source: {
          type: 'yaml',
          yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-settings\ndata:\n  LOG_LEVEL: info\n',
        },
      }),
    });
    expect(res.status).toBe(201);
    await page.goto(`${server.url}/deployments`);
    await page.locator('tr[data-deployment="shop"]').waitFor();
    await page.locator('tr[data-deployment="api"][data-status="succeeded"]').waitFor({ timeout: 15_000 });
    await saveScreenshot(page, 'deployments.png');
    await annotate('[web-deployments] screenshots: deployments.png, deployment-builder.png');
    expect(errors, 'edit, compare and rollback').toEqual([]);
  });

  it('deletes the deployment after its name is typed; it ends archived as deleted', async () => {
    await page.goto(deploymentUrl);
    await hydrated(page, errors);
    await page.getByRole('button', { name: 'Delete…' }).click();
    const confirm = page.getByRole('button', { name: 'Delete deployment and objects' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel('Deployment name').fill('shop');
    await confirm.click();
    await expect
      .poll(() => page.getByTestId('deployment-lifecycle').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('deleted');
    expect(await page.getByRole('button', { name: 'Apply again' }).isDisabled()).toBe(true);
    expect(errors, 'deleting').toEqual([]);
  });

  describe.skipIf(registrySkip !== null)(
    `registries${registrySkip === null ? '' : ` (skipped: ${registrySkip})`}`,
    () => {
      let registry: Registry;
      beforeAll(async () => {
        registry = await startRegistry({ auth: { kind: 'htpasswd', users: { deployer: 'right-password-1' } } });
      }, 30_000);
      afterAll(async () => {
        await registry?.stop();
      });

      it("shows the registry's refusal in the server's words, then adds it with the right password", async () => {
        await page.goto(`${server.url}/registries`);
        await hydrated(page, errors);
        await page.getByTestId('registries-empty').waitFor();
        await page.getByLabel('Name', { exact: true }).fill('local');
        await page.getByLabel('Server', { exact: true }).fill(registry.host);
        await page.getByLabel('Username', { exact: true }).fill('deployer');
        await page.getByLabel('Password or token', { exact: true }).fill('wrong-password');
        await page.getByRole('button', { name: 'Verify and add' }).click();
        const error = page.getByTestId('registry-error');
        await error.waitFor();
        expect(await error.textContent()).toContain('registry_auth_failed');

        await page.getByLabel('Password or token', { exact: true }).fill('right-password-1');
        await page.getByRole('button', { name: 'Verify and add' }).click();
        const row = page.locator('tr[data-registry="local"]');
        await row.waitFor();
        expect(await row.textContent()).toContain(registry.host);
        expect(await page.content()).not.toContain('right-password-1');
        expect(errors, 'the registries page: only the refusal').toEqual([
          'console: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)',
        ]);
        errors.length = 0;
      });
    },
  );
});
