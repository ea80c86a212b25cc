import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient, type Cluster, type Command, type ObjectResult } from '@niro/protocol';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { systemClock } from '../apps/server/src/clock.js';
import { startAgentProcess, type AgentProcess } from './support/agent-process.js';
import { eventually, runInstallScript } from './support/install-script.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

/**
 * Commands from the API to a real cluster and back, over the long-poll channel: ping, apply of a
 * multi-document manifest (its pods then show in the heartbeat), re-apply, prune, diff of a
 * hand-edited object, delete.
 */
const DEPLOYMENT_ID = 'dep-e2e-shop';

const manifests = (withConfigMap: boolean) => `
apiVersion: v1
kind: Namespace
metadata: { name: shop2 }
---
${
  withConfigMap
    ? `apiVersion: v1
kind: ConfigMap
metadata: { name: api-config, namespace: shop2 }
data: { mode: production }
---`
    : ''
}
apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: shop2 }
spec:
  replicas: 2
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: registry.example.test/shop/api:2.0.0
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop2 }
spec:
  selector: { app: api }
  ports: [{ port: 80, targetPort: 8080 }]
`;

describeWithKube('commands on a real Kubernetes API server', (kube) => {
  const email = 'ops@example.test';
  const password = 'commands e2e passphrase 42';
  let niro: LoggedServer;
  let api: ApiClient;
  let cluster: Cluster;
  let agent: AgentProcess | undefined;

  const until = <T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 45_000) =>
    eventually(what, read, (v) => expect(check(v), JSON.stringify(v).slice(0, 600)).toBe(true), timeoutMs);

  const FINAL = new Set(['succeeded', 'failed', 'partial', 'expired', 'cancelled']);
  async function run(kind: Command['kind'], payload: Record<string, unknown> = {}): Promise<Command> {
    const created = await api.createCommand(cluster.id, { kind, payload });
    expect(created.state).toBe('queued');
    return until(
      `${kind} finished`,
      () => api.getCommand(created.id),
      (c) => FINAL.has(c.state),
    );
  }

  const actions = (c: Command): Record<string, string> => {
    const objects = (c.result?.objects ?? []) as ObjectResult[];
    return Object.fromEntries(objects.map((o) => [`${o.kind}/${o.name}`, o.action]));
  };

  beforeAll(async () => {
    niro = await startLoggedServer('sqlite', systemClock, {
      NIRO_ADMIN_EMAIL: email,
      NIRO_ADMIN_PASSWORD: password,
      NIRO_HEARTBEAT_INTERVAL: '1s',
    });
    const { token } = await new ApiClient({ baseUrl: niro.server.url }).createToken(email, password, 'e2e');
    api = new ApiClient({ baseUrl: niro.server.url, token });
    const created = await api.createCluster({ name: 'edge-porto', environment: 'staging' });
    cluster = created.cluster;
    const installed = await runInstallScript(kube(), niro.server.url, {
      NIRO_TOKEN: created.enrollment.token,
      NIRO_ENABLE_APPLY: '1',
    });
    expect(installed.code, installed.output).toBe(0);
    agent = startAgentProcess({
      NIRO_URL: niro.server.url,
      NIRO_TOKEN: created.enrollment.token,
      KUBECONFIG: await kube().serviceAccountKubeconfig('niro-system', 'niro-agent'),
      NIRO_LOG_LEVEL: 'debug',
    });
    await until(
      'the agent reports the apply capability',
      () => api.getCluster(cluster.id),
      (c) => c.capabilities?.apply === true,
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await niro?.dispose();
  });

  it('pings the agent and reports the round trip', async () => {
    const ping = await run('ping');
    expect(ping.state).toBe('succeeded');
    expect(typeof ping.result?.agentTime).toBe('string');
    expect(ping.roundTripMs).toBeGreaterThanOrEqual(0);
    expect(ping.deliveries).toBe(1);
  }, 60_000);

  it('applies a multi-document manifest; its pods show in the next heartbeats; a re-apply changes nothing', async () => {
    const applied = await run('apply', { manifests: manifests(true), deploymentId: DEPLOYMENT_ID });
    expect(applied.state, JSON.stringify(applied.error)).toBe('succeeded');
    expect(actions(applied)).toEqual({
      'Namespace/shop2': 'created',
      'ConfigMap/api-config': 'created',
      'Deployment/api': 'created',
      'Service/api': 'created',
    });
    const pods = await until(
      'the Deployment pods in Niro',
      () => api.clusterPods(cluster.id, { namespace: 'shop2' }),
      (page) => page.items.filter((p) => p.ownerName === 'api' && p.phase === 'Running').length === 2,
    );
    expect(pods.items.every((p) => p.ownerKind === 'Deployment')).toBe(true);

    const again = await run('apply', { manifests: manifests(true), deploymentId: DEPLOYMENT_ID });
    expect(Object.values(actions(again))).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  }, 90_000);

  it('prunes what left the set, reports hand edits as drift, and deletes the rest', async () => {
    const pruned = await run('apply', { manifests: manifests(false), deploymentId: DEPLOYMENT_ID, prune: true });
    expect(pruned.state).toBe('succeeded');
    expect(actions(pruned)['ConfigMap/api-config']).toBe('pruned');
    const gone = await kube().kubectl(['-n', 'shop2', 'get', 'configmap', 'api-config'], { allowFailure: true });
    expect(gone.code).not.toBe(0);

    await kube().kubectl(['-n', 'shop2', 'scale', 'deployment/api', '--replicas=5']);
    const diff = await run('diff', { manifests: manifests(false), deploymentId: DEPLOYMENT_ID });
    expect(diff.state).toBe('succeeded');
    const deployment = ((diff.result?.objects ?? []) as ObjectResult[]).find((o) => o.kind === 'Deployment');
    expect(deployment?.action).toBe('drifted');
    expect(deployment?.fields).toContain('spec.replicas');

    const deleted = await run('delete', { deploymentId: DEPLOYMENT_ID });
    expect(deleted.state).toBe('succeeded');
    expect(actions(deleted)).toMatchObject({ 'Deployment/api': 'deleted', 'Service/api': 'deleted' });
    const left = await kube().kubectl(['-n', 'shop2', 'get', 'deployment,service', '-o', 'name'], {
      allowFailure: true,
    });
    expect(left.stdout.trim()).toBe('');
  }, 120_000);
});
