import type { FindingPage, StoredFinding, Workload } from '@niro/protocol';
import {
  buildDeltaHeartbeat,
  buildFullHeartbeat,
  buildSameHeartbeat,
  generateClusterInventory,
  type ClusterInventory,
} from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { createServices } from '../../services.js';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';

const MiB = 1024 * 1024;

/**
 * A Deployment that passes every runtime rule but the image one when its image is `:latest`:
 * requests, limits, probes, a restricted security context, two replicas.
 */
function web(image: string, over: Partial<Workload> = {}): Workload {
  return {
    kind: 'Deployment',
    namespace: 'shop',
    name: 'web',
    replicas: 2,
    readyReplicas: 2,
    updatedReplicas: 2,
    availableReplicas: 2,
    generation: 3,
    observedGeneration: 3,
    revisionHistoryLimit: 10,
    deploymentId: 'dep-web-1',
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        automountServiceAccountToken: false,
        serviceAccountName: 'web',
        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'web',
            image,
            ports: [{ containerPort: 8080, name: 'http' }],
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
            readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
            livenessProbe: { httpGet: { path: '/live', port: 8080 } },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ['ALL'] },
            },
          },
        ],
      },
    },
    ...over,
  };
}

const withWorkloads = (inv: ClusterInventory, ...workloads: Workload[]): ClusterInventory => ({
  ...inv,
  workloads: [...inv.workloads.filter((w) => !workloads.some((x) => x.name === w.name)), ...workloads],
});

describeEachDatabase('runtime policy findings', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect);
  });

  afterAll(async () => {
    await t.dispose();
  });

  const evaluations = async (): Promise<number> =>
    (await t.services.metrics.policyEvaluations.get()).values[0]?.value ?? 0;

  async function findings(token: string, query = ''): Promise<StoredFinding[]> {
    await t.services.findings.idle();
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/findings${query}`, headers: bearer(token) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<FindingPage>().items;
  }

  const imageFindings = (items: StoredFinding[]): StoredFinding[] =>
    items.filter((f) => f.ruleId === 'mutable-image-tag' && f.object.name === 'web');

  describe('one cluster through its life', () => {
    let c: EnrolledTestCluster;
    let base: ClusterInventory;
    let seq = 0;
    const hb = {
      full: (inv: ClusterInventory) =>
        sendHeartbeat(t, c.agentKey, buildFullHeartbeat(inv, { seq: ++seq, now: t.clock.now() })),
      same: (inv: ClusterInventory) =>
        sendHeartbeat(t, c.agentKey, buildSameHeartbeat(inv, { seq: ++seq, now: t.clock.now() })),
      delta: (prev: ClusterInventory, next: ClusterInventory) =>
        sendHeartbeat(t, c.agentKey, buildDeltaHeartbeat(prev, next, { seq: ++seq, now: t.clock.now() })),
    };

    beforeAll(async () => {
      c = await enrollTestCluster(t, { environment: 'production' });
      base = generateClusterInventory({ nodes: 2, pods: 40, seed: 'policy-life' });
    });

    it('opens a finding for a :latest image on the first heartbeat, rated for production', async () => {
      const before = await evaluations();
      const inv = withWorkloads(base, web('nginx:latest'));
      expect((await hb.full(inv)).resendFull).toBeUndefined();
      const items = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        clusterId: c.clusterId,
        clusterName: c.name,
        ruleId: 'mutable-image-tag',
        severity: 'high',
        category: 'images',
        object: { kind: 'Deployment', namespace: 'shop', name: 'web' },
        container: 'web',
        deploymentId: 'dep-web-1',
        state: 'open',
        closedAt: null,
      });
      expect(items[0]?.fix).toEqual(expect.any(String));
      // Every workload of the inventory was evaluated once.
      expect((await evaluations()) - before).toBe(inv.workloads.length);
    });

    it('exempts the k3s system workloads by default', async () => {
      const all = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info`);
      const system = all.filter(
        (f) =>
          f.object.namespace === 'kube-system' &&
          /^(coredns|traefik|svclb-|local-path-provisioner|metrics-server)/.test(f.object.name),
      );
      expect(system).toEqual([]);
    });

    it('evaluates nothing for heartbeats that do not change a template, and keeps the finding open', async () => {
      const inv = withWorkloads(base, web('nginx:latest'));
      const before = await evaluations();
      const [opened] = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
      await hb.same(inv);
      await hb.same(inv);
      await hb.full(inv);
      // A rollout's progress changes the workload's status, not its template.
      const progressed = withWorkloads(base, web('nginx:latest', { readyReplicas: 1, availableReplicas: 1 }));
      await hb.delta(inv, progressed);
      await hb.delta(progressed, inv);
      const after = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
      expect(await evaluations()).toBe(before);
      expect(after).toHaveLength(1);
      expect(after[0]?.id).toBe(opened?.id);
      expect(after[0]?.state).toBe('open');
    });

    it('closes the finding with closedAt when the template is fixed, evaluating only that workload', async () => {
      const before = await evaluations();
      t.clock.advance(60_000);
      const broken = withWorkloads(base, web('nginx:latest'));
      const fixed = withWorkloads(base, web('nginx:1.27.3'));
      await hb.delta(broken, fixed);
      expect(imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`))).toEqual([]);
      expect((await evaluations()) - before).toBe(1);
      const closed = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}&state=closed`));
      expect(closed).toHaveLength(1);
      expect(closed[0]).toMatchObject({ state: 'closed', closedAt: new Date(t.clock.now()).toISOString() });
    });

    it('opens a new finding when it comes back, and closes it when the workload is removed', async () => {
      const fixed = withWorkloads(base, web('nginx:1.27.3'));
      const broken = withWorkloads(base, web('nginx'));
      await hb.delta(fixed, broken);
      const reopened = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
      expect(reopened).toHaveLength(1);
      const gone = { ...base, workloads: base.workloads.filter((w) => w.name !== 'web') };
      await hb.delta(broken, gone);
      expect(imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`))).toEqual([]);
      const closed = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}&state=closed`));
      expect(closed.map((f) => f.id)).toContain(reopened[0]?.id);
      // Back to the state later tests start from.
      await hb.delta(gone, withWorkloads(base, web('nginx:latest')));
      expect(imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`))).toHaveLength(1);
    });

    it('re-rates open findings when the environment changes, by the next heartbeat', async () => {
      const inv = withWorkloads(base, web('nginx:latest'));
      const patch = async (environment: string): Promise<void> => {
        const res = await t.app.inject({
          method: 'PATCH',
          url: `/api/v1/clusters/${c.clusterId}`,
          headers: bearer(c.owner.token),
          payload: { environment },
        });
        expect(res.statusCode, res.body).toBe(200);
        await hb.same(inv);
      };
      const [before] = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
      await patch('dev');
      const [dev] = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info`));
      expect(dev).toMatchObject({ id: before?.id, severity: 'low', state: 'open' });
      await patch('staging');
      const [staging] = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info`));
      expect(staging).toMatchObject({ id: before?.id, severity: 'medium' });
      await patch('production');
      const [production] = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
      expect(production).toMatchObject({ id: before?.id, severity: 'high' });
    });

    it('filters by severity (at or above), deployment and cluster, and pages', async () => {
      const all = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info&limit=1000`);
      expect(all.length).toBeGreaterThan(1);
      const high = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=high&limit=1000`);
      expect(high.every((f) => f.severity === 'high')).toBe(true);
      const mediumUp = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=medium&limit=1000`);
      expect(mediumUp.every((f) => f.severity === 'high' || f.severity === 'medium')).toBe(true);
      expect(mediumUp.length).toBe(all.filter((f) => f.severity === 'high' || f.severity === 'medium').length);
      // Most severe first.
      const ranks = all.map((f) => ['info', 'low', 'medium', 'high'].indexOf(f.severity));
      expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
      const byDeployment = await findings(c.owner.token, '?deployment=dep-web-1&severity=info');
      expect(byDeployment.map((f) => f.object.name)).toEqual(byDeployment.map(() => 'web'));
      expect(byDeployment.length).toBeGreaterThan(0);

      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `?cluster=${c.clusterId}&severity=info&limit=3${cursor === null ? '' : `&cursor=${cursor}`}`;
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/findings${q}`, headers: bearer(c.owner.token) });
        const page = res.json<FindingPage>();
        paged.push(...page.items.map((f) => f.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(paged).toEqual(all.map((f) => f.id));

      const other = await enrollTestCluster(t, { owner: c.owner, environment: 'dev' });
      await sendHeartbeat(t, other.agentKey, buildFullHeartbeat(withWorkloads(base, web('nginx:latest')), { seq: 1 }));
      const otherItems = await findings(c.owner.token, `?cluster=${other.clusterId}&severity=info&limit=1000`);
      expect(otherItems.length).toBeGreaterThan(0);
      expect(otherItems.every((f) => f.clusterId === other.clusterId)).toBe(true);
      const both = await findings(c.owner.token, '?severity=info&limit=1000');
      expect(new Set(both.map((f) => f.clusterId))).toEqual(new Set([c.clusterId, other.clusterId]));
    });

    it('filters by rule on the server, with the other filters and across pages', async () => {
      const all = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info&limit=1000`);
      const ruleIds = [...new Set(all.map((f) => f.ruleId))];
      expect(ruleIds.length).toBeGreaterThan(1);
      for (const rule of ruleIds) {
        const only = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info&rule=${rule}&limit=1000`);
        expect(
          only.map((f) => f.id),
          rule,
        ).toEqual(all.filter((f) => f.ruleId === rule).map((f) => f.id));
      }
      // Pages of one rule hold only that rule, however many findings of other rules rank between them.
      const busiest = ruleIds
        .map((rule) => ({ rule, n: all.filter((f) => f.ruleId === rule).length }))
        .sort((a, b) => b.n - a.n)[0];
      if (busiest === undefined) throw new Error('no rule');
      const paged: StoredFinding[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `?cluster=${c.clusterId}&severity=info&rule=${busiest.rule}&limit=1${cursor === null ? '' : `&cursor=${cursor}`}`;
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/findings${q}`, headers: bearer(c.owner.token) });
        const page = res.json<FindingPage>();
        paged.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(paged.length).toBe(busiest.n);
      expect(paged.every((f) => f.ruleId === busiest.rule)).toBe(true);
      // A rule id that names no rule is no error: nothing matches it.
      expect(await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info&rule=no-such-rule`)).toEqual([]);
    });

    it('shows findings to a viewer of the org, and nothing to a user of another org', async () => {
      const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
      expect(imageFindings(await findings(viewer.token, `?cluster=${c.clusterId}`))).toHaveLength(1);
      const stranger = await createUserWithToken(t.services, { role: 'owner' });
      expect(await findings(stranger.token, '?severity=info')).toEqual([]);
      expect(await findings(stranger.token, `?cluster=${c.clusterId}&severity=info`)).toEqual([]);
      expect(await findings(stranger.token, `?state=closed&cluster=${c.clusterId}`)).toEqual([]);
    });

    it('refuses a forged cursor and an unknown severity with 400 naming the field', async () => {
      for (const [q, field] of [
        ['?cursor=bm9wZQ', 'querystring.cursor'],
        ['?severity=critical', 'querystring.severity'],
        ['?state=firing', 'querystring.state'],
        ['?rule=Not%20A%20Rule', 'querystring.rule'],
        [`?rule=${'a'.repeat(101)}`, 'querystring.rule'],
      ] as const) {
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/findings${q}`, headers: bearer(c.owner.token) });
        expect(res.statusCode, q).toBe(400);
        expect(JSON.stringify(res.json())).toContain(field);
      }
      const anonymous = await t.app.inject({ method: 'GET', url: '/api/v1/findings' });
      expect(anonymous.statusCode).toBe(401);
    });
  });

  it('re-evaluates a cluster once after a restart, then only what changes', async () => {
    const c = await enrollTestCluster(t, { environment: 'production' });
    const inv = withWorkloads(generateClusterInventory({ nodes: 1, pods: 20, seed: 'policy-restart' }), web('nginx'));
    await sendHeartbeat(t, c.agentKey, buildFullHeartbeat(inv, { seq: 1 }));
    const [before] = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}`));
    // A second server on the same database, as after a restart: nothing in memory.
    const services = createServices({
      config: t.services.config,
      clock: t.clock,
      logger: t.services.logger,
      database: t.services.database,
      options: { processMetrics: false },
    });
    const app = await buildApp(services);
    try {
      const fresh = { ...t, app, services };
      const gone = { ...inv, workloads: inv.workloads.filter((w) => w.name !== 'web') };
      // The agent sends a full inventory to the new process; `web` went away meanwhile.
      const reply = await sendHeartbeat(fresh, c.agentKey, buildFullHeartbeat(gone, { seq: 2 }));
      expect(reply.resendFull).toBeUndefined();
      await services.findings.idle();
      const evaluated = (await services.metrics.policyEvaluations.get()).values[0]?.value ?? 0;
      expect(evaluated).toBe(gone.workloads.length);
      const closed = imageFindings(await findings(c.owner.token, `?cluster=${c.clusterId}&state=closed`));
      expect(closed.map((f) => f.id)).toEqual([before?.id]);
      await sendHeartbeat(fresh, c.agentKey, buildSameHeartbeat(gone, { seq: 3 }));
      await services.findings.idle();
      expect((await services.metrics.policyEvaluations.get()).values[0]?.value ?? 0).toBe(evaluated);
    } finally {
      await app.close();
      await services.heartbeat.flush();
    }
  });

  it('measures runtime evaluation of a 1,000-pod cluster (printed, not asserted)', async () => {
    const c = await enrollTestCluster(t, { environment: 'production' });
    const inv = generateClusterInventory({ nodes: 10, pods: 1000, seed: 'policy-bench' });
    const body = buildFullHeartbeat(inv, { seq: 1 });
    const started = performance.now();
    await sendHeartbeat(t, c.agentKey, body);
    const replied = performance.now();
    await t.services.findings.idle();
    const stored = performance.now();
    const items = await findings(c.owner.token, `?cluster=${c.clusterId}&severity=info&limit=1000`);
    // eslint-disable-next-line no-console -- a figure the issue asks for, printed rather than asserted
    console.log(
      `[${dialect}] 1,000 pods, ${inv.workloads.length} workloads (${(JSON.stringify(body).length / MiB).toFixed(1)} MiB): ` +
        `heartbeat reply ${(replied - started).toFixed(0)} ms, evaluation + storage of ${items.length} findings ` +
        `${(stored - replied).toFixed(0)} ms after the reply`,
    );
    expect(items.length).toBeGreaterThan(0);
  });
});
