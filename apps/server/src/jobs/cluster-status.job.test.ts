import { AGENT_KEY_PREFIX, type Heartbeat, type Inventory } from '@niro/protocol';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { newId, newSecret, sha256Hex } from '../lib/ids.js';
import {
  IncidentsRepository,
  clusterOfflineFingerprint,
  FLEET_CONNECTIVITY_FINGERPRINT,
} from '../modules/incidents/incidents.repository.js';
import { createTestApp, type TestApp } from '../test-support/app.js';
import { describeEachDatabase } from '../test-support/databases.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

const inventory: Inventory = {
  mode: 'full',
  hash: 'h1',
  nodes: [
    {
      name: 'node-1',
      ready: true,
      roles: ['control-plane'],
      kubeletVersion: 'v1.31.4+k3s1',
      capacity: { cpuMilli: 2000, memoryBytes: 4e9 },
      allocatable: { cpuMilli: 2000, memoryBytes: 4e9 },
      conditions: [],
      unschedulable: false,
    },
  ],
  pods: [],
  workloads: [],
};

const heartbeat = (seq: number): Heartbeat => ({
  seq,
  sentAt: '2026-03-01T12:00:00Z',
  agent: { version: '0.1.0', capabilities: { pods: true, logs: false, apply: false, selfUpdate: false } },
  cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s' },
  inventory,
  events: [],
});

describeEachDatabase('cluster status job', (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.services.statusJob.stop();
    await t.dispose();
  });

  const db = () => t.services.database.db;
  const tick = () => t.services.statusJob.tick();
  let n = 0;

  async function createCluster(): Promise<{ id: string; key: string }> {
    const now = t.clock.now();
    const orgId = newId(now);
    const id = newId(now);
    const key = newSecret(AGENT_KEY_PREFIX);
    await db()
      .insertInto('orgs')
      .values({ id: orgId, parent_id: null, path: `/${orgId}/`, name: `org ${orgId}`, created_at: now })
      .execute();
    await db()
      .insertInto('clusters')
      .values({
        id,
        org_id: orgId,
        name: `site-${++n}`,
        environment: 'production',
        labels: '{}',
        status: 'pending',
        status_changed_at: now,
        created_at: now,
        updated_at: now,
        agent_key_hash: sha256Hex(key),
        enrolled_at: now,
        cluster_uid: null,
        last_heartbeat_at: null,
        last_seq: null,
        agent_version: null,
        kubernetes_version: null,
        distribution: null,
        capabilities: null,
        nodes_total: 0,
        nodes_ready: 0,
        pods_total: 0,
        pods_running: 0,
        pods_pending: 0,
        pods_failed: 0,
        cpu_capacity_milli: 0,
        memory_capacity_bytes: 0,
        cpu_requests_milli: 0,
        memory_requests_bytes: 0,
        cpu_usage_milli: null,
        memory_usage_bytes: null,
      })
      .execute();
    return { id, key };
  }

  let seq = 0;
  async function beat(key: string): Promise<void> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/agent/v1/heartbeat',
      headers: { authorization: `Bearer ${key}` },
      payload: heartbeat(++seq),
    });
    expect(res.statusCode, res.body).toBe(200);
  }

  const statusOf = async (id: string) =>
    (
      await db()
        .selectFrom('clusters')
        .select(['status', 'status_changed_at'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).status;
  const openIncidents = () =>
    db().selectFrom('incidents').selectAll().where('open_fingerprint', 'is not', null).orderBy('opened_at').execute();

  it('turns a silent cluster unknown after 45 s, offline after 5 min, and healthy on its next heartbeat', async () => {
    const c = await createCluster();
    await tick();
    expect(await statusOf(c.id)).toBe('pending');

    await beat(c.key);
    await tick();
    expect(await statusOf(c.id)).toBe('healthy');

    t.clock.advance(44 * SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('healthy');
    t.clock.advance(1 * SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('unknown');
    const unknownSince = (
      await db().selectFrom('clusters').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow()
    ).status_changed_at;
    expect(unknownSince).toBe(t.clock.now());
    expect(await openIncidents()).toEqual([]);

    // Status changes only on change.
    t.clock.advance(10 * SECOND);
    await tick();
    const again = await db().selectFrom('clusters').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow();
    expect(again).toMatchObject({ status: 'unknown', status_changed_at: unknownSince });

    t.clock.advance(5 * MINUTE - 56 * SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('unknown');
    t.clock.advance(1 * SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('offline');
    const incidents = await openIncidents();
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      cluster_id: c.id,
      type: 'cluster_offline',
      severity: 'high',
      state: 'firing',
      fingerprint: `${c.id}:cluster_offline:cluster`,
    });
    // Another pass opens nothing new.
    t.clock.advance(5 * SECOND);
    await tick();
    expect(await openIncidents()).toHaveLength(1);

    const metrics = await t.app.inject('/metrics');
    expect(metrics.body).toContain('niro_clusters{status="offline"} 1');
    expect(metrics.body).toContain('niro_clusters{status="healthy"} 0');

    t.clock.advance(2 * MINUTE);
    await beat(c.key);
    expect(await statusOf(c.id)).toBe('healthy');
    expect(await openIncidents()).toEqual([]);
    await tick();
    expect(await statusOf(c.id)).toBe('healthy');
    const resolved = await db()
      .selectFrom('incidents')
      .selectAll()
      .where('fingerprint', '=', clusterOfflineFingerprint(c.id))
      .executeTakeFirstOrThrow();
    expect(resolved).toMatchObject({ state: 'resolved', resolved_at: t.clock.now() });
  });

  it('sends no cluster offline before one full offline window after the job starts', async () => {
    const c = await createCluster();
    await beat(c.key);
    // The server was down for ten minutes; the job starts now.
    t.clock.advance(10 * MINUTE);
    t.services.statusJob.start();
    await tick();
    expect(await statusOf(c.id)).toBe('unknown');
    t.clock.advance(5 * MINUTE - SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('unknown');
    expect(await openIncidents()).toEqual([]);
    t.clock.advance(SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('offline');
    expect(await openIncidents()).toHaveLength(1);
  });

  it('keeps a cluster that was offline before a restart offline during the grace period', async () => {
    const c = await createCluster();
    await beat(c.key);
    t.clock.advance(6 * MINUTE);
    await tick();
    expect(await statusOf(c.id)).toBe('offline');
    t.clock.advance(MINUTE);
    t.services.statusJob.start();
    await tick();
    expect(await statusOf(c.id)).toBe('offline');
  });

  it('opens one fleet_connectivity incident instead of one per cluster when more than half go silent', async () => {
    const clusters = await Promise.all(Array.from({ length: 10 }, () => createCluster()));
    for (const c of clusters) await beat(c.key);
    await tick();
    t.clock.advance(5 * MINUTE);
    const [alive, silent] = [clusters.slice(0, 4), clusters.slice(4)];
    for (const c of alive) await beat(c.key);
    await tick();

    for (const c of silent) expect(await statusOf(c.id)).toBe('offline');
    for (const c of alive) expect(await statusOf(c.id)).toBe('healthy');
    const open = await openIncidents();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      type: 'fleet_connectivity',
      severity: 'high',
      cluster_id: null,
      org_id: null,
      fingerprint: FLEET_CONNECTIVITY_FINGERPRINT,
    });
    expect(open[0]?.title).toBe('6 of 10 clusters stopped reporting at the same time');

    // Still silent on the next passes: still one incident.
    t.clock.advance(30 * SECOND);
    for (const c of alive) await beat(c.key);
    await tick();
    expect(await openIncidents()).toHaveLength(1);

    // They come back: the fleet incident resolves, nobody is offline.
    t.clock.advance(30 * SECOND);
    for (const c of clusters) await beat(c.key);
    await tick();
    expect(await openIncidents()).toEqual([]);
    for (const c of clusters) expect(await statusOf(c.id)).toBe('healthy');
    const fleet = await db()
      .selectFrom('incidents')
      .selectAll()
      .where('fingerprint', '=', FLEET_CONNECTIVITY_FINGERPRINT)
      .executeTakeFirstOrThrow();
    expect(fleet.state).toBe('resolved');
  });

  it('opens cluster_offline for those still silent once the rest of the fleet is back', async () => {
    const clusters = await Promise.all(Array.from({ length: 5 }, () => createCluster()));
    for (const c of clusters) await beat(c.key);
    t.clock.advance(5 * MINUTE);
    await beat(clusters[0]!.key);
    await tick();
    expect((await openIncidents()).map((i) => i.type)).toEqual(['fleet_connectivity']);

    // Two of the four come back; two stay silent: no longer a fleet-wide silence.
    t.clock.advance(15 * SECOND);
    for (const c of clusters.slice(0, 3)) await beat(c.key);
    await tick();
    const open = await openIncidents();
    expect(open.map((i) => i.type).sort()).toEqual(['cluster_offline', 'cluster_offline']);
    expect(open.map((i) => i.cluster_id).sort()).toEqual([clusters[3]!.id, clusters[4]!.id].sort());
  });

  it('reports a cluster with open incidents as critical (high) or warning (low, medium)', async () => {
    const c = await createCluster();
    await beat(c.key);
    const incidents = new IncidentsRepository(db());
    const incident = (type: string, severity: 'low' | 'medium' | 'high') => ({
      orgId: null,
      clusterId: c.id,
      type,
      severity,
      scope: 'x',
      fingerprint: `${c.id}:${type}:x`,
      title: type,
    });
    await incidents.open(incident('image_pull_error', 'medium'), t.clock.now());
    await tick();
    expect(await statusOf(c.id)).toBe('warning');
    await incidents.open(incident('node_not_ready', 'high'), t.clock.now());
    await tick();
    expect(await statusOf(c.id)).toBe('critical');
    await incidents.resolve([`${c.id}:node_not_ready:x`, `${c.id}:image_pull_error:x`], t.clock.now());
    await tick();
    expect(await statusOf(c.id)).toBe('healthy');
    // Silence outranks incidents.
    await incidents.open(incident('node_not_ready', 'high'), t.clock.now());
    t.clock.advance(45 * SECOND);
    await tick();
    expect(await statusOf(c.id)).toBe('unknown');
  });
});
