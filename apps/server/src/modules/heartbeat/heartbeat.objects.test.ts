import type { FullInventory, Heartbeat, Inventory, Node, PolicyObject, Workload } from '@niro/protocol';
import { buildHeartbeat } from '@niro/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { HeartbeatRepository } from './heartbeat.repository.js';
import { HeartbeatService, type HeartbeatServiceOptions, type WorkloadChange } from './heartbeat.service.js';

const NODE: Node = {
  name: 'node-1',
  ready: true,
  roles: ['control-plane'],
  kubeletVersion: 'v1.31.4+k3s1',
  capacity: { cpuMilli: 2000, memoryBytes: 4 * 1024 ** 3 },
  allocatable: {},
  conditions: [],
  unschedulable: false,
};

const WORKLOAD: Workload = {
  kind: 'Deployment',
  namespace: 'shop',
  name: 'api',
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
  availableReplicas: 2,
  generation: 1,
  observedGeneration: 1,
  template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'api:1' }] } },
};

const SA: PolicyObject = { kind: 'ServiceAccount', namespace: 'shop', name: 'default' };
const PDB: PolicyObject = {
  kind: 'PodDisruptionBudget',
  namespace: 'shop',
  name: 'api',
  spec: { selector: { matchLabels: { app: 'api' } }, maxUnavailable: 1 },
};
const NETPOL: PolicyObject = { kind: 'NetworkPolicy', namespace: 'web', name: 'deny', spec: { podSelector: {} } };

const full = (hash: string, objects?: PolicyObject[]): FullInventory => ({
  mode: 'full',
  hash,
  nodes: [NODE],
  pods: [],
  workloads: [WORKLOAD],
  ...(objects === undefined ? {} : { objects }),
});

const delta = (baseHash: string, hash: string, upsert: PolicyObject[], remove: string[] = []): Inventory => ({
  mode: 'delta',
  baseHash,
  hash,
  upsert: upsert.length > 0 ? { objects: upsert } : {},
  remove: remove.length > 0 ? { objects: remove } : {},
});

const heartbeat = (seq: number, inventory: Inventory): Heartbeat =>
  buildHeartbeat(inventory, { seq, now: Date.parse('2026-03-01T12:00:00Z') });

describeEachDatabase('heartbeat policy objects', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.dispose());

  /** A service on the test database that records what it tells runtime policy, writing documents at once. */
  function service(options: Partial<HeartbeatServiceOptions> = {}) {
    const changes: WorkloadChange[] = [];
    const heartbeats = new HeartbeatService(
      new HeartbeatRepository(t.services.database.db),
      t.services.clock,
      t.services.config,
      t.services.logger,
      t.services.metrics,
      { docWriteWindowMs: 0, ...options },
    );
    heartbeats.listenForWorkloads({ workloadsChanged: (_id, change) => changes.push(change), idle: async () => {} });
    return { heartbeats, changes };
  }

  const storedDoc = async (clusterId: string): Promise<{ objects?: unknown }> => {
    const row = await t.services.database.db
      .selectFrom('cluster_snapshots')
      .select('doc')
      .where('cluster_id', '=', clusterId)
      .executeTakeFirstOrThrow();
    return JSON.parse(row.doc);
  };

  const keysOf = (objects: ReadonlyMap<string, string> | null | undefined) => (objects ? [...objects.keys()] : objects);

  it('holds and stores objects of a full inventory, and tells "none reported" from "not reported"', async () => {
    const { heartbeats, changes } = service();
    const reporting = await enrollTestCluster(t);
    const older = await enrollTestCluster(t);
    const empty = await enrollTestCluster(t);
    const a = await heartbeats.authenticate(`Bearer ${reporting.agentKey}`);
    const b = await heartbeats.authenticate(`Bearer ${older.agentKey}`);
    const c = await heartbeats.authenticate(`Bearer ${empty.agentKey}`);
    await heartbeats.ingest(a, heartbeat(1, full('h1', [SA, PDB])));
    await heartbeats.ingest(b, heartbeat(1, full('h1')));
    await heartbeats.ingest(c, heartbeat(1, full('h1', [])));
    expect(keysOf(heartbeats.heldObjects(reporting.clusterId)?.objects)).toEqual([
      'ServiceAccount/shop/default',
      'PodDisruptionBudget/shop/api',
    ]);
    expect(heartbeats.heldObjects(older.clusterId)?.objects).toBeNull();
    expect(keysOf(heartbeats.heldObjects(empty.clusterId)?.objects)).toEqual([]);
    expect((await storedDoc(reporting.clusterId)).objects).toEqual([SA, PDB]);
    expect('objects' in (await storedDoc(older.clusterId))).toBe(false);
    expect((await storedDoc(empty.clusterId)).objects).toEqual([]);
    expect(changes).toEqual([{ all: true }, { all: true }, { all: true }]);

    // The same full inventory again changes nothing; starting to report objects changes everything.
    await heartbeats.ingest(a, heartbeat(2, full('h1', [SA, PDB])));
    expect(changes).toHaveLength(3);
    await heartbeats.ingest(b, heartbeat(2, full('h2', [])));
    expect(changes).toHaveLength(4);
    expect(keysOf(heartbeats.heldObjects(older.clusterId)?.objects)).toEqual([]);
    await heartbeats.flush();
  });

  it('applies object upserts and removals of a delta, naming the namespaces they changed', async () => {
    const { heartbeats, changes } = service();
    const cluster = await enrollTestCluster(t);
    const agent = await heartbeats.authenticate(`Bearer ${cluster.agentKey}`);
    await heartbeats.ingest(agent, heartbeat(1, full('h1', [SA])));
    changes.length = 0;

    const r1 = await heartbeats.ingest(agent, heartbeat(2, delta('h1', 'h2', [PDB, NETPOL])));
    expect(r1.resendFull).toBeUndefined();
    expect(changes).toEqual([{ all: false, keys: [], namespaces: ['shop', 'web'] }]);
    const r2 = await heartbeats.ingest(agent, heartbeat(3, delta('h2', 'h3', [], ['PodDisruptionBudget/shop/api'])));
    expect(r2.resendFull).toBeUndefined();
    expect(changes[1]).toEqual({ all: false, keys: [], namespaces: ['shop'] });
    // Upserting an object as it is and removing one that is not there changes nothing.
    await heartbeats.ingest(agent, heartbeat(4, delta('h3', 'h3', [SA], ['Service/shop/nope'])));
    expect(changes).toHaveLength(2);

    expect(keysOf(heartbeats.heldObjects(cluster.clusterId)?.objects)).toEqual([
      'ServiceAccount/shop/default',
      'NetworkPolicy/web/deny',
    ]);
    expect((await storedDoc(cluster.clusterId)).objects).toEqual([SA, NETPOL]);
    await heartbeats.flush();
  });

  it('reads objects back from the stored document after a restart, and keeps "not reported" there', async () => {
    const before = service();
    const reporting = await enrollTestCluster(t);
    const older = await enrollTestCluster(t);
    const a = await before.heartbeats.authenticate(`Bearer ${reporting.agentKey}`);
    const b = await before.heartbeats.authenticate(`Bearer ${older.agentKey}`);
    await before.heartbeats.ingest(a, heartbeat(1, full('h1', [SA, PDB])));
    await before.heartbeats.ingest(b, heartbeat(1, full('h1')));
    await before.heartbeats.flush();

    const after = service();
    const r1 = await after.heartbeats.ingest(a, heartbeat(2, delta('h1', 'h2', [NETPOL], [workloadKeyOf(PDB)])));
    expect(r1.resendFull).toBeUndefined();
    expect(keysOf(after.heartbeats.heldObjects(reporting.clusterId)?.objects)).toEqual([
      'ServiceAccount/shop/default',
      'NetworkPolicy/web/deny',
    ]);
    const scaled = { ...WORKLOAD, replicas: 3 };
    const r2 = await after.heartbeats.ingest(
      b,
      heartbeat(2, { mode: 'delta', baseHash: 'h1', hash: 'h2', upsert: { workloads: [scaled] }, remove: {} }),
    );
    expect(r2.resendFull).toBeUndefined();
    expect(after.heartbeats.heldObjects(older.clusterId)?.objects).toBeNull();
    expect('objects' in (await storedDoc(older.clusterId))).toBe(false);
    expect(after.changes).toEqual([
      { all: false, keys: [], namespaces: ['shop', 'web'] },
      { all: false, keys: ['Deployment/shop/api'] },
    ]);
    await after.heartbeats.flush();
  });
});

const workloadKeyOf = (o: PolicyObject): string => `${o.kind}/${o.namespace}/${o.name}`;
