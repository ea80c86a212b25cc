import type {
  ClusterEventList,
  ClusterNodeList,
  ClusterWorkloadList,
  Container,
  FleetResponse,
  ImageList,
  KubeEvent,
  Node,
  Pod,
  PodPage,
  ClusterPodDetail,
  Workload,
} from '@niro/protocol';
import { buildFullHeartbeat, type ClusterInventory, type HeartbeatOptions } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import {
  createTestCluster,
  enrollTestCluster,
  reenrollTestCluster,
  type EnrolledTestCluster,
  type TestCluster,
} from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { postHeartbeat, sendHeartbeat } from '../../test-support/heartbeats.js';

const MI = 1024 * 1024;

function container(image: string, opts: Partial<Container> = {}): Container {
  return {
    name: 'app',
    image,
    ready: true,
    restarts: 0,
    state: 'running',
    requests: { cpuMilli: 100, memoryBytes: 128 * MI },
    limits: { memoryBytes: 256 * MI },
    probes: { liveness: true, readiness: true, startup: false },
    privileged: false,
    ...opts,
  };
}

function pod(namespace: string, name: string, image: string, opts: Partial<Pod> = {}): Pod {
  return {
    namespace,
    name,
    uid: `uid-${namespace}-${name}`,
    phase: 'Running',
    nodeName: 'node-1',
    owner: { kind: 'Deployment', name: name.replace(/-\d+$/, '') },
    startedAt: '2026-03-01T11:00:00Z',
    imagePullSecrets: [],
    containers: [container(image)],
    ...opts,
  };
}

function node(name: string, ready = true): Node {
  return {
    name,
    ready,
    roles: ['control-plane'],
    kubeletVersion: 'v1.31.4+k3s1',
    capacity: { cpuMilli: 4000, memoryBytes: 8192 * MI, pods: 110 },
    allocatable: { cpuMilli: 3800, memoryBytes: 7900 * MI, pods: 110 },
    conditions: ready ? [] : [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }],
    unschedulable: false,
  };
}

function workload(namespace: string, name: string, replicas: number): Workload {
  return {
    kind: 'Deployment',
    namespace,
    name,
    replicas,
    readyReplicas: replicas,
    updatedReplicas: replicas,
    availableReplicas: replicas,
    generation: 3,
    observedGeneration: 3,
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'x' }] } },
  };
}

function event(name: string, reason: string, lastTimestamp: string): KubeEvent {
  return {
    namespace: 'shop',
    involvedObject: { kind: 'Pod', name },
    reason,
    message: `${reason} for ${name}`,
    count: 2,
    firstTimestamp: '2026-03-01T11:50:00Z',
    lastTimestamp,
  };
}

describeEachDatabase('fleet read API', (dialect) => {
  let t: TestApp;
  let ownerA: TestUser;
  let viewerA: TestUser;
  let ownerB: TestUser;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    ownerA = await createUserWithToken(t.services, { role: 'owner', orgName: 'fleet-a' });
    viewerA = await createUserWithToken(t.services, { role: 'viewer', orgId: ownerA.orgId });
    ownerB = await createUserWithToken(t.services, { role: 'owner', orgName: 'fleet-b' });
  });
  afterAll(() => t.dispose());

  const get = (user: TestUser, url: string, headers: Record<string, string> = {}) =>
    t.app.inject({ url, headers: { ...bearer(user.token), ...headers } });

  const fullHeartbeat = (seq: number, inv: ClusterInventory, extra: Partial<HeartbeatOptions> = {}) =>
    buildFullHeartbeat(inv, { seq, now: t.clock.now(), ...extra });

  describe('GET /fleet', () => {
    let first: TestCluster;

    beforeAll(async () => {
      first = await createTestCluster(t, {
        owner: ownerA,
        name: 'etag-a',
        environment: 'production',
        labels: { site: 'lisbon' },
      });
      await createTestCluster(t, { owner: ownerB, name: 'etag-b' });
    });

    it('summarises every visible cluster with totals and a strong ETag', async () => {
      const res = await get(viewerA, '/api/v1/fleet');
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
      expect(res.headers['cache-control']).toBe('private, no-cache');
      const body = res.json<FleetResponse>();
      expect(body.generatedAt).toBe(new Date(t.clock.now()).toISOString());
      expect(body.totals).toEqual({
        clusters: 1,
        byStatus: { pending: 1, healthy: 0, warning: 0, critical: 0, unknown: 0, offline: 0 },
        nodes: 0,
        pods: 0,
      });
      expect(body.clusters).toEqual([
        {
          id: first.cluster.id,
          orgId: ownerA.orgId,
          name: 'etag-a',
          environment: 'production',
          labels: { site: 'lisbon' },
          status: 'pending',
          lastHeartbeatAt: null,
          kubernetesVersion: null,
          agentVersion: null,
          capabilities: null,
          summary: first.cluster.summary,
          openIncidents: { high: 0, medium: 0, low: 0 },
        },
      ]);
      const b = (await get(ownerB, '/api/v1/fleet')).json<FleetResponse>();
      expect(b.clusters.map((c) => c.name)).toEqual(['etag-b']);
    });

    it('answers 304 without a body when If-None-Match matches, even as time passes', async () => {
      const etag = String((await get(viewerA, '/api/v1/fleet')).headers.etag);
      t.clock.advance(5000);
      for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await get(viewerA, '/api/v1/fleet', { 'if-none-match': inm });
        expect(res.statusCode, inm).toBe(304);
        expect(res.body).toBe('');
        expect(res.headers.etag).toBe(etag);
      }
      const stale = await get(viewerA, '/api/v1/fleet', { 'if-none-match': '"stale"' });
      expect(stale.statusCode).toBe(200);
    });

    it('changes the ETag when the fleet changes, and per caller', async () => {
      const before = String((await get(ownerA, '/api/v1/fleet')).headers.etag);
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/clusters/${first.cluster.id}`,
        headers: bearer(ownerA.token),
        payload: { environment: 'staging' },
      });
      expect(patched.statusCode).toBe(200);
      const after = await get(ownerA, '/api/v1/fleet', { 'if-none-match': before });
      expect(after.statusCode).toBe(200);
      expect(after.headers.etag).not.toBe(before);
      expect(after.json<FleetResponse>().clusters[0]?.environment).toBe('staging');
      expect((await get(ownerB, '/api/v1/fleet')).headers.etag).not.toBe(after.headers.etag);
    });

    it('is empty, not an error, for a user without clusters', async () => {
      const loner = await createUserWithToken(t.services, { role: 'owner' });
      const res = await get(loner, '/api/v1/fleet');
      expect(res.json<FleetResponse>()).toMatchObject({ totals: { clusters: 0, nodes: 0, pods: 0 }, clusters: [] });
      expect((await get(loner, '/api/v1/pods')).json()).toEqual({ items: [], nextCursor: null });
      expect((await get(loner, '/api/v1/images')).json()).toEqual({ items: [] });
    });

    it('needs authentication', async () => {
      for (const url of ['/api/v1/fleet', '/api/v1/pods', '/api/v1/images']) {
        expect((await t.app.inject({ url })).statusCode).toBe(401);
      }
    });
  });

  describe('with heartbeats (POST /api/agent/v1/heartbeat)', () => {
    let alpha: EnrolledTestCluster;
    let gamma: EnrolledTestCluster;
    /** Gamma's current agent key; re-enrollment below replaces it. */
    let gammaKey: string;
    const alphaPods: Pod[] = [];
    const gammaInventory: ClusterInventory = {
      nodes: [node('gamma-node')],
      pods: [
        pod('shop', 'web-000', 'ghcr.io/acme/web:1.4.2'),
        pod('b-only', 'secret-app-0', 'registry.b.example/secret-app:9'),
      ],
      workloads: [],
    };

    beforeAll(async () => {
      alpha = await enrollTestCluster(t, { owner: ownerA, name: 'hb-alpha', environment: 'production' });
      gamma = await enrollTestCluster(t, { owner: ownerB, name: 'hb-gamma' });
      gammaKey = gamma.agentKey;

      for (let i = 0; i < 240; i++)
        alphaPods.push(pod('shop', `web-${String(i).padStart(3, '0')}`, 'ghcr.io/acme/web:1.4.2'));
      alphaPods.push(
        pod('shop', 'worker-0', 'ghcr.io/acme/worker:2.0', {
          phase: 'Pending',
          nodeName: undefined,
          containers: [
            container('ghcr.io/acme/worker:2.0', { ready: false, state: 'waiting', reason: 'ContainerCreating' }),
          ],
        }),
      );
      for (let i = 0; i < 9; i++)
        alphaPods.push(pod('kube-system', `coredns-${i}`, 'rancher/mirrored-coredns-coredns:1.12.0'));
      const inv = {
        nodes: [node('node-1'), node('node-2', false)],
        pods: alphaPods,
        workloads: [workload('shop', 'web', 240), workload('kube-system', 'coredns', 9)],
      };
      await sendHeartbeat(
        t,
        alpha.agentKey,
        fullHeartbeat(1, inv, {
          usage: { nodes: { 'node-1': [1200, 3000 * MI] }, pods: { 'shop/web-007': [35, 120 * MI] } },
          events: [
            event('web-001', 'BackOff', '2026-03-01T11:58:00Z'),
            event('web-002', 'Unhealthy', '2026-03-01T11:59:00Z'),
          ],
        }),
      );
      await sendHeartbeat(t, gamma.agentKey, fullHeartbeat(1, gammaInventory));
    });

    it('shows the reported nodes with usage, workloads and events of one cluster', async () => {
      const nodes = (await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/nodes`)).json<ClusterNodeList>();
      expect(nodes.items.map((n) => [n.name, n.ready])).toEqual([
        ['node-1', true],
        ['node-2', false],
      ]);
      expect(nodes.items[0]?.usage).toEqual({ cpuMilli: 1200, memoryBytes: 3000 * MI });
      expect(nodes.items[1]?.usage).toBeNull();
      expect(nodes.items[0]?.capacity).toEqual({ cpuMilli: 4000, memoryBytes: 8192 * MI, pods: 110 });

      const workloads = (
        await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/workloads`)
      ).json<ClusterWorkloadList>();
      expect(workloads.items.map((w) => `${w.namespace}/${w.name}`)).toEqual(['kube-system/coredns', 'shop/web']);
      expect(workloads.items[1]).toMatchObject({
        kind: 'Deployment',
        replicas: 240,
        template: { metadata: { labels: { app: 'web' } } },
      });

      const events = (await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/events`)).json<ClusterEventList>();
      expect(events.items.map((e) => e.reason)).toEqual(['Unhealthy', 'BackOff']);
    });

    it('shows the heartbeat’s summary and the agent’s capabilities in the cluster and the fleet', async () => {
      const cluster = (await get(viewerA, `/api/v1/clusters/${alpha.clusterId}`)).json<{
        summary: { nodesTotal: number; nodesReady: number; podsTotal: number };
        lastHeartbeatAt: string | null;
        capabilities: unknown;
      }>();
      expect(cluster.summary).toMatchObject({ nodesTotal: 2, nodesReady: 1, podsTotal: 250 });
      expect(cluster.lastHeartbeatAt).not.toBeNull();
      expect(cluster.capabilities).toEqual({ pods: true, logs: false, apply: false, selfUpdate: false });
      const fleet = (await get(viewerA, '/api/v1/fleet')).json<FleetResponse>();
      const item = fleet.clusters.find((c) => c.id === alpha.clusterId);
      expect(item?.summary).toMatchObject({ nodesTotal: 2, nodesReady: 1, podsTotal: 250 });
      expect(item?.capabilities).toEqual({ pods: true, logs: false, apply: false, selfUpdate: false });
      expect(fleet.totals.nodes).toBe(2);
      expect(fleet.totals.pods).toBe(250);
    });

    it('shows one pod with its containers, requests, limits and last usage', async () => {
      const web = (
        await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/pods/shop/web-007`)
      ).json<ClusterPodDetail>();
      expect(web.pod).toEqual(alphaPods.find((p) => p.name === 'web-007'));
      expect(web.pod.containers[0]?.requests).toBeDefined();
      expect(web.usage).toEqual({ cpuMilli: 35, memoryBytes: 120 * MI });
      const worker = (
        await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/pods/shop/worker-0`)
      ).json<ClusterPodDetail>();
      expect(worker.pod.containers[0]?.reason).toBe('ContainerCreating');
      expect(worker.usage).toBeNull();
      const missing = await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/pods/shop/nope`);
      expect(missing.statusCode).toBe(404);
      expect(missing.json<{ error: { message: string } }>().error.message).toContain('shop/nope');
      // Another organization's cluster: as if it did not exist.
      expect((await get(ownerB, `/api/v1/clusters/${alpha.clusterId}/pods/shop/web-007`)).statusCode).toBe(404);
    });

    it('pages through all pods of visible clusters with a keyset cursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/pods?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
        const res = await get(viewerA, url);
        expect(res.statusCode, res.body).toBe(200);
        const page = res.json<PodPage>();
        expect(page.items.length).toBeLessThanOrEqual(100);
        seen.push(...page.items.map((p) => `${p.clusterName}/${p.namespace}/${p.name}`));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toHaveLength(250);
      expect(new Set(seen).size).toBe(250);
      expect(seen.every((s) => s.startsWith('hb-alpha/'))).toBe(true);
      expect(seen.slice(0, 2)).toEqual(['hb-alpha/kube-system/coredns-0', 'hb-alpha/kube-system/coredns-1']);
    });

    it('filters pods by cluster, namespace, status and name', async () => {
      const pods = async (user: TestUser, query: string) =>
        (await get(user, `/api/v1/pods?${query}`)).json<PodPage>().items;
      const inNs = await pods(viewerA, `cluster=${alpha.clusterId}&namespace=kube-system&limit=1000`);
      expect(inNs).toHaveLength(9);
      const pending = await pods(viewerA, 'status=pending');
      expect(pending.map((p) => p.name)).toEqual(['worker-0']);
      expect(pending[0]).toMatchObject({
        clusterId: alpha.clusterId,
        clusterName: 'hb-alpha',
        namespace: 'shop',
        phase: 'Pending',
        status: 'pending',
        nodeName: null,
        readyContainers: 0,
        totalContainers: 1,
        images: ['ghcr.io/acme/worker:2.0'],
        ownerKind: 'Deployment',
        ownerName: 'worker',
      });
      expect((await pods(viewerA, 'q=WEB-23')).map((p) => p.name)).toEqual([
        'web-230',
        'web-231',
        'web-232',
        'web-233',
        'web-234',
        'web-235',
        'web-236',
        'web-237',
        'web-238',
        'web-239',
      ]);
      // The per-cluster route takes the same filters.
      const perCluster = await get(viewerA, `/api/v1/clusters/${alpha.clusterId}/pods?namespace=shop&status=pending`);
      expect(perCluster.json<PodPage>().items.map((p) => p.name)).toEqual(['worker-0']);
      // Org B sees only its own cluster's pods, whichever cluster it names.
      expect(await pods(ownerB, `cluster=${alpha.clusterId}`)).toEqual([]);
      expect((await pods(ownerB, 'limit=1000')).map((p) => p.clusterName)).toEqual(['hb-gamma', 'hb-gamma']);
    });

    it('rejects bad pod queries with 400 naming the parameter', async () => {
      for (const [query, field] of [
        ['limit=0', 'querystring.limit'],
        ['limit=1001', 'querystring.limit'],
        ['status=sleeping', 'querystring.status'],
        ['cursor=bm90LWEtY3Vyc29y', 'querystring.cursor'],
      ]) {
        const res = await get(viewerA, `/api/v1/pods?${query}`);
        expect(res.statusCode, query).toBe(400);
        expect(res.json<{ error: { message: string } }>().error.message).toContain(field);
      }
    });

    it('lists images with the visible clusters that run them and their pod counts', async () => {
      const a = (await get(viewerA, '/api/v1/images')).json<ImageList>();
      expect(a.items).toEqual([
        {
          image: 'ghcr.io/acme/web:1.4.2',
          clusters: [{ clusterId: alpha.clusterId, clusterName: 'hb-alpha', pods: 240 }],
        },
        {
          image: 'ghcr.io/acme/worker:2.0',
          clusters: [{ clusterId: alpha.clusterId, clusterName: 'hb-alpha', pods: 1 }],
        },
        {
          image: 'rancher/mirrored-coredns-coredns:1.12.0',
          clusters: [{ clusterId: alpha.clusterId, clusterName: 'hb-alpha', pods: 9 }],
        },
      ]);
      const filtered = (await get(viewerA, '/api/v1/images?q=ACME/W')).json<ImageList>();
      expect(filtered.items.map((i) => i.image)).toEqual(['ghcr.io/acme/web:1.4.2', 'ghcr.io/acme/worker:2.0']);
      const limited = (await get(viewerA, '/api/v1/images?limit=1')).json<ImageList>();
      expect(limited.items.map((i) => i.image)).toEqual(['ghcr.io/acme/web:1.4.2']);
      const b = (await get(ownerB, '/api/v1/images')).json<ImageList>();
      expect(b.items.map((i) => i.image)).toEqual(['ghcr.io/acme/web:1.4.2', 'registry.b.example/secret-app:9']);
      expect(b.items[0]?.clusters).toEqual([{ clusterId: gamma.clusterId, clusterName: 'hb-gamma', pods: 1 }]);
    });

    it('lists the pods that run one image (the answer to "where does this image run?")', async () => {
      const worker = (
        await get(viewerA, `/api/v1/pods?image=${encodeURIComponent('ghcr.io/acme/worker:2.0')}`)
      ).json<PodPage>();
      expect(worker.items).toHaveLength(1);
      expect(worker.items[0]?.images).toContain('ghcr.io/acme/worker:2.0');
      const web = (
        await get(viewerA, `/api/v1/pods?image=${encodeURIComponent('ghcr.io/acme/web:1.4.2')}&limit=1000`)
      ).json<PodPage>();
      expect(web.items).toHaveLength(240);
      // Exact references only: a prefix of one is not a match.
      const prefix = (
        await get(viewerA, `/api/v1/pods?image=${encodeURIComponent('ghcr.io/acme/web')}`)
      ).json<PodPage>();
      expect(prefix.items).toEqual([]);
      // Another organization's pods never show, whatever the image.
      const other = (
        await get(viewerA, `/api/v1/pods?image=${encodeURIComponent('registry.b.example/secret-app:9')}`)
      ).json<PodPage>();
      expect(other.items).toEqual([]);
    });

    it('re-enrollment makes the old agent key stop working', async () => {
      const renewedKey = await reenrollTestCluster(t, gamma);
      const hb = fullHeartbeat(1, gammaInventory);
      expect((await postHeartbeat(t, gammaKey, hb)).statusCode).toBe(401);
      expect((await postHeartbeat(t, renewedKey, hb)).statusCode).toBe(200);
      gammaKey = renewedKey;
    });

    it('deleting a cluster removes its pods and images and its agent key stops working', async () => {
      expect((await get(ownerB, '/api/v1/pods')).json<PodPage>().items).toHaveLength(2);
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/clusters/${gamma.clusterId}`,
        headers: bearer(ownerB.token),
      });
      expect(del.statusCode).toBe(204);
      expect((await get(ownerB, '/api/v1/pods')).json()).toEqual({ items: [], nextCursor: null });
      expect((await get(ownerB, '/api/v1/images')).json()).toEqual({ items: [] });
      const hb = fullHeartbeat(2, gammaInventory);
      expect((await postHeartbeat(t, gammaKey, hb)).statusCode).toBe(401);
      const left = await t.services.database.db
        .selectFrom('cluster_snapshots')
        .select('cluster_id')
        .where('cluster_id', '=', gamma.clusterId)
        .execute();
      expect(left).toEqual([]);
    });
  });
});
