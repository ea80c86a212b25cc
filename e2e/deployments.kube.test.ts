import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ApiClient,
  type Cluster,
  type Deployment,
  type DeploymentForm,
  type DeploymentRevisionList,
} from '@niro/protocol';
import { registrySkipReason, startRegistry, type Registry } from '@niro/testkit';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { DEPLOYMENT_ID_LABEL } from '@niro/protocol/agent-install';
import { systemClock } from '../apps/server/src/clock.js';
import { startAgentProcess, type AgentProcess } from './support/agent-process.js';
import { eventually, runInstallScript } from './support/install-script.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

/**
 * Issue 8's acceptance, end to end: a builder deployment of a private image from a local
 * registry (Debian's docker-registry with htpasswd) is applied by the real agent to the real API
 * server, and its pods run (the harness pulls loopback images like a kubelet); a second revision
 * with a broken image stalls and opens deployment_failed; rolling back restores the first and
 * resolves it; a kubectl edit is reported as drift; delete removes every object.
 */
const registrySkip = registrySkipReason();
const USER = 'deployer';
const PASSWORD = 'registry e2e passphrase';

describeWithKube('deployments on a real Kubernetes API server', (kube) => {
  const email = 'ops@example.test';
  const password = 'deployments e2e passphrase 42';
  let niro: LoggedServer;
  let api: ApiClient;
  let cluster: Cluster;
  let agent: AgentProcess | undefined;
  let registry: Registry | undefined;
  let token = '';

  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${niro.server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  }
  async function ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await call<T>(method, path, body);
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body;
  }
  const deployment = (id: string) => ok<Deployment>('GET', `/api/v1/deployments/${id}`);
  const until = (what: string, id: string, check: (d: Deployment) => boolean, timeoutMs = 90_000) =>
    eventually(
      what,
      () => deployment(id),
      (d) =>
        expect(
          check(d),
          JSON.stringify({ status: d.status, rollout: d.rollout, drift: d.drift, error: d.lastError }),
        ).toBe(true),
      timeoutMs,
    );
  const firing = async (type: string) =>
    (
      await ok<{ items: { id: string; scope: string; title: string }[] }>(
        'GET',
        `/api/v1/incidents?cluster=${cluster.id}&type=${type}&state=firing`,
      )
    ).items;

  beforeAll(async () => {
    if (registrySkip !== null) return;
    registry = await startRegistry({ auth: { kind: 'htpasswd', users: { [USER]: PASSWORD } } });
    await registry.pushImage('shop/web', '1.0.0');
    niro = await startLoggedServer('sqlite', systemClock, {
      NIRO_ADMIN_EMAIL: email,
      NIRO_ADMIN_PASSWORD: password,
      NIRO_HEARTBEAT_INTERVAL: '1s',
      NIRO_DRIFT_INTERVAL: 'off',
    });
    token = (await new ApiClient({ baseUrl: niro.server.url }).createToken(email, password, 'e2e')).token;
    api = new ApiClient({ baseUrl: niro.server.url, token });
    const created = await api.createCluster({ name: 'edge-lisbon', environment: 'production' });
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
    await eventually(
      'the agent reports the apply capability',
      () => api.getCluster(cluster.id),
      (c) => expect(c.capabilities?.apply).toBe(true),
    );
    await kube().kubectl(['create', 'namespace', 'shop']);
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await niro?.dispose();
    await registry?.stop();
  });

  it.skipIf(registrySkip !== null)(
    `builder deployment of a private image: runs, stalls on a broken image, rolls back, drifts, and is deleted${registrySkip === null ? '' : ` (skipped: ${registrySkip})`}`,
    async () => {
      if (registry === undefined) throw new Error('no registry');
      // A wrong password is refused before anything is stored; the right one is verified and kept.
      const wrong = await call<{ error: { code: string } }>('POST', '/api/v1/registries', {
        name: 'local',
        server: registry.host,
        username: USER,
        password: 'not the password',
      });
      expect(wrong.status).toBe(422);
      expect(wrong.body.error.code).toBe('registry_auth_failed');
      const saved = await ok<{ id: string }>('POST', '/api/v1/registries', {
        name: 'local',
        server: registry.host,
        username: USER,
        password: PASSWORD,
      });

      const form: DeploymentForm = {
        name: 'web',
        image: `${registry.host}/shop/web:1.0.0`,
        registryId: saved.id,
        replicas: 2,
        progressDeadlineSeconds: 15,
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        service: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      };
      const created = await ok<Deployment>('POST', '/api/v1/deployments', {
        name: 'web',
        clusterId: cluster.id,
        namespace: 'shop',
        source: { type: 'builder', form },
      });
      expect(created).toMatchObject({ revision: 1, status: 'pending' });
      const first = await until(
        'revision 1 runs',
        created.id,
        (d) => d.status === 'succeeded' && d.rollout.state === 'ready',
      );
      expect(first.rollout).toMatchObject({ desiredReplicas: 2, readyReplicas: 2 });
      const pods = await kube().kubectl(['-n', 'shop', 'get', 'pods', '-o', 'jsonpath={.items[*].status.phase}']);
      expect(pods.stdout.trim().split(' ')).toEqual(['Running', 'Running']);
      // The pull Secret reached the namespace but not the stored revision, the command, or the API.
      const secret = await kube().kubectl([
        '-n',
        'shop',
        'get',
        'secret',
        '-l',
        `${DEPLOYMENT_ID_LABEL}=${created.id}`,
        '-o',
        'name',
      ]);
      expect(secret.stdout).toMatch(/secret\/niro-registry-/);
      const rev1 = await ok<{ manifests: string; commandId: string }>(
        'GET',
        `/api/v1/deployments/${created.id}/revisions/1`,
      );
      expect(rev1.manifests).not.toContain('dockerconfigjson');
      const command = await ok<{ payload: unknown }>('GET', `/api/v1/commands/${rev1.commandId}`);
      expect(JSON.stringify(command.payload)).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
      expect(JSON.stringify(command.payload)).not.toContain(PASSWORD);

      // Revision 2: an image the registry does not have. The apply succeeds, the rollout stalls.
      await ok('PATCH', `/api/v1/deployments/${created.id}`, {
        source: { type: 'builder', form: { ...form, image: `${registry.host}/shop/web:9.9.9-missing` } },
        apply: true,
      });
      const stalled = await until(
        'revision 2 stalls',
        created.id,
        (d) => d.revision === 2 && d.rollout.state === 'stalled',
      );
      expect(stalled.rollout.pods.some((p) => p.reason === 'ErrImagePull' || p.reason === 'ImagePullBackOff')).toBe(
        true,
      );
      const [failed] = await eventually(
        'deployment_failed opens',
        () => firing('deployment_failed'),
        (items) => expect(items).toHaveLength(1),
      );
      expect(failed?.scope).toBe(created.id);
      expect(failed?.title).toMatch(/ImagePullBackOff|ErrImagePull/);

      // Roll back to revision 1: revision 3, the old image, ready again, the incident resolved.
      const back = await ok<Deployment>('POST', `/api/v1/deployments/${created.id}/rollback`, { revision: 1 });
      expect(back.revision).toBe(3);
      await until('revision 3 is ready', created.id, (d) => d.rollout.revision === 3 && d.rollout.state === 'ready');
      await eventually(
        'deployment_failed resolves',
        () => firing('deployment_failed'),
        (items) => expect(items).toEqual([]),
      );
      const image = await kube().kubectl([
        '-n',
        'shop',
        'get',
        'deployment',
        'web',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ]);
      expect(image.stdout).toBe(form.image);
      const revisions = await ok<DeploymentRevisionList>('GET', `/api/v1/deployments/${created.id}/revisions`);
      expect(revisions.items.map((r) => [r.revision, r.status, r.rollbackOf])).toEqual([
        [3, 'succeeded', 1],
        [2, 'succeeded', null],
        [1, 'succeeded', null],
      ]);

      // A hand edit is drift.
      await kube().kubectl(['-n', 'shop', 'scale', 'deployment/web', '--replicas=4']);
      await ok('POST', `/api/v1/deployments/${created.id}/diff`);
      const drifted = await until('drift is found', created.id, (d) => d.drift.state === 'drifted');
      expect(drifted.drift.objects.find((o) => o.kind === 'Deployment')?.fields).toContain('spec.replicas');
      await eventually(
        'drift_detected opens',
        () => firing('drift_detected'),
        (items) => expect(items).toHaveLength(1),
      );

      // Delete removes every object it applied, then archives the deployment.
      await ok('DELETE', `/api/v1/deployments/${created.id}`);
      await until('deleted', created.id, (d) => d.lifecycle === 'deleted');
      const left = await kube().kubectl([
        '-n',
        'shop',
        'get',
        'deployments,services,secrets,configmaps',
        '-l',
        `${DEPLOYMENT_ID_LABEL}=${created.id}`,
        '-o',
        'name',
      ]);
      expect(left.stdout.trim()).toBe('');
      await eventually(
        'incidents resolve with the deletion',
        () => firing('drift_detected'),
        (items) => expect(items).toEqual([]),
      );
    },
    300_000,
  );
});
