import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ApiClient, type Capabilities } from '@niro/protocol';
import {
  DEFAULT_CAPABILITIES,
  buildFullHeartbeat,
  generateClusterInventory,
  generateUsage,
  type ClusterInventory,
} from '@niro/testkit';
import { FakeAgent } from '../apps/server/src/modules/logs/test-support/fake-agent.js';
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
const password = 'logs and pods e2e passphrase 9';
const BILLING_IMAGE = 'registry.example.test/acme/billing:2.4.1';
const SHIPPER_IMAGE = 'registry.example.test/acme/log-shipper:1.0.3';
const Mi = 1024 * 1024;

/** The first pod outside kube-system: an application pod. */
function appPod(inv: ClusterInventory): { namespace: string; name: string; index: number } {
  const index = inv.pods.findIndex((p) => p.namespace !== 'kube-system');
  const pod = inv.pods[index];
  if (pod === undefined) throw new Error('the inventory has no application pod');
  return { namespace: pod.namespace, name: pod.name, index };
}

/** The inventory with one application pod running BILLING_IMAGE: an image no other cluster runs. */
function withBillingPod(inv: ClusterInventory): ClusterInventory {
  const { index } = appPod(inv);
  return {
    ...inv,
    pods: inv.pods.map((p, i) =>
      i !== index
        ? p
        : { ...p, containers: p.containers.map((c, n) => (n === 0 ? { ...c, image: BILLING_IMAGE } : c)) },
    ),
  };
}

/** The last running application pod: the one given a sidecar and an init container. */
function sidecarPod(inv: ClusterInventory): { namespace: string; name: string; index: number } {
  const index = inv.pods.findLastIndex((p) => p.namespace !== 'kube-system' && p.phase === 'Running');
  const pod = inv.pods[index];
  if (pod === undefined || index <= 1) throw new Error('the inventory has no third running application pod');
  return { namespace: pod.namespace, name: pod.name, index };
}

/**
 * The inventory with sidecarPod running `shop` (a CPU request, a memory limit), a privileged
 * `log-shipper` sidecar on SHIPPER_IMAGE (requests and limits), and a completed `migrate` init container.
 */
function withSidecarPod(inv: ClusterInventory): ClusterInventory {
  const { index } = sidecarPod(inv);
  const running = {
    ready: true,
    restarts: 0,
    state: 'running' as const,
    probes: { liveness: true, readiness: true, startup: false },
    privileged: false,
  };
  return {
    ...inv,
    pods: inv.pods.map((p, i) =>
      i !== index
        ? p
        : {
            ...p,
            containers: [
              {
                ...running,
                name: 'shop',
                image: 'registry.example.test/acme/shop:3.2.0',
                requests: { cpuMilli: 250, memoryBytes: 256 * Mi },
                limits: { memoryBytes: 512 * Mi },
              },
              {
                ...running,
                name: 'log-shipper',
                image: SHIPPER_IMAGE,
                restarts: 2,
                lastTerminationReason: 'OOMKilled',
                requests: { cpuMilli: 50, memoryBytes: 64 * Mi },
                limits: { cpuMilli: 200, memoryBytes: 128 * Mi },
                probes: { liveness: false, readiness: false, startup: false },
                privileged: true,
              },
            ],
            initContainers: [
              {
                ...running,
                name: 'migrate',
                image: 'registry.example.test/acme/shop:3.2.0',
                ready: false,
                state: 'terminated' as const,
                reason: 'Completed',
                requests: {},
                limits: {},
                probes: { liveness: false, readiness: false, startup: false },
              },
            ],
          },
    ),
  };
}

describeBrowser('live logs, fleet pods and images in Chromium (a real server process, fake agents)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];
  let agent: FakeAgent;
  const berlin = {
    id: '',
    inventory: withSidecarPod(
      generateClusterInventory({ nodes: 2, pods: 16, seed: 'shop-berlin', clusterName: 'shop-berlin' }),
    ),
  };
  const oslo = {
    id: '',
    inventory: withBillingPod(
      generateClusterInventory({ nodes: 1, pods: 10, seed: 'edge-oslo', clusterName: 'edge-oslo' }),
    ),
  };

  /** Enrolls a cluster and sends two full heartbeats (with usage) reporting `capabilities`. */
  async function addCluster(
    api: ApiClient,
    name: string,
    inventory: ClusterInventory,
    capabilities: Capabilities,
  ): Promise<{ id: string; agentKey: string }> {
    const created = await api.createCluster({ name, environment: 'production' });
    const { clusterId, agentKey } = await new ApiClient({ baseUrl: server.url }).enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `${name}-uid` },
    });
    for (let seq = 1; seq <= 2; seq++) {
      const heartbeat = buildFullHeartbeat(inventory, {
        seq,
        now: Date.now(),
        capabilities,
        usage: generateUsage(inventory),
      });
      const res = await fetch(`${server.url}/api/agent/v1/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(heartbeat),
      });
      expect(res.status, `heartbeat ${seq} of ${name}`).toBe(200);
    }
    return { id: clusterId, agentKey };
  }

  beforeAll(async () => {
    server = await startServerProcess({
      env: { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password },
      logLevel: 'warn',
    });
    const { token } = await new ApiClient({ baseUrl: server.url }).createToken(email, password, 'web-logs-e2e');
    const api = new ApiClient({ baseUrl: server.url, token });
    const b = await addCluster(api, 'shop-berlin', berlin.inventory, { ...DEFAULT_CAPABILITIES, logs: true });
    berlin.id = b.id;
    oslo.id = (await addCluster(api, 'edge-oslo', oslo.inventory, DEFAULT_CAPABILITIES)).id;
    agent = await FakeAgent.connect(server.url, b.agentKey);

    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' }));
    await signInAt(page, server.url, '/', { email, password });
  }, 90_000);

  afterAll(async () => {
    agent?.close();
    await browser?.close();
    await server?.stop();
  });

  it('tails a pod’s log from the agent: lines, follow, pause and resume, search, and stops the stream on leaving', async ({
    annotate,
  }) => {
    const pod = appPod(berlin.inventory);
    const opened = performance.now();
    await page.goto(`${server.url}/clusters/${berlin.id}/logs?namespace=${pod.namespace}&pod=${pod.name}`);
    await hydrated(page);

    const cmd = await agent.command('logs');
    expect(cmd.payload).toMatchObject({ namespace: pod.namespace, pod: pod.name, follow: true, tailLines: 500 });
    agent.result(cmd.id, { status: 'succeeded', result: {} });
    const streamId = String(cmd.payload.streamId);
    const state = page.getByTestId('log-stream-state');
    await expect.poll(() => state.getAttribute('data-phase')).toBe('streaming');

    const lines = page.getByTestId('log-line');
    let seq = 0;
    const send = async (batch: string[]): Promise<void> => {
      agent.log(streamId, seq, batch);
      expect(await agent.ack(streamId)).toMatchObject({ seq });
      seq++;
    };
    await send(
      Array.from(
        { length: 30 },
        (_, i) => `2026-03-01T12:00:${String(i).padStart(2, '0')}Z GET /healthz 200 request=${i}`,
      ),
    );
    await expect.poll(() => lines.last().textContent()).toContain('request=29');
    await annotate(
      `[web-logs] first lines on screen ${Math.round(performance.now() - opened)} ms after opening the tab`,
    );

    // Follow: a new line appears at the end, scrolled into view.
    await send(['2026-03-01T12:01:00Z order created id=42']);
    await expect.poll(() => lines.last().textContent()).toContain('order created id=42');
    expect(await lines.last().isVisible()).toBe(true);

    // Pause: the buffer keeps filling, the view does not move; resume shows what came.
    await page.getByRole('button', { name: 'Pause' }).click();
    await send(['2026-03-01T12:01:01Z payment captured id=42', '2026-03-01T12:01:02Z payment settled']);
    await expect.poll(() => page.getByTestId('log-new-lines').textContent()).toBe('2 new lines');
    expect(await page.getByTestId('log-lines').textContent()).not.toContain('payment captured');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => lines.last().textContent()).toContain('payment settled');
    expect(await page.getByTestId('log-new-lines').count()).toBe(0);

    // Search: every match is marked, with a count and next/previous.
    await page.getByLabel('Search in log').fill('id=42');
    await expect.poll(() => page.getByTestId('log-match').count()).toBe(2);
    expect(await page.getByTestId('log-search-count').textContent()).toBe('1 of 2');
    await page.getByLabel('Search in log').press('Enter');
    await expect.poll(() => page.getByTestId('log-search-count').textContent()).toBe('2 of 2');
    expect(await page.locator('[data-current-match="true"]').textContent()).toContain('payment captured');

    await saveScreenshot(page, 'logs.png');

    // Another pod from the picker: the old stream is stopped, the new one fails in the agent's words.
    await page.getByLabel('Search in log').fill('');
    const other = berlin.inventory.pods.find((p) => p.namespace !== 'kube-system' && p.name !== pod.name);
    if (other === undefined) throw new Error('no second application pod');
    const picker = page.getByRole('combobox', { name: 'Pod', exact: true });
    await picker.click();
    await picker.fill(other.name);
    await page.getByRole('option', { name: `${other.namespace}/${other.name}` }).click();
    expect((await agent.command('logs-stop')).payload).toEqual({ streamId });
    const second = await agent.command('logs');
    expect(second.payload).toMatchObject({ namespace: other.namespace, pod: other.name });
    agent.result(second.id, {
      status: 'failed',
      error: { code: 'pod_not_found', message: `pods "${other.name}" not found` },
    });
    await expect.poll(() => state.getAttribute('data-phase')).toBe('error');
    expect(await state.textContent()).toContain(`pods "${other.name}" not found`);
    expect(page.url()).toContain(`pod=${other.name}`);

    // Try again, then leave the page while it streams: the stream is closed and the agent told to stop.
    await page.getByRole('button', { name: 'Try again' }).click();
    const third = await agent.command('logs');
    agent.result(third.id, { status: 'succeeded', result: {} });
    await expect.poll(() => state.getAttribute('data-phase')).toBe('streaming');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pods' }).click();
    await page.waitForURL(`${server.url}/pods`);
    expect((await agent.command('logs-stop')).payload).toEqual({ streamId: String(third.payload.streamId) });
    expect(errors, 'the logs tab').toEqual([]);
  });

  it('explains how to turn logs on for a cluster without the logs capability', async () => {
    await page.goto(`${server.url}/clusters/${oslo.id}/logs`);
    await hydrated(page);
    const disabled = page.getByTestId('logs-disabled');
    await disabled.waitFor();
    expect(await disabled.textContent()).toContain('NIRO_ENABLE_LOGS=1');
    expect(await disabled.textContent()).toContain('pods/log');
    expect(errors, 'the logs tab without the capability').toEqual([]);
  });

  it('lists the pods of both clusters, filters by cluster in the address, and opens a pod’s details', async ({
    annotate,
  }) => {
    const total = berlin.inventory.pods.length + oslo.inventory.pods.length;
    await page.goto(`${server.url}/pods`);
    await hydrated(page);
    await expect.poll(() => page.getByTestId('pods-count').textContent()).toBe(`${total} pods`);
    const clusters = await page
      .getByTestId('pod-row')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-cluster')));
    expect(new Set(clusters)).toEqual(new Set(['shop-berlin', 'edge-oslo']));
    await saveScreenshot(page, 'pods.png');
    await annotate(`[web-pods] screenshots in ${path.relative(process.cwd(), SCREENSHOT_DIR)}: logs.png, pods.png`);

    await page.getByRole('combobox', { name: 'Cluster', exact: true }).click();
    await page.getByRole('option', { name: 'edge-oslo' }).click();
    await page.waitForURL(`${server.url}/pods?cluster=${oslo.id}`);
    await expect.poll(() => page.getByTestId('pods-count').textContent()).toBe(`${oslo.inventory.pods.length} pods`);
    const filtered = await page
      .getByTestId('pod-row')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-cluster')));
    expect(new Set(filtered)).toEqual(new Set(['edge-oslo']));

    // The address alone reproduces the view.
    await page.reload();
    await hydrated(page);
    await expect.poll(() => page.getByTestId('pods-count').textContent()).toBe(`${oslo.inventory.pods.length} pods`);

    const pod = appPod(oslo.inventory);
    await page.getByRole('button', { name: `Details of ${pod.namespace}/${pod.name}` }).click();
    const details = page.getByTestId('pod-details');
    await details.waitFor();
    await expect.poll(() => details.getByTestId('pod-containers').textContent()).toContain(BILLING_IMAGE);
    const logs = page.getByTestId('pod-logs-link');
    expect(await logs.getAttribute('href')).toBe(
      `/clusters/${oslo.id}/logs?namespace=${pod.namespace}&pod=${encodeURIComponent(pod.name)}`,
    );
    const usage = page.locator(
      '[data-testid="pod-details"] [data-testid="usage-summary"], [data-testid="pod-usage-empty"], [data-testid="page-error"]',
    );
    await usage.first().waitFor();
    await annotate(`[web-pods] pod usage panel: ${(await usage.first().textContent()) ?? ''}`);
    expect(await details.getByTestId('page-error').count(), 'the usage endpoint answers').toBe(0);
    await page.keyboard.press('Escape');
    expect(errors, 'the pods page').toEqual([]);
  });

  it('finds which cluster runs an image and links to its pods', async () => {
    await page.goto(`${server.url}/images?q=no-such-image`);
    await hydrated(page);
    await expect.poll(() => page.getByTestId('images-empty').textContent()).toContain('No image in the fleet matches');

    await page.getByLabel('Image').fill('acme/billing');
    await page.waitForURL(`${server.url}/images?q=acme%2Fbilling`);
    const rows = page.getByTestId('image-row');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-image')).toBe(BILLING_IMAGE);
    const where = rows.first().getByTestId('image-cluster');
    expect(await where.allTextContents()).toEqual(['edge-oslo: 1 pod']);

    await where.first().click();
    await page.waitForURL((url) => url.pathname === '/pods' && url.searchParams.get('image') === BILLING_IMAGE);
    expect(new URL(page.url()).searchParams.get('cluster')).toBe(oslo.id);
    await expect.poll(() => page.getByTestId('pods-count').textContent()).toBe('1 pod');
    expect(await page.getByTestId('pod-row').getAttribute('data-pod')).toBe(appPod(oslo.inventory).name);
    expect(errors, 'the images page').toEqual([]);
  });

  it('finds a pod by image on the server, shows its containers with requests and limits, and reads one container’s log', async ({
    annotate,
  }) => {
    const pod = sidecarPod(berlin.inventory);
    const imageQuery = page.waitForRequest((r) => {
      const url = new URL(r.url());
      return url.pathname === '/api/v1/pods' && url.searchParams.get('image') === SHIPPER_IMAGE;
    });
    await page.goto(`${server.url}/pods?image=${encodeURIComponent(SHIPPER_IMAGE)}`);
    await hydrated(page);
    await imageQuery;
    await expect.poll(() => page.getByTestId('pods-count').textContent()).toBe('1 pod');
    expect(await page.getByTestId('pod-row').getAttribute('data-pod')).toBe(pod.name);
    expect(new URL(page.url()).searchParams.get('image')).toBe(SHIPPER_IMAGE);

    await page.getByRole('button', { name: `Details of ${pod.namespace}/${pod.name}` }).click();
    const table = page.getByTestId('pod-containers');
    await table.waitFor();
    const row = (name: string) => table.locator(`[data-testid="pod-container-row"][data-container="${name}"]`);
    const cells = async (name: string): Promise<[string | null, string | null]> => [
      await row(name).getByTestId('container-cpu').textContent(),
      await row(name).getByTestId('container-memory').textContent(),
    ];
    expect(
      await table.getByTestId('pod-container-row').evaluateAll((rows) => rows.map((r) => r.dataset.container)),
    ).toEqual(['shop', 'log-shipper', 'migrate']);
    // Requests / limits per container, – where one is not set.
    expect(await cells('shop')).toEqual(['250m / –', '256 Mi / 512 Mi']);
    expect(await cells('log-shipper')).toEqual(['50m / 200m', '64.0 Mi / 128 Mi']);
    expect(await cells('migrate')).toEqual(['– / –', '– / –']);
    expect(await row('log-shipper').textContent()).toContain('OOMKilled');
    expect(await row('log-shipper').getByTestId('container-privileged').textContent()).toBe('privileged');
    expect(await row('shop').getByTestId('container-privileged').count()).toBe(0);
    expect(await row('shop').textContent()).toContain('liveness, readiness');
    expect(await row('migrate').textContent()).toContain('terminated: Completed');
    // The pod's usage against the summed limits (memory: both set) or requests (CPU: shop sets no limit).
    const cpuTotal = (await table.getByTestId('pod-cpu-total').textContent()) ?? '';
    const memoryTotal = (await table.getByTestId('pod-memory-total').textContent()) ?? '';
    expect(cpuTotal).toMatch(/^300m \/ –in use: .+ of 300m request \(\d+%\)$/);
    expect(memoryTotal).toMatch(/^320 Mi \/ 640 Miin use: .+ of 640 Mi limit \(\d+%\)$/);
    const now = (await page.getByTestId('pod-usage-now').textContent()) ?? '';
    expect(now).toMatch(
      /^In use now, whole pod: CPU .+ of 300m request \(\d+%\); memory .+ of 640 Mi limit \(\d+%\)\.$/,
    );
    await annotate(`[web-pods] pod total: CPU ${cpuTotal}; memory ${memoryTotal}`);
    await saveScreenshot(page, 'pod-details.png');

    const link = row('log-shipper').getByRole('link', { name: 'Log of container log-shipper' });
    expect(await link.getAttribute('href')).toBe(
      `/clusters/${berlin.id}/logs?namespace=${pod.namespace}&pod=${encodeURIComponent(pod.name)}&container=log-shipper`,
    );
    await link.click();
    await page.waitForURL((url) => url.pathname === `/clusters/${berlin.id}/logs`);
    const first = await agent.command('logs');
    expect(first.payload).toMatchObject({ namespace: pod.namespace, pod: pod.name, container: 'log-shipper' });
    agent.result(first.id, { status: 'succeeded', result: {} });
    await expect.poll(() => page.getByTestId('log-stream-state').getAttribute('data-phase')).toBe('streaming');

    // The container choice lists the pod's containers and its init container, from the pod's detail.
    const select = page.getByRole('combobox', { name: 'Container', exact: true });
    await expect.poll(() => select.inputValue()).toBe('log-shipper');
    await select.click();
    const options = page.getByRole('listbox').getByRole('option');
    await expect.poll(() => options.allTextContents()).toEqual(['shop', 'log-shipper', 'migrate']);
    await page.getByRole('option', { name: 'migrate' }).click();
    expect((await agent.command('logs-stop')).payload).toEqual({ streamId: first.payload.streamId });
    const second = await agent.command('logs');
    expect(second.payload).toMatchObject({ namespace: pod.namespace, pod: pod.name, container: 'migrate' });
    agent.result(second.id, { status: 'succeeded', result: {} });
    await page.waitForURL((url) => url.searchParams.get('container') === 'migrate');
    expect(await select.inputValue()).toBe('migrate');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pods' }).click();
    await page.waitForURL(`${server.url}/pods`);
    expect((await agent.command('logs-stop')).payload).toEqual({ streamId: second.payload.streamId });
    expect(errors, 'the pod drawer and the container choice').toEqual([]);
  });
});
