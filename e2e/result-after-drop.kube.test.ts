import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient, type Cluster, type ObjectResult } from '@niro/protocol';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { systemClock } from '../apps/server/src/clock.js';
import { startAgentProcess, type AgentProcess } from './support/agent-process.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { eventually, runInstallScript } from './support/install-script.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

const manifests = `
apiVersion: v1
kind: Namespace
metadata: { name: drop-test }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: settings, namespace: drop-test }
data: { mode: production }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: drop-test }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;
const OBJECTS = 3;

/**
 * Issue 4's third reliability test: the agent's connection to Niro drops after the apply wrote
 * to Kubernetes and before its result reached the server. A forwarding proxy in front of the
 * Kubernetes API holds the apply's PATCH responses (the writes are done) while the test cuts the
 * agent ↔ Niro connection (fault proxy); then it lets them through. The result must still arrive,
 * exactly once, and every object must have been written once.
 */
describeWithKube('a result survives a dropped connection between apply and result', (kube) => {
  const email = 'ops@example.test';
  const password = 'result drop passphrase 42';
  let niro: LoggedServer;
  let api: ApiClient;
  let cluster: Cluster;
  let niroProxy: FaultProxy;
  let kubeProxy: KubeProxy;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    niro = await startLoggedServer('sqlite', systemClock, {
      NIRO_ADMIN_EMAIL: email,
      NIRO_ADMIN_PASSWORD: password,
      NIRO_HEARTBEAT_INTERVAL: '1s',
    });
    const { token } = await new ApiClient({ baseUrl: niro.server.url }).createToken(email, password, 'e2e');
    api = new ApiClient({ baseUrl: niro.server.url, token });
    const created = await api.createCluster({ name: 'edge-faro', environment: 'staging' });
    cluster = created.cluster;
    const installed = await runInstallScript(kube(), niro.server.url, {
      NIRO_TOKEN: created.enrollment.token,
      NIRO_ENABLE_APPLY: '1',
    });
    expect(installed.code, installed.output).toBe(0);
    niroProxy = await startFaultProxy(niro.server.url);
    kubeProxy = await startKubeProxy(kube().dir);
    agent = startAgentProcess({
      NIRO_URL: niroProxy.url,
      NIRO_TOKEN: created.enrollment.token,
      KUBECONFIG: await kubeProxy.kubeconfigFor(await kube().serviceAccountKubeconfig('niro-system', 'niro-agent')),
      NIRO_LOG_LEVEL: 'debug',
    });
    await eventually(
      'the agent reports the apply capability',
      () => api.getCluster(cluster.id),
      (c) => expect(c.capabilities?.apply).toBe(true),
    );
    // The command channel is up (a ping round trip), so the drop below cuts a live connection.
    const ping = await api.createCommand(cluster.id, { kind: 'ping' });
    await eventually(
      'the ping answered',
      () => api.getCommand(ping.id),
      (c) => expect(c.state).toBe('succeeded'),
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await kubeProxy?.close();
    await niroProxy?.close();
    await niro?.dispose();
  });

  it('records the apply result once, after the agent reconnects, with each object written once', async ({
    annotate,
  }) => {
    const running = agent;
    if (running === undefined) throw new Error('the agent did not start');
    kubeProxy.hold();
    const command = await api.createCommand(cluster.id, { kind: 'apply', payload: { manifests } });

    // The first object is written, its answer held: now the agent loses Niro.
    await kubeProxy.firstHeld();
    const refusedBefore = niroProxy.connections.refuse;
    niroProxy.setMode('refuse');
    kubeProxy.release();
    // The agent finishes the apply while Niro is unreachable, so its result cannot go out yet.
    await running.waitForLog((l) => l.msg === 'command done' && l.id === command.id, 60_000);
    expect((await api.getCommand(command.id)).state).toBe('delivered');
    niroProxy.setMode('pass');

    const done = await eventually(
      'the apply result recorded',
      () => api.getCommand(command.id),
      (c) => expect(['succeeded', 'failed', 'partial']).toContain(c.state),
      60_000,
    );
    expect(done.state, JSON.stringify(done.error)).toBe('succeeded');
    const objects = (done.result?.objects ?? []) as ObjectResult[];
    expect(Object.fromEntries(objects.map((o) => [`${o.kind}/${o.name}`, o.action]))).toEqual({
      'Namespace/drop-test': 'created',
      'ConfigMap/settings': 'created',
      'Service/web': 'created',
    });
    expect(done.deliveries).toBe(1);

    // Each object written once (server-side apply PATCHes seen by the Kubernetes proxy).
    expect(kubeProxy.applyWrites.length).toBe(OBJECTS);
    expect(new Set(kubeProxy.applyWrites).size).toBe(OBJECTS);

    // The server recorded the result once: one "command completed" line for it.
    const completedLines = niro.logs.filter((l) => l.includes('"command completed"') && l.includes(command.id));
    expect(completedLines).toHaveLength(1);
    const results = await resultCounts(niro.server.url);
    const reconnects = running.logs.filter((l) => /command channel.*connected again/.test(l.msg));
    const channel = /\((\S+)\)/.exec(reconnects[0]?.msg ?? '')?.[1] ?? 'unknown';
    const figure =
      `result after a dropped connection: recorded ${completedLines.length}× ` +
      `(niro_command_results_total ${results === null ? 'not exposed' : JSON.stringify(results)}); ` +
      `deliveries ${done.deliveries}; Kubernetes writes ${kubeProxy.applyWrites.length} for ${OBJECTS} objects; ` +
      `connection attempts refused while cut ${niroProxy.connections.refuse - refusedBefore}; ` +
      `${channel} command channel reconnects ${reconnects.length}`;
    // eslint-disable-next-line no-console -- the figure this reliability test exists to print
    console.log(figure);
    await annotate(figure);
    if (results !== null) expect(results.recorded).toBe(2); // the ping and the apply
  }, 150_000);
});

/** The `niro_command_results_total` counts from /metrics, or null when the server does not expose them. */
async function resultCounts(url: string): Promise<{ recorded: number; duplicate: number } | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  if (!text.includes('niro_command_results_total{')) return null;
  const read = (outcome: string): number => {
    const m = new RegExp(`^niro_command_results_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
    return m?.[1] === undefined ? 0 : Number(m[1]);
  };
  return { recorded: read('recorded'), duplicate: read('duplicate') };
}

type KubeProxy = {
  /** Paths of the server-side apply PATCHes that passed (dry runs excluded), in order. */
  applyWrites: string[];
  /** A copy of the kubeconfig that points at this proxy. */
  kubeconfigFor(file: string): Promise<string>;
  /** From now on, answers to apply PATCHes wait (the write itself goes through). */
  hold(): void;
  /** Resolves once an apply PATCH answer is being held. */
  firstHeld(): Promise<void>;
  /** Sends the held answers and stops holding. */
  release(): void;
  close(): Promise<void>;
};

/**
 * An HTTPS forwarder in front of the harness's API server, with the API server's own certificate
 * (so the agent's kubeconfig CA still verifies it). It passes every request, watches included,
 * and can hold the responses of apply PATCHes after the upstream has written them.
 */
async function startKubeProxy(kubeDir: string): Promise<KubeProxy> {
  const pki = path.join(kubeDir, 'pki');
  const [key, cert, ca, kubeconfigText] = await Promise.all([
    fs.readFile(path.join(pki, 'apiserver.key')),
    fs.readFile(path.join(pki, 'apiserver.crt')),
    fs.readFile(path.join(pki, 'ca.crt')),
    fs.readFile(path.join(kubeDir, 'kubeconfig.yaml'), 'utf8'),
  ]);
  const serverLine = /server:\s*(https:\/\/\S+)/.exec(kubeconfigText);
  if (serverLine?.[1] === undefined) throw new Error('no API server URL in the harness kubeconfig');
  const upstream = new URL(serverLine[1]);
  const upstreamAgent = new https.Agent({ ca, keepAlive: true });
  const applyWrites: string[] = [];
  let holding = false;
  const held: Array<() => void> = [];
  const heldWaiters: Array<() => void> = [];

  const server = https.createServer({ key, cert }, (req, res) => {
    const url = req.url ?? '/';
    const isApply =
      req.method === 'PATCH' &&
      (req.headers['content-type'] ?? '').startsWith('application/apply-patch') &&
      !url.includes('dryRun=');
    const upstreamReq = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: url,
        headers: { ...req.headers, host: upstream.host },
        agent: upstreamAgent,
      },
      (upstreamRes) => {
        const forward = (): void => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        };
        if (isApply) applyWrites.push(url.split('?')[0] ?? url);
        if (isApply && holding) {
          held.push(forward);
          for (const w of heldWaiters.splice(0)) w();
        } else {
          forward();
        }
      },
    );
    upstreamReq.on('error', () => res.destroy());
    res.on('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  });
  await new Promise<void>((resolve) => server.listen(0, upstream.hostname, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the Kubernetes proxy has no port');
  const proxyServer = `https://${upstream.hostname}:${address.port}`;

  return {
    applyWrites,
    async kubeconfigFor(file) {
      const config: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
      const text = JSON.stringify(config).replaceAll(JSON.stringify(upstream.origin), JSON.stringify(proxyServer));
      if (!text.includes(proxyServer)) throw new Error(`${file} does not name ${upstream.origin}`);
      const out = `${file}.via-proxy.json`;
      await fs.writeFile(out, text, { mode: 0o600 });
      return out;
    },
    hold() {
      holding = true;
    },
    firstHeld() {
      if (held.length > 0) return Promise.resolve();
      return new Promise((resolve) => heldWaiters.push(resolve));
    },
    release() {
      holding = false;
      for (const forward of held.splice(0)) forward();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstreamAgent.destroy();
    },
  };
}
