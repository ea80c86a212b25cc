import { randomBytes } from 'node:crypto';
import {
  type Capabilities,
  type Command,
  type Deployment,
  type DeploymentRevision,
  type DeploymentRevisionList,
  type IncidentPage,
  type LongPollReply,
  type ObjectResult,
} from '@niro/protocol';
import {
  DEFAULT_CAPABILITIES,
  buildFullHeartbeat,
  buildSameHeartbeat,
  generateClusterInventory,
  managedRollout,
  webAppYaml,
  type ClusterInventory,
} from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';

const SECRET_KEY = randomBytes(32).toString('base64');
const NODES = generateClusterInventory({ nodes: 1, pods: 0, seed: 'deployments' }).nodes;

const yamlOf = (image: string, replicas = 2): string => webAppYaml(image, { replicas, deadlineSeconds: 120 });

describeEachDatabase('deployments', (dialect) => {
  let t: TestApp;
  let seq = 0;
  beforeAll(async () => {
    t = await createTestApp(dialect, { NIRO_SECRET_KEY: SECRET_KEY });
  });
  afterAll(async () => {
    await t.dispose();
  });

  const api = (token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: bearer(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  async function cluster(caps: Partial<Capabilities> = { apply: true }): Promise<EnrolledTestCluster> {
    const c = await enrollTestCluster(t);
    await heartbeat(c, { nodes: NODES, pods: [], workloads: [] }, caps);
    return c;
  }
  async function heartbeat(
    c: EnrolledTestCluster,
    inventory: ClusterInventory,
    caps: Partial<Capabilities> = { apply: true },
  ): Promise<void> {
    const capabilities = { ...DEFAULT_CAPABILITIES, ...caps };
    await sendHeartbeat(t, c.agentKey, buildFullHeartbeat(inventory, { seq: ++seq, now: t.clock.now(), capabilities }));
  }
  async function create(c: EnrolledTestCluster, body: Record<string, unknown>): Promise<Deployment> {
    const res = await api(c.owner.token, 'POST', '/api/v1/deployments', {
      clusterId: c.clusterId,
      namespace: 'shop',
      ...body,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Deployment>();
  }
  async function get(c: EnrolledTestCluster, id: string): Promise<Deployment> {
    const res = await api(c.owner.token, 'GET', `/api/v1/deployments/${id}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Deployment>();
  }
  async function poll(c: EnrolledTestCluster): Promise<LongPollReply['commands']> {
    const res = await t.app.inject({ method: 'GET', url: '/api/agent/v1/commands', headers: bearer(c.agentKey) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<LongPollReply>().commands;
  }
  async function answer(c: EnrolledTestCluster, id: string, body: Record<string, unknown>): Promise<void> {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/agent/v1/commands/${id}/result`,
      headers: bearer(c.agentKey),
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  /** Takes the one waiting command and answers it as the agent would have. */
  async function agentRuns(
    c: EnrolledTestCluster,
    kind: string,
    status: 'succeeded' | 'failed' | 'partial',
    objects: ObjectResult[],
  ): Promise<LongPollReply['commands'][number]> {
    const commands = await poll(c);
    expect(commands.map((m) => m.kind)).toEqual([kind]);
    const [command] = commands;
    if (command === undefined) throw new Error('no command');
    await answer(c, command.id, { status, result: { objects } });
    return command;
  }
  async function incidents(c: EnrolledTestCluster, query: string): Promise<IncidentPage['items']> {
    const res = await api(c.owner.token, 'GET', `/api/v1/incidents?cluster=${c.clusterId}&${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<IncidentPage>().items;
  }
  const applied = (generation: number): ObjectResult[] => [
    { kind: 'Deployment', namespace: 'shop', name: 'web', action: 'configured', generation },
    { kind: 'Service', namespace: 'shop', name: 'web', action: 'unchanged' },
  ];
  /** The inventory of a cluster running `web` with these counts, labelled with the deployment id. */
  const running = (
    deploymentId: string,
    counts: { generation: number; observed: number; replicas: number; updated: number; ready: number },
    podReason?: string,
  ): ClusterInventory => managedRollout(NODES, { namespace: 'shop', name: 'web', deploymentId }, counts, podReason);

  it('applies a YAML deployment as revision 1 and follows its rollout until ready', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    expect(d).toMatchObject({ name: 'web', namespace: 'shop', status: 'pending', revision: 1, lifecycle: 'active' });
    // Advisory findings are stored with the revision (a single image has no requests, probes…).
    expect(d.findingCounts.medium).toBeGreaterThan(0);

    const [command] = await poll(c);
    expect(command?.kind).toBe('apply');
    expect(command?.payload).toEqual({
      manifests: yamlOf('nginx:1.27'),
      namespace: 'shop',
      deploymentId: d.id,
      revision: 1,
      prune: true,
    });
    await answer(c, command?.id ?? '', { status: 'succeeded', result: { objects: applied(2) } });
    let now = await get(c, d.id);
    expect(now).toMatchObject({
      status: 'succeeded',
      appliedRevision: 1,
      rollout: { state: 'progressing', revision: 1 },
    });

    // The agent still reports the previous generation: not ready, whatever the counts say.
    await heartbeat(c, running(d.id, { generation: 1, observed: 1, replicas: 2, updated: 2, ready: 2 }));
    now = await get(c, d.id);
    expect(now.rollout).toMatchObject({ state: 'progressing', workloads: [{ name: 'web', observed: false }] });

    await heartbeat(c, running(d.id, { generation: 2, observed: 2, replicas: 2, updated: 1, ready: 1 }));
    now = await get(c, d.id);
    expect(now.rollout).toMatchObject({ state: 'progressing', desiredReplicas: 2, readyReplicas: 1 });
    expect(now.rollout.pods.map((p) => [p.name, p.ready])).toEqual([
      ['web-1', false],
      ['web-0', true],
    ]);

    await heartbeat(c, running(d.id, { generation: 2, observed: 2, replicas: 2, updated: 2, ready: 2 }));
    now = await get(c, d.id);
    expect(now.rollout).toMatchObject({ state: 'ready', readyReplicas: 2, updatedReplicas: 2 });
    expect(now.rollout.readyAt).not.toBeNull();
    // The list shows the same counts and findings, without the pods.
    const listed = (await api(c.owner.token, 'GET', `/api/v1/deployments?cluster=${c.clusterId}`)).json<{
      items: Deployment[];
    }>().items;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ findingCounts: now.findingCounts, rollout: { readyReplicas: 2, pods: [] } });

    const revisions = (
      await api(c.owner.token, 'GET', `/api/v1/deployments/${d.id}/revisions`)
    ).json<DeploymentRevisionList>();
    expect(revisions.items).toMatchObject([
      { revision: 1, status: 'succeeded', source: { type: 'yaml' }, prune: true },
    ]);
    const rev = (await api(c.owner.token, 'GET', `/api/v1/deployments/${d.id}/revisions/1`)).json<DeploymentRevision>();
    expect(rev.manifests).toBe(yamlOf('nginx:1.27'));
    expect(rev.objects).toEqual(applied(2));
    expect(rev.findings.some((f) => f.ruleId === 'missing-requests')).toBe(true);
    // The runtime half of no-rollback-history: nothing to roll back to yet.
    expect(rev.findings.find((f) => f.ruleId === 'no-rollback-history')).toMatchObject({
      severity: 'low',
      object: { kind: 'Deployment', name: 'web' },
    });
    expect(rev.createdBy).toBe(`${c.owner.email} (token test)`);
  });

  it('follows rollouts on heartbeats that change nothing: a re-apply is ready at once, a stall at its deadline', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    const steady = running(d.id, { generation: 1, observed: 1, replicas: 2, updated: 2, ready: 2 });
    await heartbeat(c, steady);
    // The apply changed nothing (generation 1 again); the agent keeps sending "same".
    await agentRuns(c, 'apply', 'succeeded', applied(1));
    const reported = { inventory: steady };
    const same = () =>
      sendHeartbeat(
        t,
        c.agentKey,
        buildSameHeartbeat(reported.inventory, {
          seq: ++seq,
          now: t.clock.now(),
          capabilities: { ...DEFAULT_CAPABILITIES, apply: true },
        }),
      );
    await same();
    expect((await get(c, d.id)).rollout.state).toBe('ready');

    // Revision 2 never becomes ready; only "same" heartbeats follow once the agent reported it.
    await api(c.owner.token, 'POST', `/api/v1/deployments/${d.id}/apply`, {});
    await agentRuns(c, 'apply', 'succeeded', applied(2));
    reported.inventory = running(
      d.id,
      { generation: 2, observed: 2, replicas: 2, updated: 1, ready: 1 },
      'ErrImagePull',
    );
    await heartbeat(c, reported.inventory);
    await same();
    expect((await get(c, d.id)).rollout.state).toBe('progressing');
    t.clock.advance(121_000);
    await same();
    expect((await get(c, d.id)).rollout.state).toBe('stalled');
    expect(await incidents(c, 'type=deployment_failed&state=firing')).toHaveLength(1);
  });

  it('refuses what cannot be applied with a clear 4xx and stores nothing', async () => {
    const c = await cluster({ apply: false });
    const refused = async (body: Record<string, unknown>, status: number, code: string) => {
      const res = await api(c.owner.token, 'POST', '/api/v1/deployments', {
        clusterId: c.clusterId,
        namespace: 'shop',
        name: 'bad',
        ...body,
      });
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json<{ error: { code: string; message: string } }>().error.code).toBe(code);
      return res.json<{ error: { code: string; message: string } }>().error.message;
    };
    expect(await refused({ source: { type: 'yaml', yaml: yamlOf('nginx') } }, 409, 'capability_disabled')).toContain(
      'NIRO_ENABLE_APPLY=1',
    );
    await heartbeat(c, { nodes: NODES, pods: [], workloads: [] }, { apply: true });
    expect(await refused({ source: { type: 'yaml', yaml: 'kind: [' } }, 400, 'manifests_invalid')).toContain(
      'document 1',
    );
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 12 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`,
      ),
    ].join('\n');
    expect(await refused({ source: { type: 'yaml', yaml: bomb } }, 400, 'manifests_invalid')).toMatch(/alias/i);
    const elsewhere = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, namespace: kube-system }\n';
    expect(await refused({ source: { type: 'yaml', yaml: elsewhere } }, 400, 'manifest_namespace_mismatch')).toContain(
      'kube-system',
    );
    expect(await refused({ source: { type: 'yaml', yaml: '# nothing\n' } }, 400, 'manifests_empty')).toBeTruthy();
    const form = {
      name: 'web',
      image: 'nginx:1.27',
      replicas: 1,
      ingress: { host: 'a.example', path: '/', servicePort: 80 },
    };
    expect(await refused({ source: { type: 'builder', form } }, 400, 'invalid_request')).toContain('body.source.form');
    await refused(
      { source: { type: 'git', url: 'https://example.test/r.git', ref: 'main', path: '.', extra: 1 } },
      400,
      'invalid_request',
    );

    const rows = await t.services.database.db
      .selectFrom('deployments')
      .select('id')
      .where('cluster_id', '=', c.clusterId)
      .execute();
    expect(rows).toEqual([]);
    expect(await poll(c)).toEqual([]);
  });

  it('opens deployment_failed for a stalled rollout and a failed apply, and a rollback resolves it', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    await agentRuns(c, 'apply', 'succeeded', applied(1));
    await heartbeat(c, running(d.id, { generation: 1, observed: 1, replicas: 2, updated: 2, ready: 2 }));
    expect((await get(c, d.id)).rollout.state).toBe('ready');

    // Revision 2: a broken image. The apply succeeds; the new pods never pull.
    const patched = await api(c.owner.token, 'PATCH', `/api/v1/deployments/${d.id}`, {
      source: { type: 'yaml', yaml: yamlOf('nginx:does-not-exist') },
      apply: true,
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json<Deployment>()).toMatchObject({ revision: 2, status: 'pending' });
    await agentRuns(c, 'apply', 'succeeded', applied(2));
    await heartbeat(
      c,
      running(d.id, { generation: 2, observed: 2, replicas: 2, updated: 1, ready: 1 }, 'ImagePullBackOff'),
    );
    expect(await incidents(c, 'type=deployment_failed&state=firing')).toEqual([]);
    t.clock.advance(121_000);
    await heartbeat(
      c,
      running(d.id, { generation: 2, observed: 2, replicas: 2, updated: 1, ready: 1 }, 'ImagePullBackOff'),
    );
    expect((await get(c, d.id)).rollout.state).toBe('stalled');
    const [stalled] = await incidents(c, 'type=deployment_failed&state=firing');
    expect(stalled?.title).toContain('ImagePullBackOff');
    expect(stalled?.severity).toBe('high');

    // Roll back to revision 1: revision 3 with the same manifests, pruning, then ready again.
    const back = await api(c.owner.token, 'POST', `/api/v1/deployments/${d.id}/rollback`, { revision: 1 });
    expect(back.statusCode, back.body).toBe(202);
    expect(back.json<Deployment>()).toMatchObject({
      revision: 3,
      source: { type: 'yaml', yaml: yamlOf('nginx:1.27') },
    });
    const rollback = await agentRuns(c, 'apply', 'succeeded', applied(3));
    expect(rollback.payload).toMatchObject({ manifests: yamlOf('nginx:1.27'), revision: 3, prune: true });
    // Still firing until the rollout is ready.
    expect(await incidents(c, 'type=deployment_failed&state=firing')).toHaveLength(1);
    await heartbeat(c, running(d.id, { generation: 3, observed: 3, replicas: 2, updated: 2, ready: 2 }));
    expect(await incidents(c, 'type=deployment_failed&state=firing')).toEqual([]);
    const rev2 = (
      await api(c.owner.token, 'GET', `/api/v1/deployments/${d.id}/revisions/2`)
    ).json<DeploymentRevision>();
    expect(rev2.findings.map((f) => f.ruleId)).not.toContain('no-rollback-history');
    const revisions = (
      await api(c.owner.token, 'GET', `/api/v1/deployments/${d.id}/revisions`)
    ).json<DeploymentRevisionList>();
    expect(revisions.items.map((r) => [r.revision, r.status, r.rollbackOf])).toEqual([
      [3, 'succeeded', 1],
      [2, 'succeeded', null],
      [1, 'succeeded', null],
    ]);

    // A failed apply opens it at once, with the agent's message.
    await api(c.owner.token, 'POST', `/api/v1/deployments/${d.id}/apply`, {});
    await agentRuns(c, 'apply', 'partial', [
      { kind: 'Deployment', namespace: 'shop', name: 'web', action: 'failed', message: 'admission webhook denied it' },
      { kind: 'Service', namespace: 'shop', name: 'web', action: 'unchanged' },
    ]);
    const failed = await get(c, d.id);
    expect(failed).toMatchObject({
      status: 'partial',
      revision: 4,
      lastError: 'Deployment/web: admission webhook denied it',
    });
    const [open] = await incidents(c, 'type=deployment_failed&state=firing');
    expect(open?.title).toContain('1 of 2 objects failed');
  });

  it('deletes the objects through the agent, then archives; unmanage keeps them', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    await agentRuns(c, 'apply', 'succeeded', applied(1));
    const del = await api(c.owner.token, 'DELETE', `/api/v1/deployments/${d.id}`);
    expect(del.statusCode, del.body).toBe(202);
    expect(del.json<Deployment>().lifecycle).toBe('deleting');
    const conflict = await api(c.owner.token, 'POST', `/api/v1/deployments/${d.id}/apply`, {});
    expect(conflict.statusCode).toBe(409);
    const command = await agentRuns(c, 'delete', 'succeeded', [
      { kind: 'Deployment', namespace: 'shop', name: 'web', action: 'deleted' },
      { kind: 'Service', namespace: 'shop', name: 'web', action: 'deleted' },
    ]);
    expect(command.payload).toEqual({ deploymentId: d.id, namespace: 'shop' });
    expect(await get(c, d.id)).toMatchObject({ lifecycle: 'deleted' });
    const list = await api(c.owner.token, 'GET', `/api/v1/deployments?cluster=${c.clusterId}`);
    expect(list.json<{ items: Deployment[] }>().items).toEqual([]);
    const archived = await api(c.owner.token, 'GET', `/api/v1/deployments?cluster=${c.clusterId}&archived=true`);
    expect(archived.json<{ items: Deployment[] }>().items.map((x) => x.lifecycle)).toEqual(['deleted']);

    // The name is free again; unmanaging archives without a command.
    const again = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    await agentRuns(c, 'apply', 'succeeded', applied(1));
    const un = await api(c.owner.token, 'POST', `/api/v1/deployments/${again.id}/unmanage`);
    expect(un.json<Deployment>()).toMatchObject({ lifecycle: 'unmanaged' });
    expect(await poll(c)).toEqual([]);
  });

  it('checks drift periodically and opens and resolves drift_detected', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    await agentRuns(c, 'apply', 'succeeded', applied(1));
    expect(await t.services.deployments.queueDriftChecks()).toBeGreaterThanOrEqual(1);
    // Not twice while one is under way.
    const [diff] = await poll(c);
    expect(diff).toMatchObject({ kind: 'diff', payload: { manifests: yamlOf('nginx:1.27'), deploymentId: d.id } });
    await t.services.deployments.queueDriftChecks();
    expect(await poll(c)).toEqual([]);
    expect((await get(c, d.id)).drift.state).toBe('checking');
    const drifted: ObjectResult = {
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      action: 'drifted',
      fields: ['spec.template.spec.containers.0.image'],
    };
    await answer(c, diff?.id ?? '', { status: 'succeeded', result: { objects: [drifted] } });
    expect((await get(c, d.id)).drift).toMatchObject({ state: 'drifted', objects: [drifted] });
    expect(await incidents(c, 'type=drift_detected&state=firing')).toHaveLength(1);

    await t.services.deployments.queueDriftChecks();
    await agentRuns(c, 'diff', 'succeeded', [
      { kind: 'Deployment', namespace: 'shop', name: 'web', action: 'unchanged' },
    ]);
    expect((await get(c, d.id)).drift.state).toBe('clean');
    expect(await incidents(c, 'type=drift_detected&state=firing')).toEqual([]);
  });

  it('lets viewers read but not change, and hides deployments from other orgs', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
    expect((await api(viewer.token, 'GET', `/api/v1/deployments/${d.id}`)).statusCode).toBe(200);
    expect((await api(viewer.token, 'POST', `/api/v1/deployments/${d.id}/apply`, {})).statusCode).toBe(403);
    expect((await api(viewer.token, 'DELETE', `/api/v1/deployments/${d.id}`)).statusCode).toBe(403);
    const stranger = await createUserWithToken(t.services);
    expect((await api(stranger.token, 'GET', `/api/v1/deployments/${d.id}`)).statusCode).toBe(404);
    expect((await api(stranger.token, 'GET', '/api/v1/deployments')).json<{ items: unknown[] }>().items).toEqual([]);
  });

  it('lets members apply workloads, and only admins what reaches beyond the namespace (AZ-2)', async () => {
    const c = await cluster();
    const member = await createUserWithToken(t.services, { role: 'member', orgId: c.orgId });
    const admin = await createUserWithToken(t.services, { role: 'admin', orgId: c.orgId });
    const pod = (spec: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n${spec}\n  containers:\n    - name: c\n      image: busybox:1.36\n`;
    const dangerous: [string, string][] = [
      [
        'ClusterRoleBinding/admin-for-me',
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: { name: admin-for-me }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }\nsubjects: [{ kind: User, name: me }]\n',
      ],
      [
        'RoleBinding/ns-admin',
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: { name: ns-admin }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin }\nsubjects: [{ kind: User, name: me }]\n',
      ],
      [
        'CustomResourceDefinition/widgets.example.com',
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: { name: widgets.example.com }\nspec: {}\n',
      ],
      [
        'MutatingWebhookConfiguration/intercept',
        'apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: { name: intercept }\nwebhooks: []\n',
      ],
      ['host network', pod('  hostNetwork: true')],
      ['host path', pod('  volumes: [{ name: root, hostPath: { path: / } }]')],
      [
        'privileged',
        'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  containers:\n    - name: c\n      image: busybox:1.36\n      securityContext: { privileged: true }\n',
      ],
    ];
    for (const [what, yaml] of dangerous) {
      const res = await api(member.token, 'POST', '/api/v1/deployments', {
        clusterId: c.clusterId,
        namespace: 'shop',
        name: 'danger',
        source: { type: 'yaml', yaml },
      });
      expect(res.statusCode, `${what}: ${res.body}`).toBe(403);
      expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({
        code: 'manifest_needs_admin',
      });
    }
    expect(await poll(c)).toEqual([]);
    expect(
      await t.services.database.db
        .selectFrom('deployments')
        .select('id')
        .where('cluster_id', '=', c.clusterId)
        .execute(),
    ).toEqual([]);
    // Members deploy ordinary workloads; admins may apply the rest.
    const ok = await api(member.token, 'POST', '/api/v1/deployments', {
      clusterId: c.clusterId,
      namespace: 'shop',
      name: 'web',
      source: { type: 'yaml', yaml: yamlOf('nginx:1.27') },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    const byAdmin = await api(admin.token, 'POST', '/api/v1/deployments', {
      clusterId: c.clusterId,
      namespace: 'shop',
      name: 'crb',
      source: { type: 'yaml', yaml: dangerous[0]?.[1] ?? '' },
    });
    expect(byAdmin.statusCode, byAdmin.body).toBe(201);
  });

  it('pages the list with a cursor, and refuses a made-up one', async () => {
    const c = await cluster();
    for (const name of ['alpha', 'beta', 'gamma']) {
      await create(c, { name, apply: false, source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    }
    const page = async (query: string) => {
      const res = await api(c.owner.token, 'GET', `/api/v1/deployments?cluster=${c.clusterId}&${query}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{ items: Deployment[]; nextCursor?: string | null }>();
    };
    const first = await page('limit=2');
    expect(first.items.map((d) => d.name)).toEqual(['alpha', 'beta']);
    expect(first.items.every((d) => d.status === 'new' && d.revision === 0)).toBe(true);
    const second = await page(`limit=2&cursor=${first.nextCursor ?? ''}`);
    expect(second.items.map((d) => d.name)).toEqual(['gamma']);
    expect(second.nextCursor).toBeNull();
    const bad = await api(c.owner.token, 'GET', '/api/v1/deployments?cursor=42');
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('invalid_cursor');
  });

  it('fails a revision whose apply expired before the agent took it', async () => {
    const c = await cluster();
    const d = await create(c, { name: 'web', source: { type: 'yaml', yaml: yamlOf('nginx:1.27') } });
    const cmd = (await api(c.owner.token, 'GET', `/api/v1/clusters/${c.clusterId}/commands`)).json<{
      items: Command[];
    }>().items[0];
    t.clock.advance(Date.parse(cmd?.expiresAt ?? '') - t.clock.now() + 1000);
    const now = await get(c, d.id);
    expect(now).toMatchObject({ status: 'failed' });
    expect(now.lastError).toContain('expired');
    const rev = (await api(c.owner.token, 'GET', `/api/v1/deployments/${d.id}/revisions/1`)).json<DeploymentRevision>();
    expect(rev.status).toBe('expired');
  });
});

describe('deployments without PostgreSQL-specific behaviour', () => {
  it('names a duplicate deployment in the namespace with 409', async () => {
    const t = await createTestApp('sqlite', { NIRO_SECRET_KEY: SECRET_KEY });
    try {
      const c = await enrollTestCluster(t);
      await sendHeartbeat(
        t,
        c.agentKey,
        buildFullHeartbeat(
          { nodes: NODES, pods: [], workloads: [] },
          {
            seq: 1,
            now: t.clock.now(),
            capabilities: { ...DEFAULT_CAPABILITIES, apply: true },
          },
        ),
      );
      const body = {
        clusterId: c.clusterId,
        namespace: 'shop',
        name: 'web',
        source: { type: 'yaml', yaml: yamlOf('nginx') },
      };
      const first = await t.app.inject({
        method: 'POST',
        url: '/api/v1/deployments',
        headers: bearer(c.owner.token),
        payload: body,
      });
      expect(first.statusCode, first.body).toBe(201);
      const second = await t.app.inject({
        method: 'POST',
        url: '/api/v1/deployments',
        headers: bearer(c.owner.token),
        payload: body,
      });
      expect(second.statusCode).toBe(409);
      expect(second.json<{ error: { code: string } }>().error.code).toBe('deployment_name_taken');
    } finally {
      await t.dispose();
    }
  });
});
