import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient } from '@niro/protocol';
import { DEPLOYMENT_ID_LABEL } from '@niro/protocol/agent-install';
import { registrySkipReason, startRegistry, type Registry } from '@niro/testkit';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { startAgentProcess, type AgentProcess } from './support/agent-process.js';
import { describeBrowser, hydrated, launchBrowser, openPage, saveScreenshot, signInAt } from './support/browser.js';
import { eventually, runInstallScript } from './support/install-script.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

/**
 * Issue 8's acceptance in Chromium: the same flows as e2e/deployments.kube.test.ts, driven through
 * the dashboard against the real agent, API server and registry. A registry credential is added
 * on the registries page; the builder deploys a private image and its pods run; an edit to a
 * broken image stalls the rollout (the pods' ImagePullBackOff shows) and opens deployment_failed;
 * Rollback restores revision 1 and resolves it; a kubectl scale shows as drift after "Check
 * drift"; Delete, after typing the name, removes every object.
 */
const email = 'admin@example.test';
const password = 'deployments kube browser passphrase';
const USER = 'deployer';
const REGISTRY_PASSWORD = 'browser registry passphrase';
const registrySkip = registrySkipReason();
/** The page polls every 5 s while something is under way; the cluster takes its time too. */
const LIVE = { timeout: 90_000, intervals: [500] };

describeWithKube('deployments in Chromium on a real Kubernetes API server', (kube) => {
  describeBrowser('the dashboard drives a deployment end to end', () => {
    let server: ServerProcess;
    let agent: AgentProcess | undefined;
    let registry: Registry | undefined;
    let browser: Browser;
    let page: Page;
    let errors: string[] = [];
    let token = '';
    let clusterId = '';

    async function firing(type: string): Promise<{ title: string }[]> {
      const res = await fetch(`${server.url}/api/v1/incidents?cluster=${clusterId}&type=${type}&state=firing`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return ((await res.json()) as { items: { title: string }[] }).items;
    }
    const state = (testId: string) => page.getByTestId(testId).getAttribute('data-state');

    beforeAll(async () => {
      if (registrySkip !== null) return;
      registry = await startRegistry({ auth: { kind: 'htpasswd', users: { [USER]: REGISTRY_PASSWORD } } });
      await registry.pushImage('shop/web', '1.0.0');
      server = await startServerProcess({
        env: {
          NIRO_ADMIN_EMAIL: email,
          NIRO_ADMIN_PASSWORD: password,
          NIRO_SECRET_KEY: randomBytes(32).toString('base64'),
          NIRO_HEARTBEAT_INTERVAL: '1s',
          NIRO_DRIFT_INTERVAL: 'off',
        },
        logLevel: 'warn',
      });
      ({ token } = await new ApiClient({ baseUrl: server.url }).createToken(email, password, 'web-kube-e2e'));
      const api = new ApiClient({ baseUrl: server.url, token });
      const created = await api.createCluster({ name: 'edge-faro', environment: 'production' });
      clusterId = created.cluster.id;
      const installed = await runInstallScript(kube(), server.url, {
        NIRO_TOKEN: created.enrollment.token,
        NIRO_ENABLE_APPLY: '1',
      });
      expect(installed.code, installed.output).toBe(0);
      agent = startAgentProcess({
        NIRO_URL: server.url,
        NIRO_TOKEN: created.enrollment.token,
        KUBECONFIG: await kube().serviceAccountKubeconfig('niro-system', 'niro-agent'),
      });
      await eventually(
        'the agent reports the apply capability',
        () => api.getCluster(clusterId),
        (c) => expect(c.capabilities?.apply).toBe(true),
      );
      await kube().kubectl(['create', 'namespace', 'shop']);
      browser = await launchBrowser();
      ({ page, errors } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' }));
      page.setDefaultTimeout(15_000);
      await signInAt(page, server.url, '/registries', { email, password }, errors);
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await agent?.stop();
      await server?.stop();
      await registry?.stop();
    });

    it.skipIf(registrySkip !== null)(
      `deploys a private image from the builder, stalls on a broken one, rolls back, shows drift and deletes${registrySkip === null ? '' : ` (skipped: ${registrySkip})`}`,
      async ({ annotate }) => {
        if (registry === undefined) throw new Error('no registry');
        // The registry credential, verified by the server before it is kept.
        await page.getByLabel('Name', { exact: true }).fill('local');
        await page.getByLabel('Server', { exact: true }).fill(registry.host);
        await page.getByLabel('Username', { exact: true }).fill(USER);
        await page.getByLabel('Password or token', { exact: true }).fill(REGISTRY_PASSWORD);
        await page.getByRole('button', { name: 'Verify and add' }).click();
        await page.locator('tr[data-registry="local"]').waitFor();
        const registries = (await (
          await fetch(`${server.url}/api/v1/registries`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { items: { id: string }[] };
        const registryId = registries.items[0]?.id ?? '';

        // The builder: a private image with its credential, two replicas, a short progress deadline.
        await page.goto(`${server.url}/deployments/new`);
        await hydrated(page, errors);
        await page.getByLabel('Cluster', { exact: true }).selectOption(clusterId);
        await page.getByLabel('Namespace', { exact: true }).fill('shop');
        await page.getByLabel('Deployment name', { exact: true }).fill('web');
        await page.getByLabel('App name', { exact: true }).fill('web');
        const image = `${registry.host}/shop/web:1.0.0`;
        await page.getByLabel('Image', { exact: true }).fill(image);
        await page.getByLabel('Registry credential', { exact: true }).selectOption(registryId);
        await page.getByLabel('Replicas', { exact: true }).fill('2');
        await page.getByLabel('Progress deadline (seconds)', { exact: true }).fill('15');
        await expect
          .poll(() => page.locator('[data-testid="yaml-preview"] .cm-content').textContent())
          .toContain('imagePullSecrets');
        await page.getByTestId('submit-deployment').click();
        await page.waitForURL((u) => /^\/deployments\/[^/]+$/.test(u.pathname) && u.pathname !== '/deployments/new');
        const deploymentUrl = page.url();
        const deploymentId = new URL(deploymentUrl).pathname.split('/').pop() ?? '';
        await expect.poll(() => state('rollout-state'), LIVE).toBe('ready');
        expect(await state('deployment-status')).toBe('succeeded');
        expect(await page.getByTestId('rollout-ready').textContent()).toContain('2/2 ready');
        const phases = await kube().kubectl(['-n', 'shop', 'get', 'pods', '-o', 'jsonpath={.items[*].status.phase}']);
        expect(phases.stdout.trim().split(' ')).toEqual(['Running', 'Running']);

        // Edit to an image the registry does not have: the rollout stalls and says why.
        await page.getByRole('button', { name: 'Edit' }).click();
        await page.waitForURL(`${deploymentUrl}/edit`);
        await page.getByLabel('Image', { exact: true }).fill(`${registry.host}/shop/web:9.9.9-missing`);
        await page.getByTestId('submit-deployment').click();
        await page.waitForURL(deploymentUrl);
        await expect.poll(() => state('rollout-state'), LIVE).toBe('stalled');
        const reasons = await page.getByTestId('pod-reason').allTextContents();
        expect(
          reasons.some((r) => r === 'ImagePullBackOff' || r === 'ErrImagePull'),
          reasons.join(),
        ).toBe(true);
        await eventually(
          'deployment_failed opens',
          () => firing('deployment_failed'),
          (items) => expect(items).toHaveLength(1),
        );
        await page.evaluate('window.scrollTo(0, 0)');
        await saveScreenshot(page, 'deployment-stalled.png');

        // Roll back to revision 1: revision 3 runs the old image and the incident resolves.
        await page.getByRole('button', { name: 'Rollback…' }).click();
        await page.getByLabel('Revision to apply again').selectOption('1');
        await page.getByRole('button', { name: 'Roll back to revision 1' }).click();
        await expect.poll(() => page.locator('[data-testid="revisions-table"] tbody tr').count(), LIVE).toBe(3);
        await expect.poll(() => state('rollout-state'), LIVE).toBe('ready');
        await eventually(
          'deployment_failed resolves',
          () => firing('deployment_failed'),
          (items) => expect(items).toEqual([]),
        );
        const running = await kube().kubectl([
          '-n',
          'shop',
          'get',
          'deployment',
          'web',
          '-o',
          'jsonpath={.spec.template.spec.containers[0].image}',
        ]);
        expect(running.stdout).toBe(image);
        await page.evaluate('window.scrollTo(0, 0)');
        await saveScreenshot(page, 'deployment.png');

        // A hand edit, then "Check drift".
        await kube().kubectl(['-n', 'shop', 'scale', 'deployment/web', '--replicas=4']);
        await page.getByRole('button', { name: 'Check drift' }).click();
        await expect.poll(() => state('drift-state'), LIVE).toBe('drifted');
        expect(await page.getByTestId('drift-objects').textContent()).toContain('spec.replicas');

        // Delete after typing the name: every object it applied is gone.
        await page.getByRole('button', { name: 'Delete…' }).click();
        await page.getByLabel('Deployment name').fill('web');
        await page.getByRole('button', { name: 'Delete deployment and objects' }).click();
        await expect.poll(() => state('deployment-lifecycle'), LIVE).toBe('deleted');
        const left = await kube().kubectl([
          '-n',
          'shop',
          'get',
          'deployments,services,secrets',
          '-l',
          `${DEPLOYMENT_ID_LABEL}=${deploymentId}`,
          '-o',
          'name',
        ]);
        expect(left.stdout.trim()).toBe('');
        await annotate('[web-deployments-kube] screenshots: deployment.png, deployment-stalled.png');
        expect(errors, 'the whole flow in the browser').toEqual([]);
      },
      300_000,
    );
  });
});
