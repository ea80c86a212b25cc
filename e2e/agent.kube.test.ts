import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient, type Capabilities, type Cluster } from '@niro/protocol';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { systemClock } from '../apps/server/src/clock.js';
import { startAgentProcess, type AgentProcess } from './support/agent-process.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { eventually, runInstallScript } from './support/install-script.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

/**
 * The whole path a user takes, against a real API server (kine + kube-apiserver with RBAC +
 * controller-manager + scheduler + kwok): create the cluster in Niro, run the install script,
 * run the agent with exactly the RBAC the script installed (the ServiceAccount's own token), and
 * see the cluster in the API: healthy, its nodes, its pods with owners, a crash-looping pod, its
 * Warning events and capabilities that follow RBAC changes within a heartbeat.
 */
const CRASH_LABEL = 'niro.test/crash-loop';

const workloads = `
apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: shop }
spec:
  replicas: 3
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: registry.example.test/shop/api:1.4.2
          resources: { requests: { cpu: 100m, memory: 128Mi }, limits: { memory: 256Mi } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: worker, namespace: shop }
spec:
  replicas: 1
  selector: { matchLabels: { app: worker } }
  template:
    metadata: { labels: { app: worker, ${CRASH_LABEL}: "true" } }
    spec:
      containers:
        - name: worker
          image: registry.example.test/shop/worker:0.9.0
`;

describeWithKube('the agent on a real Kubernetes API server', (kube) => {
  const email = 'ops@example.test';
  const password = 'agent e2e passphrase 42';
  let niro: LoggedServer;
  let api: ApiClient;
  let cluster: Cluster;
  let enrollmentToken: string;
  let agent: AgentProcess | undefined;
  let agentKubeconfig: string;
  /** The agent reaches Niro through this proxy, so tests can break the network under it. */
  let proxy: FaultProxy;

  const install = (env: Record<string, string>) => runInstallScript(kube(), niro.server.url, env);

  const runAgent = (env: Record<string, string> = {}): AgentProcess =>
    startAgentProcess({
      NIRO_URL: proxy.url,
      KUBECONFIG: agentKubeconfig,
      NIRO_LOG_LEVEL: 'debug',
      NIRO_REQUEST_TIMEOUT: '2',
      ...env,
    });

  const heartbeatSeqs = (a: AgentProcess): number[] =>
    a.logs.filter((l) => l.msg === 'heartbeat sent').map((l) => Number(l.seq));

  beforeAll(async () => {
    // The real clock: the server refreshes a cluster's stored events on its own schedule.
    niro = await startLoggedServer('sqlite', systemClock, {
      NIRO_ADMIN_EMAIL: email,
      NIRO_ADMIN_PASSWORD: password,
      NIRO_HEARTBEAT_INTERVAL: '1s',
    });
    proxy = await startFaultProxy(niro.server.url);
    const { token } = await new ApiClient({ baseUrl: niro.server.url }).createToken(email, password, 'e2e');
    api = new ApiClient({ baseUrl: niro.server.url, token });
    const created = await api.createCluster({ name: 'edge-berlin', environment: 'production' });
    cluster = created.cluster;
    enrollmentToken = created.enrollment.token;
    await kube().apply(workloads);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await niro?.dispose();
  }, 90_000);

  it('installs with the script: namespace, RBAC, the agent Deployment and the token Secret', async () => {
    const result = await install({ NIRO_TOKEN: enrollmentToken });
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toContain(enrollmentToken);
    const sa = await kube().kubectl(['-n', 'niro-system', 'get', 'serviceaccount', 'niro-agent', '-o', 'name']);
    expect(sa.stdout.trim()).toBe('serviceaccount/niro-agent');
    const secret = await kube().kubectl([
      '-n',
      'niro-system',
      'get',
      'secret',
      'niro-agent-token',
      '-o',
      'jsonpath={.data.token}',
    ]);
    expect(Buffer.from(secret.stdout, 'base64').toString()).toBe(enrollmentToken);
    agentKubeconfig = await kube().serviceAccountKubeconfig('niro-system', 'niro-agent');
  }, 90_000);

  it('enrolls with the token, stores its key in the Secret, and reports the cluster', async () => {
    agent = runAgent({ NIRO_TOKEN: enrollmentToken });
    await agent.waitForLog((l) => l.msg === 'enrolled; key stored');
    const stored = await kube().kubectl([
      '-n',
      'niro-system',
      'get',
      'secret',
      'niro-agent-key',
      '-o',
      'jsonpath={.data.agentKey}',
    ]);
    const agentKey = Buffer.from(stored.stdout, 'base64').toString();
    expect(agentKey).toMatch(/^niro_ak_/);
    // The used token is gone from the cluster.
    const token = await kube().kubectl(['-n', 'niro-system', 'get', 'secret', 'niro-agent-token'], {
      allowFailure: true,
    });
    expect(token.code).not.toBe(0);

    const healthy = await eventually(
      'cluster healthy with 3 ready nodes',
      () => api.getCluster(cluster.id),
      (c) => {
        expect(c.status).toBe('healthy');
        expect(c.summary).toMatchObject({ nodesTotal: 3, nodesReady: 3 });
      },
    );
    expect(healthy).toMatchObject({
      distribution: 'kubernetes',
      kubernetesVersion: expect.stringMatching(/^v1\.35\./),
    });
    expect(healthy.capabilities).toEqual({
      pods: true,
      logs: false,
      apply: false,
      selfUpdate: false,
    } satisfies Capabilities);

    const nodes = await api.clusterNodes(cluster.id);
    expect(nodes.items.map((n) => n.name).sort()).toEqual(['kwok-node-0', 'kwok-node-1', 'kwok-node-2']);
    expect(nodes.items.every((n) => n.ready)).toBe(true);

    // Secrets never reach the agent's output.
    expect(agent.output.join('\n')).not.toContain(agentKey);
    expect(agent.output.join('\n')).not.toContain(enrollmentToken);
  }, 90_000);

  it('reports pods with owners resolved to their Deployments, and a crash-looping pod with restarts and reason', async () => {
    const pods = await eventually(
      'pods of shop/api and shop/worker',
      () => api.clusterPods(cluster.id, { namespace: 'shop' }),
      (page) => {
        const api3 = page.items.filter((p) => p.ownerKind === 'Deployment' && p.ownerName === 'api');
        expect(api3).toHaveLength(3);
        expect(api3.every((p) => p.phase === 'Running')).toBe(true);
        const worker = page.items.find((p) => p.ownerName === 'worker');
        expect(worker?.restarts ?? 0).toBeGreaterThan(0);
        // Its container waits in CrashLoopBackOff between runs: Niro shows the pod as crash-looping.
        expect(worker?.status).toBe('crashloop');
      },
    );
    const worker = pods.items.find((p) => p.ownerName === 'worker');
    expect(worker).toMatchObject({ ownerKind: 'Deployment', images: ['registry.example.test/shop/worker:0.9.0'] });
    const all = await api.pods({ cluster: cluster.id, namespace: 'shop' });
    expect(all.items.length).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it('reports Warning events', async () => {
    await eventually(
      'a Warning event about the crashing worker',
      () => api.clusterEvents(cluster.id),
      (events) => {
        expect(
          events.items.some((e) => e.involvedObject.kind === 'Pod' && e.involvedObject.name.startsWith('worker-')),
        ).toBe(true);
      },
      90_000,
    );
  }, 120_000);

  it('reports usage from metrics.k8s.io', async () => {
    const withUsage = await eventually(
      'cluster usage from the nodes',
      () => api.getCluster(cluster.id),
      (c) => expect(c.summary.cpuUsageMilli).not.toBeNull(),
      60_000,
    );
    // kwok reports a baseline for each node: the cluster's use is their sum, and plausible.
    expect(withUsage.summary.cpuUsageMilli).toBeGreaterThan(0);
    expect(withUsage.summary.memoryUsageBytes).toBeGreaterThan(0);
  }, 90_000);

  it('changes its capabilities within a heartbeat when RBAC is granted or revoked', async () => {
    const running = agent;
    if (running === undefined) throw new Error('agent not running');
    // Grant logs: re-run the installer without a token (the key stays).
    const before = Math.max(0, ...heartbeatSeqs(running));
    const grant = await install({ NIRO_ENABLE_LOGS: '1' });
    expect(grant.code, grant.output).toBe(0);
    const granted = await eventually(
      'logs capability reported',
      () => api.getCluster(cluster.id),
      (c) => expect(c.capabilities?.logs).toBe(true),
    );
    expect(granted.capabilities).toEqual({ pods: true, logs: true, apply: false, selfUpdate: false });
    const change = await running.waitForLog((l) => l.msg === 'capabilities changed');
    expect(change.capabilities).toMatchObject({ logs: true });
    // Detected on the heartbeat after the grant (one may have been in flight while it happened).
    const seenAt = Math.max(...heartbeatSeqs(running));
    expect(seenAt - before).toBeLessThanOrEqual(4);

    // Revoke pods: the cluster's pods disappear from Niro, its other data stays.
    const revoke = await install({ NIRO_ENABLE_PODS: '0', NIRO_ENABLE_LOGS: '1' });
    expect(revoke.code, revoke.output).toBe(0);
    await eventually(
      'pods capability revoked and pods gone',
      async () => ({ c: await api.getCluster(cluster.id), pods: await api.clusterPods(cluster.id) }),
      ({ c, pods }) => {
        expect(c.capabilities).toEqual({ pods: false, logs: true, apply: false, selfUpdate: false });
        expect(pods.items).toHaveLength(0);
        expect(c.summary.nodesTotal).toBe(3);
      },
    );
  }, 90_000);

  it('survives Niro being down, hanging or answering garbage, logging each state once, and catches up after', async () => {
    const running = agent;
    if (running === undefined) throw new Error('agent not running');
    const warnings = () => running.logs.filter((l) => l.level === 40 && String(l.msg).startsWith('Niro:'));
    const retries = () => running.logs.filter((l) => l.msg === 'heartbeat retry scheduled');
    const before = warnings().length;
    const retriesBefore = retries().length;
    const failUntil = async (mode: 'refuse' | 'hang' | 'garbage' | 'error', state: string, attempts: number) => {
      proxy.setMode(mode);
      await running.waitForLog((l) => l.level === 40 && l.state === state, 30_000);
      const target = retries().length + attempts;
      await running.waitForLog(() => retries().length >= target, 60_000);
    };
    await failUntil('refuse', 'unreachable', 2);
    await failUntil('garbage', 'bad_reply', 1);
    await failUntil('error', 'http 503 unavailable', 1);
    await failUntil('hang', 'unreachable', 1);
    // Four states, one warning each, however many attempts failed.
    expect(
      warnings()
        .slice(before)
        .map((l) => l.state),
    ).toEqual(['unreachable', 'bad_reply', 'http 503 unavailable', 'unreachable']);
    const delays = retries()
      .slice(retriesBefore)
      .map((l) => Number(l.delayMs));
    expect(delays.length).toBeGreaterThanOrEqual(5);
    // Jittered, not a fixed period: agents that lost the same server do not come back in step.
    expect(new Set(delays).size).toBeGreaterThan(1);

    proxy.setMode('pass');
    const back = await running.waitForLog((l) => l.msg === 'Niro: heartbeats get through again', 60_000);
    expect(Number(back.failures)).toBeGreaterThanOrEqual(5);
    expect(running.child.exitCode).toBeNull();
    // The server lost nothing it needs: the next heartbeats are accepted and the cluster is live.
    const seq = Math.max(...heartbeatSeqs(running));
    await running.waitForLog(() => Math.max(...heartbeatSeqs(running)) >= seq + 2, 30_000);
    expect((await api.getCluster(cluster.id)).status).toBe('healthy');
  }, 180_000);

  it('restarts with the stored key, without a token', async () => {
    const first = agent;
    if (first === undefined) throw new Error('agent not running');
    expect(await first.stop()).toBe(0);
    agent = runAgent();
    const started = await agent.waitForLog((l) => l.msg === 'agent started');
    expect(started.clusterId).toBe(cluster.id);
    expect(agent.logs.some((l) => l.msg === 'enrolled; key stored')).toBe(false);
    await agent.waitForLog((l) => l.msg === 'heartbeat sent' && l.mode === 'full');
  }, 90_000);

  it('exits non-zero with one clear line when its token is refused and no key is stored', async () => {
    await agent?.stop();
    agent = undefined;
    await kube().kubectl(['-n', 'niro-system', 'delete', 'secret', 'niro-agent-key']);
    const refused = runAgent({ NIRO_TOKEN: enrollmentToken }); // already used
    expect(await refused.exited).toBe(1);
    const errors = refused.logs.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/enrollment refused by .*single-use/);
    expect(refused.output.join('\n')).not.toContain(enrollmentToken);
  });
});
