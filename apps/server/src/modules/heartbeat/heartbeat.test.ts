import { gzipSync } from 'node:zlib';
import {
  AGENT_KEY_PREFIX,
  type Container,
  type Heartbeat,
  type Inventory,
  type KubeEvent,
  type Node,
  type Pod,
  type Workload,
} from '@niro/protocol';
import { buildHeartbeat, type HeartbeatOptions } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { newSecret, sha256Hex } from '../../lib/ids.js';
import { bearer, createTestApp, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, reenrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import {
  HEARTBEAT_PATH,
  postHeartbeat,
  sendHeartbeat,
  type PostHeartbeatOptions,
} from '../../test-support/heartbeats.js';
import { IncidentsRepository, clusterOfflineFingerprint } from '../incidents/incidents.repository.js';
import { HeartbeatRepository } from './heartbeat.repository.js';
import { HeartbeatService } from './heartbeat.service.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------------------------------------
// Fixtures: a small cluster whose summary can be checked by hand.

const container = (over: Partial<Container> = {}): Container => ({
  name: 'app',
  image: 'ghcr.io/acme/api:1.0.0',
  ready: true,
  restarts: 0,
  state: 'running',
  requests: { cpuMilli: 100, memoryBytes: 128 * MiB },
  limits: { memoryBytes: 256 * MiB },
  probes: { liveness: true, readiness: true, startup: false },
  privileged: false,
  ...over,
});

const pod = (name: string, over: Partial<Pod> = {}): Pod => ({
  namespace: 'shop',
  name,
  uid: `uid-${name}`,
  phase: 'Running',
  nodeName: 'node-1',
  owner: { kind: 'Deployment', name: 'api' },
  startedAt: '2026-03-01T10:00:00Z',
  imagePullSecrets: ['ghcr-acme'],
  containers: [container()],
  ...over,
});

const NODES: Node[] = [
  {
    name: 'node-1',
    ready: true,
    roles: ['control-plane'],
    kubeletVersion: 'v1.31.4+k3s1',
    capacity: { cpuMilli: 4000, memoryBytes: 8 * GiB, pods: 110 },
    allocatable: { cpuMilli: 3800, memoryBytes: 7 * GiB, pods: 110 },
    conditions: [],
    unschedulable: false,
  },
  {
    name: 'node-2',
    ready: false,
    roles: [],
    kubeletVersion: 'v1.31.4+k3s1',
    // No allocatable reported: capacity counts instead.
    capacity: { cpuMilli: 2000, memoryBytes: 4 * GiB },
    allocatable: {},
    conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }],
    unschedulable: false,
  },
];

const PODS: Pod[] = [
  pod('api-1', {
    containers: [
      container({ restarts: 2 }),
      container({
        name: 'envoy',
        image: 'envoyproxy/envoy:v1.30.1',
        ready: false,
        restarts: 1,
        requests: { cpuMilli: 50, memoryBytes: 64 * MiB },
      }),
    ],
  }),
  pod('api-2', {
    phase: 'Pending',
    nodeName: undefined,
    containers: [container({ ready: false, state: 'waiting', reason: 'ContainerCreating' })],
  }),
  pod('migrate-1', {
    phase: 'Succeeded',
    owner: { kind: 'Job', name: 'migrate' },
    containers: [
      container({
        image: 'ghcr.io/acme/migrate:1.0.0',
        ready: false,
        state: 'terminated',
        requests: { cpuMilli: 500, memoryBytes: GiB },
      }),
    ],
  }),
  pod('worker-1', {
    owner: { kind: 'Deployment', name: 'worker' },
    containers: [
      container({
        image: 'ghcr.io/acme/worker:2.0.0',
        ready: false,
        state: 'waiting',
        reason: 'CrashLoopBackOff',
        restarts: 7,
      }),
    ],
  }),
];

const WORKLOADS: Workload[] = [
  {
    kind: 'Deployment',
    namespace: 'shop',
    name: 'api',
    replicas: 2,
    readyReplicas: 1,
    updatedReplicas: 2,
    availableReplicas: 1,
    generation: 3,
    observedGeneration: 3,
    template: { spec: { containers: [{ name: 'app', image: 'ghcr.io/acme/api:1.0.0' }] } },
  },
];

const EVENTS: KubeEvent[] = [
  {
    namespace: 'shop',
    involvedObject: { kind: 'Pod', name: 'worker-1' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container app',
    count: 12,
    firstTimestamp: '2026-03-01T11:00:00Z',
    lastTimestamp: '2026-03-01T11:59:00Z',
  },
];

const USAGE: NonNullable<Heartbeat['usage']> = {
  nodes: { 'node-1': [1200, 3 * GiB], 'node-2': [300, GiB] },
  pods: { 'shop/api-1': [40, 200 * MiB] },
};

const full = (hash: string, pods: Pod[] = PODS): Inventory => ({
  mode: 'full',
  hash,
  nodes: NODES,
  pods,
  workloads: WORKLOADS,
});

const heartbeat = (seq: number, inventory: Inventory, over: Partial<HeartbeatOptions> = {}): Heartbeat =>
  buildHeartbeat(inventory, {
    seq,
    now: Date.parse('2026-03-01T12:00:00Z'),
    agentVersion: '0.1.0',
    capabilities: { pods: true, logs: true, apply: false, selfUpdate: false },
    kubernetesVersion: 'v1.31.4+k3s1',
    distribution: 'k3s',
    usage: USAGE,
    events: EVENTS,
    ...over,
  });

// ---------------------------------------------------------------------------------------------

describeEachDatabase('heartbeat ingest', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.dispose());

  const db = () => t.services.database.db;

  /** An enrolled cluster, in an org of its own, that has sent no heartbeat yet. */
  const createCluster = () => enrollTestCluster(t, { environment: 'production' });
  const post = (agentKey: string | null, body: unknown, opts: PostHeartbeatOptions = {}) =>
    postHeartbeat(t, agentKey, body, opts);
  const ok = (agentKey: string, body: Heartbeat, opts: { gzip?: boolean } = {}) =>
    sendHeartbeat(t, agentKey, body, opts);
  /** Another service on the same database with nothing in memory, as after a restart. */
  const freshService = (options?: ConstructorParameters<typeof HeartbeatService>[5]) =>
    new HeartbeatService(
      new HeartbeatRepository(t.services.database.db),
      t.services.clock,
      t.services.config,
      t.services.logger,
      t.services.metrics,
      options,
    );

  const clusterRow = (id: string) =>
    db().selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const snapshot = (id: string) =>
    db().selectFrom('cluster_snapshots').selectAll().where('cluster_id', '=', id).executeTakeFirst();
  const podRows = (id: string) =>
    db().selectFrom('cluster_pods').selectAll().where('cluster_id', '=', id).orderBy('name').execute();
  const imageRows = async (id: string) =>
    Object.fromEntries(
      (await db().selectFrom('cluster_images').selectAll().where('cluster_id', '=', id).execute()).map((r) => [
        r.image,
        r.pods,
      ]),
    );
  const docOf = async (
    id: string,
  ): Promise<{ nodes: Node[]; pods: Pod[]; workloads: Workload[]; events: KubeEvent[]; usage: unknown }> =>
    JSON.parse((await snapshot(id))?.doc ?? 'null');

  it('stores a gzipped full heartbeat as one document, summary columns and derived rows', async () => {
    const c = await createCluster();
    const reply = await ok(c.agentKey, heartbeat(1, full('h1')), { gzip: true });
    expect(reply).toEqual({ ack: 1, heartbeatIntervalSeconds: 15 });

    const row = await clusterRow(c.clusterId);
    expect(row).toMatchObject({
      // The inventory holds an unready node and a crash-looping pod: high incidents (DESIGN 4.1).
      status: 'critical',
      status_changed_at: t.clock.now(),
      last_heartbeat_at: t.clock.now(),
      last_seq: 1,
      agent_version: '0.1.0',
      kubernetes_version: 'v1.31.4+k3s1',
      distribution: 'k3s',
      nodes_total: 2,
      nodes_ready: 1,
      pods_total: 4,
      pods_running: 1,
      pods_pending: 1,
      pods_failed: 1,
      // Allocatable of node-1 plus capacity of node-2, which reports no allocatable.
      cpu_capacity_milli: 3800 + 2000,
      memory_capacity_bytes: 7 * GiB + 4 * GiB,
      // Requests of pods that are not terminated: the Succeeded migration does not count.
      cpu_requests_milli: 100 + 50 + 100 + 100,
      memory_requests_bytes: (128 + 64 + 128 + 128) * MiB,
      // Usage as the nodes report it.
      cpu_usage_milli: 1500,
      memory_usage_bytes: 4 * GiB,
    });
    expect(JSON.parse(row.capabilities ?? 'null')).toEqual({ pods: true, logs: true, apply: false, selfUpdate: false });

    const snap = await snapshot(c.clusterId);
    expect(snap?.hash).toBe('h1');
    const doc = await docOf(c.clusterId);
    expect(doc.nodes).toEqual(NODES);
    expect(doc.pods).toEqual(PODS);
    expect(doc.workloads).toEqual(WORKLOADS);
    expect(doc.events).toEqual(EVENTS);
    expect(doc.usage).toEqual(USAGE);

    const pods = await podRows(c.clusterId);
    expect(pods.map((p) => [p.name, p.status, p.restarts, p.ready_containers, p.total_containers])).toEqual([
      ['api-1', 'running', 3, 1, 2],
      ['api-2', 'pending', 0, 0, 1],
      ['migrate-1', 'succeeded', 0, 0, 1],
      ['worker-1', 'crashloop', 7, 0, 1],
    ]);
    expect(JSON.parse(pods[0]?.images ?? '[]')).toEqual(['ghcr.io/acme/api:1.0.0', 'envoyproxy/envoy:v1.30.1']);
    expect(pods[0]).toMatchObject({
      node_name: 'node-1',
      owner_kind: 'Deployment',
      owner_name: 'api',
      phase: 'Running',
    });
    expect(pods[1]?.node_name).toBeNull();
    expect(await imageRows(c.clusterId)).toEqual({
      'ghcr.io/acme/api:1.0.0': 2,
      'envoyproxy/envoy:v1.30.1': 1,
      'ghcr.io/acme/migrate:1.0.0': 1,
      'ghcr.io/acme/worker:2.0.0': 1,
    });
  });

  it('leaves usage null when the agent reports none, never invented', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1'), { usage: undefined }));
    expect(await clusterRow(c.clusterId)).toMatchObject({ cpu_usage_milli: null, memory_usage_bytes: null });
    // Without node figures the pods' sum is the cluster's usage.
    await ok(c.agentKey, heartbeat(2, { mode: 'same', hash: 'h1' }, { usage: { pods: { 'shop/api-1': [40, 200] } } }));
    expect(await clusterRow(c.clusterId)).toMatchObject({ cpu_usage_milli: 40, memory_usage_bytes: 200 });
  });

  it('applies a delta onto its base and rewrites only the rows that changed', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    // Past the document window, so this delta writes the document at once (deferral: below).
    t.clock.advance(30_000);
    // A marker on a row the delta does not touch proves the row is not rewritten.
    await db()
      .updateTable('cluster_pods')
      .set({ restarts: 999 })
      .where('cluster_id', '=', c.clusterId)
      .where('name', '=', 'migrate-1')
      .execute();

    const healed = pod('worker-1', {
      owner: { kind: 'Deployment', name: 'worker' },
      containers: [container({ image: 'ghcr.io/acme/worker:2.0.1', restarts: 7 })],
    });
    const added = pod('api-3', { nodeName: 'node-1' });
    const reply = await ok(
      c.agentKey,
      heartbeat(2, {
        mode: 'delta',
        baseHash: 'h1',
        hash: 'h2',
        upsert: { pods: [healed, added] },
        remove: { pods: ['shop/api-2'] },
      }),
    );
    expect(reply).toEqual({ ack: 2, heartbeatIntervalSeconds: 15 });

    const pods = await podRows(c.clusterId);
    expect(pods.map((p) => [p.name, p.status, p.restarts])).toEqual([
      ['api-1', 'running', 3],
      ['api-3', 'running', 0],
      ['migrate-1', 'succeeded', 999],
      ['worker-1', 'running', 7],
    ]);
    expect(await imageRows(c.clusterId)).toEqual({
      'ghcr.io/acme/api:1.0.0': 2,
      'envoyproxy/envoy:v1.30.1': 1,
      'ghcr.io/acme/migrate:1.0.0': 1,
      'ghcr.io/acme/worker:2.0.1': 1,
    });
    expect(await clusterRow(c.clusterId)).toMatchObject({
      pods_total: 4,
      pods_running: 3,
      pods_pending: 0,
      pods_failed: 0,
    });
    expect((await snapshot(c.clusterId))?.hash).toBe('h2');
    const doc = await docOf(c.clusterId);
    expect(doc.pods.map((p) => p.name)).toEqual(['api-1', 'migrate-1', 'worker-1', 'api-3']);
    expect(doc.pods.find((p) => p.name === 'worker-1')).toEqual(healed);
  });

  describe('defers the document of a delta to at most once per window (ADR 0002)', () => {
    const WINDOW = 30_000;
    const toH2 = (seq: number) =>
      heartbeat(seq, { mode: 'delta', baseHash: 'h1', hash: 'h2', upsert: { pods: [pod('api-3')] }, remove: {} });
    const toH3 = (seq: number) =>
      heartbeat(seq, { mode: 'delta', baseHash: 'h2', hash: 'h3', upsert: {}, remove: { pods: ['shop/api-1'] } });

    it('writes summary and pod rows at once, and the document with its hash on the next heartbeat after the window', async () => {
      const c = await createCluster();
      await ok(c.agentKey, heartbeat(1, full('h1')));
      const before = await snapshot(c.clusterId);
      t.clock.advance(5_000);
      expect(await ok(c.agentKey, toH2(2))).toEqual({ ack: 2, heartbeatIntervalSeconds: 15 });
      expect(await snapshot(c.clusterId)).toEqual(before);
      expect((await podRows(c.clusterId)).map((p) => p.name)).toEqual([
        'api-1',
        'api-2',
        'api-3',
        'migrate-1',
        'worker-1',
      ]);
      expect(await clusterRow(c.clusterId)).toMatchObject({ last_seq: 2, pods_total: 5, pods_running: 2 });

      // A second delta within the window, onto the hash only memory holds: applied, still deferred.
      t.clock.advance(15_000);
      expect((await ok(c.agentKey, toH3(3))).resendFull).toBeUndefined();
      expect(await snapshot(c.clusterId)).toEqual(before);
      expect((await podRows(c.clusterId)).map((p) => p.name)).toEqual(['api-2', 'api-3', 'migrate-1', 'worker-1']);
      expect(await clusterRow(c.clusterId)).toMatchObject({ pods_total: 4 });

      // The window since the last document write has passed: this `same` writes document and hash.
      t.clock.advance(WINDOW - 20_000);
      const newer: KubeEvent[] = [{ ...EVENTS[0]!, count: 20 }];
      await ok(c.agentKey, heartbeat(4, { mode: 'same', hash: 'h3' }, { events: newer }));
      const snap = await snapshot(c.clusterId);
      expect(snap).toMatchObject({ hash: 'h3', updated_at: t.clock.now() });
      const doc = await docOf(c.clusterId);
      expect(doc.pods.map((p) => p.name)).toEqual(['api-2', 'migrate-1', 'worker-1', 'api-3']);
      expect(doc.nodes).toEqual(NODES);
      expect(doc.events).toEqual(newer);
    });

    it('writes deferred documents on flush, and once due on a heartbeat of another cluster', async () => {
      const [c, other] = await Promise.all([createCluster(), createCluster()]);
      const service = freshService();
      const agent = await service.authenticate(`Bearer ${c.agentKey}`);
      const otherAgent = await service.authenticate(`Bearer ${other.agentKey}`);
      await service.ingest(agent, heartbeat(1, full('h1')));
      await service.ingest(otherAgent, heartbeat(1, full('o1')));
      t.clock.advance(1_000);
      await service.ingest(agent, toH2(2));
      expect((await snapshot(c.clusterId))?.hash).toBe('h1');
      await service.flush();
      expect((await snapshot(c.clusterId))?.hash).toBe('h2');
      expect((await docOf(c.clusterId)).pods.map((p) => p.name)).toContain('api-3');

      // Flushed just now, so the next delta is within the window again; then the cluster goes quiet.
      t.clock.advance(1_000);
      await service.ingest(agent, toH3(3));
      expect((await snapshot(c.clusterId))?.hash).toBe('h2');
      t.clock.advance(WINDOW);
      await service.ingest(otherAgent, heartbeat(2, { mode: 'same', hash: 'o1' }));
      await vi.waitFor(async () => expect((await snapshot(c.clusterId))?.hash).toBe('h3'));
      expect((await docOf(c.clusterId)).pods.map((p) => p.name)).not.toContain('api-1');
      await service.flush();
    });

    it('after a restart, answers a delta on the newest hash with resendFull while the stored document was older, and applies it once written', async () => {
      const c = await createCluster();
      const first = freshService();
      const agent = await first.authenticate(`Bearer ${c.agentKey}`);
      await first.ingest(agent, heartbeat(1, full('h1')));
      t.clock.advance(1_000);
      await first.ingest(agent, toH2(2));
      // The process stops without its shutdown flush: the stored pair is still h1.
      const podsAtH2 = await podRows(c.clusterId);
      const restarted = freshService();
      const again = await restarted.authenticate(`Bearer ${c.agentKey}`);
      expect((await restarted.ingest(again, toH3(3))).resendFull).toBe(true);
      expect(await snapshot(c.clusterId)).toMatchObject({ hash: 'h1' });
      expect(await podRows(c.clusterId)).toEqual(podsAtH2);

      // Had the document been written (here by the first process's flush), the delta applies.
      await first.flush();
      expect((await snapshot(c.clusterId))?.hash).toBe('h2');
      const later = freshService();
      const third = await later.authenticate(`Bearer ${c.agentKey}`);
      expect((await later.ingest(third, toH3(4))).resendFull).toBeUndefined();
      // The first delta after a restart writes the document at once: nothing of it was written here yet.
      expect((await snapshot(c.clusterId))?.hash).toBe('h3');
      expect((await podRows(c.clusterId)).map((p) => p.name)).toEqual(['api-2', 'api-3', 'migrate-1', 'worker-1']);
      await Promise.all([restarted.flush(), later.flush()]);
    });

    it('after a restart, a delta onto the older stored document also undoes rows written ahead of it', async () => {
      const c = await createCluster();
      const first = freshService();
      const agent = await first.authenticate(`Bearer ${c.agentKey}`);
      await first.ingest(agent, heartbeat(1, full('h1')));
      t.clock.advance(1_000);
      // Deferred: rows hold api-3, the stored document is still h1. The agent never gets this reply.
      await first.ingest(agent, toH2(2));
      expect((await podRows(c.clusterId)).map((p) => p.name)).toContain('api-3');
      const restarted = freshService();
      const again = await restarted.authenticate(`Bearer ${c.agentKey}`);
      // The agent, still on h1, sends a delta to its current inventory, where api-3 is gone again.
      const reply = await restarted.ingest(
        again,
        heartbeat(3, { mode: 'delta', baseHash: 'h1', hash: 'h4', upsert: {}, remove: { pods: ['shop/api-1'] } }),
      );
      expect(reply.resendFull).toBeUndefined();
      expect((await podRows(c.clusterId)).map((p) => p.name)).toEqual(['api-2', 'migrate-1', 'worker-1']);
      expect(await clusterRow(c.clusterId)).toMatchObject({ pods_total: 3 });
      expect((await snapshot(c.clusterId))?.hash).toBe('h4');
      await restarted.flush();
    });

    it('writes nothing for a deferred document of a cluster deleted meanwhile', async () => {
      const c = await createCluster();
      const service = freshService();
      const agent = await service.authenticate(`Bearer ${c.agentKey}`);
      await service.ingest(agent, heartbeat(1, full('h1')));
      t.clock.advance(1_000);
      await service.ingest(agent, toH2(2));
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/clusters/${c.clusterId}`,
        headers: bearer(c.owner.token),
      });
      expect(del.statusCode).toBe(204);
      await service.flush();
      expect(await snapshot(c.clusterId)).toBeUndefined();
    });
  });

  it('asks for a full inventory when a delta does not start from the stored hash, and changes no inventory', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    const before = await snapshot(c.clusterId);
    const podsBefore = await podRows(c.clusterId);
    t.clock.advance(15_000);
    const reply = await ok(
      c.agentKey,
      heartbeat(2, { mode: 'delta', baseHash: 'elsewhere', hash: 'h9', upsert: { pods: [pod('x-1')] }, remove: {} }),
    );
    expect(reply).toEqual({ ack: 2, heartbeatIntervalSeconds: 15, resendFull: true });
    expect(await snapshot(c.clusterId)).toEqual(before);
    expect(await podRows(c.clusterId)).toEqual(podsBefore);
    // Liveness is still recorded.
    expect(await clusterRow(c.clusterId)).toMatchObject({
      last_seq: 2,
      last_heartbeat_at: t.clock.now(),
      pods_total: 4,
    });
  });

  it('keeps the inventory on a matching same heartbeat without rewriting the document', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    const before = await snapshot(c.clusterId);
    t.clock.advance(15_000);
    const newUsage: Heartbeat['usage'] = { nodes: { 'node-1': [900, 2 * GiB] } };
    expect(await ok(c.agentKey, heartbeat(2, { mode: 'same', hash: 'h1' }, { usage: newUsage }))).toEqual({
      ack: 2,
      heartbeatIntervalSeconds: 15,
    });
    expect(await snapshot(c.clusterId)).toEqual(before);
    expect(await clusterRow(c.clusterId)).toMatchObject({
      last_seq: 2,
      last_heartbeat_at: t.clock.now(),
      cpu_usage_milli: 900,
      memory_usage_bytes: 2 * GiB,
      pods_total: 4,
    });

    // A hash the server does not hold: resend.
    const stale = await ok(c.agentKey, heartbeat(3, { mode: 'same', hash: 'h0' }));
    expect(stale.resendFull).toBe(true);
    expect(await snapshot(c.clusterId)).toEqual(before);
  });

  it('keeps the last pod usage of an agent that sends it less often than node usage, until it is 15 min old', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    const nodesOnly = (cpu: number): Heartbeat['usage'] => ({ nodes: { 'node-1': [cpu, GiB] } });
    // Node usage every heartbeat, pod usage every few: the document keeps the last pod figures.
    for (let seq = 2; seq <= 21; seq++) {
      t.clock.advance(15_000);
      await ok(c.agentKey, heartbeat(seq, { mode: 'same', hash: 'h1' }, { usage: nodesOnly(100 + seq) }));
    }
    expect((await docOf(c.clusterId)).usage).toEqual({ nodes: { 'node-1': [121, GiB] }, pods: USAGE.pods });
    // A new pod round replaces them.
    const pods = { 'shop/api-1': [75, 300 * MiB] as [number, number] };
    t.clock.advance(15_000);
    await ok(c.agentKey, heartbeat(22, { mode: 'same', hash: 'h1' }, { usage: { ...nodesOnly(1), pods } }));
    t.clock.advance(300_000);
    await ok(c.agentKey, heartbeat(23, { mode: 'same', hash: 'h1' }, { usage: nodesOnly(2) }));
    expect((await docOf(c.clusterId)).usage).toEqual({ nodes: { 'node-1': [2, GiB] }, pods });
    // Past 15 minutes without a pod round, pod usage is stale and goes away rather than lingering.
    t.clock.advance(15 * 60_000);
    await ok(c.agentKey, heartbeat(24, { mode: 'same', hash: 'h1' }, { usage: nodesOnly(3) }));
    expect((await docOf(c.clusterId)).usage).toEqual({ nodes: { 'node-1': [3, GiB] } });
  });

  it('refreshes changed events in the document at most once a minute while the inventory stays the same', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    const newer: KubeEvent[] = [{ ...EVENTS[0]!, count: 13, lastTimestamp: '2026-03-01T12:00:10Z' }];
    t.clock.advance(15_000);
    await ok(c.agentKey, heartbeat(2, { mode: 'same', hash: 'h1' }, { events: newer }));
    expect((await docOf(c.clusterId)).events).toEqual(EVENTS);
    t.clock.advance(60_000);
    await ok(c.agentKey, heartbeat(3, { mode: 'same', hash: 'h1' }, { events: newer }));
    const doc = await docOf(c.clusterId);
    expect(doc.events).toEqual(newer);
    expect(doc.pods).toEqual(PODS);
    expect((await snapshot(c.clusterId))?.hash).toBe('h1');
  });

  it('asks for a full inventory on delta or same when nothing is stored yet', async () => {
    const c = await createCluster();
    const d = await ok(c.agentKey, heartbeat(1, { mode: 'delta', baseHash: 'h1', hash: 'h2', upsert: {}, remove: {} }));
    expect(d.resendFull).toBe(true);
    const s = await ok(c.agentKey, heartbeat(2, { mode: 'same', hash: 'h1' }));
    expect(s.resendFull).toBe(true);
    expect(await snapshot(c.clusterId)).toBeUndefined();
    expect(await clusterRow(c.clusterId)).toMatchObject({ status: 'healthy', last_seq: 2, pods_total: 0 });
  });

  it('falls back to the stored document after a restart, and evicts inventories beyond its memory budget', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    // A one-byte budget keeps no inventory in memory, so every delta reads the stored document.
    const restarted = freshService({ inventoryCacheBytes: 1 });
    const agent = await restarted.authenticate(`Bearer ${c.agentKey}`);
    expect(await restarted.ingest(agent, heartbeat(2, { mode: 'same', hash: 'h1' }))).toEqual({
      ack: 2,
      heartbeatIntervalSeconds: 15,
    });
    const first = await restarted.ingest(
      agent,
      heartbeat(3, { mode: 'delta', baseHash: 'h1', hash: 'h2', upsert: { pods: [pod('api-4')] }, remove: {} }),
    );
    expect(first.resendFull).toBeUndefined();
    const second = await restarted.ingest(
      agent,
      heartbeat(4, { mode: 'delta', baseHash: 'h2', hash: 'h3', upsert: {}, remove: { pods: ['shop/api-1'] } }),
    );
    expect(second.resendFull).toBeUndefined();
    const doc = await docOf(c.clusterId);
    expect(doc.pods.map((p) => p.name)).toEqual(['api-2', 'migrate-1', 'worker-1', 'api-4']);
    expect((await podRows(c.clusterId)).map((p) => p.name)).toEqual(['api-2', 'api-4', 'migrate-1', 'worker-1']);
    expect((await restarted.ingest(agent, heartbeat(5, { mode: 'same', hash: 'h2' }))).resendFull).toBe(true);
    await restarted.flush();
  });

  it('diffs a full inventory after a restart against the stored rows', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    const restarted = freshService();
    const agent = await restarted.authenticate(`Bearer ${c.agentKey}`);
    await restarted.ingest(agent, heartbeat(2, full('h2', PODS.slice(1))));
    expect((await podRows(c.clusterId)).map((p) => p.name)).toEqual(['api-2', 'migrate-1', 'worker-1']);
    expect(await imageRows(c.clusterId)).toEqual({
      'ghcr.io/acme/api:1.0.0': 1,
      'ghcr.io/acme/migrate:1.0.0': 1,
      'ghcr.io/acme/worker:2.0.0': 1,
    });
    await restarted.flush();
  });

  it('commits heartbeats in batches, answers each after its commit, and writes the rest on flush', async () => {
    const clusters = await Promise.all([1, 2, 3, 4].map(() => createCluster()));
    const service = freshService({
      writer: { maxBatchItems: 3, maxBatchBytes: 64 * MiB, maxDelayMs: 3_600_000 },
    });
    const agents = await Promise.all(clusters.map((c) => service.authenticate(`Bearer ${c.agentKey}`)));
    // Three heartbeats fill a batch and are answered once it is committed.
    const replies = await Promise.all(
      agents.slice(0, 3).map((a, i) => service.ingest(a, heartbeat(10 + i, full(`b${i}`)))),
    );
    expect(replies.map((r) => r.ack)).toEqual([10, 11, 12]);
    const rows = await Promise.all(clusters.map((c) => clusterRow(c.clusterId)));
    expect(rows.map((r) => r.last_seq)).toEqual([10, 11, 12, null]);
    // A fourth alone waits for its batch (the delay here is an hour): no answer, nothing stored.
    let answered = false;
    const fourth = service.ingest(agents[3]!, heartbeat(13, full('b3'))).then((r) => {
      answered = true;
      return r;
    });
    await clusterRow(clusters[3]!.clusterId);
    expect(answered).toBe(false);
    expect(await snapshot(clusters[3]!.clusterId)).toBeUndefined();
    // Shutdown writes it out.
    await service.flush();
    expect((await fourth).ack).toBe(13);
    expect((await clusterRow(clusters[3]!.clusterId)).last_seq).toBe(13);
    expect((await snapshot(clusters[3]!.clusterId))?.hash).toBe('b3');
  });

  it('revives an offline cluster on its next heartbeat and resolves its offline incident', async () => {
    const c = await createCluster();
    await ok(c.agentKey, heartbeat(1, full('h1')));
    // Set directly what the status job does after five silent minutes: run here, the job would see
    // every cluster of this shared app silent and open one fleet incident instead.
    await db().updateTable('clusters').set({ status: 'offline' }).where('id', '=', c.clusterId).execute();
    const incidents = new IncidentsRepository(db());
    await incidents.open(
      {
        orgId: c.orgId,
        clusterId: c.clusterId,
        type: 'cluster_offline',
        severity: 'high',
        scope: 'cluster',
        fingerprint: clusterOfflineFingerprint(c.clusterId),
        title: 'offline',
      },
      t.clock.now(),
    );
    t.clock.advance(600_000);
    await ok(c.agentKey, heartbeat(2, { mode: 'same', hash: 'h1' }));
    expect(await clusterRow(c.clusterId)).toMatchObject({ status: 'healthy', status_changed_at: t.clock.now() });
    const incident = await db()
      .selectFrom('incidents')
      .selectAll()
      .where('fingerprint', '=', clusterOfflineFingerprint(c.clusterId))
      .executeTakeFirstOrThrow();
    expect(incident).toMatchObject({ state: 'resolved', resolved_at: t.clock.now(), open_fingerprint: null });
  });

  it('documents the route in the OpenAPI document', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json<{
      paths: Record<string, { post?: { tags?: string[]; requestBody?: unknown } }>;
    }>();
    const op = doc.paths[HEARTBEAT_PATH]?.post;
    expect(op?.tags).toEqual(['agent']);
    expect(JSON.stringify(op?.requestBody)).toContain('inventory');
  });

  it('ignores unknown fields, so newer agents can add some', async () => {
    const c = await createCluster();
    const body = {
      ...heartbeat(1, full('h1', [{ ...PODS[0]!, qosClass: 'Burstable' } as Pod])),
      gpu: { count: 2 },
    };
    expect(await ok(c.agentKey, body)).toEqual({ ack: 1, heartbeatIntervalSeconds: 15 });
  });

  describe('refuses bad input with a 4xx naming the problem and changes nothing', () => {
    let c: EnrolledTestCluster;
    beforeAll(async () => {
      c = await createCluster();
      await ok(c.agentKey, heartbeat(1, full('h1')));
    });

    const good = () => heartbeat(2, { mode: 'same', hash: 'h1' });
    const withoutAgent = (): Record<string, unknown> => {
      const { agent: _agent, ...rest } = good();
      return rest;
    };
    const gzipBody = gzipSync(JSON.stringify(heartbeat(2, full('h9'))));

    const cases: {
      name: string;
      send: () => ReturnType<typeof post>;
      status: number;
      code: string;
      message: RegExp;
    }[] = [
      {
        name: 'malformed JSON',
        send: () => post(c.agentKey, null, { raw: '{"seq": 2, "sentAt": ' }),
        status: 400,
        code: 'invalid_json',
        message: /not valid JSON/,
      },
      {
        name: 'a wrong type',
        send: () => post(c.agentKey, { ...good(), seq: '2' }),
        status: 400,
        code: 'invalid_request',
        message: /body\.seq/,
      },
      {
        name: 'a wrong type deep in a pod',
        send: () =>
          post(c.agentKey, heartbeat(2, full('h9', [{ ...PODS[0]!, containers: [{ ...container(), restarts: -1 }] }]))),
        status: 400,
        code: 'invalid_request',
        message: /body\.inventory\.pods\[0\]\.containers\[0\]\.restarts/,
      },
      {
        name: 'a malformed usage pair',
        send: () => post(c.agentKey, { ...good(), usage: { nodes: { 'node-1': [1200] } } }),
        status: 400,
        code: 'invalid_request',
        message: /body\.usage\.nodes/,
      },
      {
        name: 'an unknown inventory mode',
        send: () => post(c.agentKey, { ...good(), inventory: { mode: 'partial', hash: 'h1' } }),
        status: 400,
        code: 'invalid_request',
        message: /body\.inventory\.mode: must be one of \["full","delta","same"\]/,
      },
      {
        name: 'a missing field',
        send: () => post(c.agentKey, withoutAgent()),
        status: 400,
        code: 'invalid_request',
        message: /body\.agent: is required/,
      },
      {
        name: 'a delta without its base hash',
        send: () => post(c.agentKey, { ...good(), inventory: { mode: 'delta', hash: 'h2', upsert: {}, remove: {} } }),
        status: 400,
        code: 'invalid_request',
        message: /^Invalid request: body\.inventory\.baseHash: is required$/,
      },
      {
        name: 'a body over 16 MiB',
        send: () => post(c.agentKey, null, { raw: `{"pad":"${'x'.repeat(16 * MiB)}"}` }),
        status: 413,
        code: 'body_too_large',
        message: /larger/,
      },
      {
        name: 'truncated gzip',
        send: () => post(c.agentKey, null, { gzip: true, raw: gzipBody.subarray(0, gzipBody.length - 20) }),
        status: 400,
        code: 'invalid_gzip',
        message: /could not be decompressed/,
      },
      {
        name: 'a gzip bomb',
        send: () => post(c.agentKey, null, { gzip: true, raw: gzipSync(Buffer.alloc(40 * MiB, 0x20)) }),
        status: 413,
        code: 'body_too_large',
        message: /16777216-byte limit/,
      },
      {
        name: 'a wrong agent key',
        send: () => post(newSecret(AGENT_KEY_PREFIX), good()),
        status: 401,
        code: 'invalid_agent_key',
        message: /agent key/,
      },
      {
        name: 'no agent key',
        send: () => post(null, good()),
        status: 401,
        code: 'invalid_agent_key',
        message: /Authorization: Bearer/,
      },
      {
        name: 'an API token instead of an agent key',
        send: () => post('niro_pat_abc', good()),
        status: 401,
        code: 'invalid_agent_key',
        message: /agent key/,
      },
    ];

    for (const tc of cases) {
      it(tc.name, async () => {
        const rowBefore = await clusterRow(c.clusterId);
        const snapBefore = await snapshot(c.clusterId);
        const podsBefore = await podRows(c.clusterId);
        t.clock.advance(1_000);
        const res = await tc.send();
        expect(res.statusCode, res.body).toBe(tc.status);
        const body = res.json<{ error: { code: string; message: string } }>();
        expect(body.error.code).toBe(tc.code);
        expect(body.error.message).toMatch(tc.message);
        expect(await clusterRow(c.clusterId)).toEqual(rowBefore);
        expect(await snapshot(c.clusterId)).toEqual(snapBefore);
        expect(await podRows(c.clusterId)).toEqual(podsBefore);
      });
    }

    it('a replaced key, even one the server had cached', async () => {
      const other = await createCluster();
      await ok(other.agentKey, heartbeat(1, full('h1')));
      const rowBefore = await clusterRow(other.clusterId);
      const snapBefore = await snapshot(other.clusterId);
      // Reinstalling the agent: the new key's hash replaces the old one.
      const newKey = await reenrollTestCluster(t, other);
      const after = await clusterRow(other.clusterId);
      t.clock.advance(1_000);
      const res = await post(other.agentKey, heartbeat(2, full('h2', PODS.slice(0, 1))));
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_agent_key' } });
      expect(await clusterRow(other.clusterId)).toEqual(after);
      expect(after.agent_key_hash).toBe(sha256Hex(newKey));
      expect(after.agent_key_hash).not.toBe(rowBefore.agent_key_hash);
      expect(await snapshot(other.clusterId)).toEqual(snapBefore);
    });

    it('a deleted cluster, even one the server had cached', async () => {
      const gone = await createCluster();
      await ok(gone.agentKey, heartbeat(1, full('h1')));
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/clusters/${gone.clusterId}`,
        headers: bearer(gone.owner.token),
      });
      expect(del.statusCode).toBe(204);
      const res = await post(gone.agentKey, heartbeat(2, full('h2')));
      expect(res.statusCode).toBe(401);
      expect(await snapshot(gone.clusterId)).toBeUndefined();
      expect(await podRows(gone.clusterId)).toEqual([]);
    });

    it('counts heartbeats by mode, rejections by code and bytes in the metrics', async () => {
      const res = await t.app.inject('/metrics');
      expect(res.body).toMatch(/niro_heartbeats_total\{mode="full"\} [1-9]/);
      expect(res.body).toMatch(/niro_heartbeats_total\{mode="same"\} [1-9]/);
      expect(res.body).toMatch(/niro_heartbeats_rejected_total\{code="invalid_agent_key"\} [1-9]/);
      expect(res.body).toMatch(/niro_heartbeats_rejected_total\{code="invalid_gzip"\} 1/);
      expect(res.body).toMatch(/niro_heartbeats_rejected_total\{code="body_too_large"\} 2/);
      expect(res.body).toMatch(/niro_heartbeat_received_bytes_total [1-9]/);
      expect(res.body).toMatch(/niro_snapshot_flush_seconds_count [1-9]/);
    });
  });
});
