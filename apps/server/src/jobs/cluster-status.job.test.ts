import { buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  IncidentsRepository,
  clusterOfflineFingerprint,
  FLEET_CONNECTIVITY_FINGERPRINT,
} from '../modules/incidents/incidents.repository.js';
import { bearer, createTestApp, type TestApp } from '../test-support/app.js';
import { enrollTestCluster } from '../test-support/clusters.js';
import { describeEachDatabase } from '../test-support/databases.js';
import { sendHeartbeat } from '../test-support/heartbeats.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** A small healthy cluster: only liveness matters here, not what it runs. */
const INVENTORY = generateClusterInventory({ nodes: 1, pods: 10, seed: 'cluster-status' });

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
  /** An enrolled cluster that has not sent a heartbeat yet, in an org of its own. */
  const createCluster = () => enrollTestCluster(t, { environment: 'production' });

  let seq = 0;
  async function beat(agentKey: string): Promise<void> {
    await sendHeartbeat(t, agentKey, buildFullHeartbeat(INVENTORY, { seq: ++seq, now: t.clock.now() }));
  }

  const clusterRow = (id: string) =>
    db().selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const statusOf = async (id: string) => (await clusterRow(id)).status;
  const openIncidents = () =>
    db().selectFrom('incidents').selectAll().where('open_fingerprint', 'is not', null).orderBy('opened_at').execute();

  it('turns a silent cluster unknown after 45 s, offline after 5 min, and healthy on its next heartbeat', async () => {
    const c = await createCluster();
    await tick();
    expect(await statusOf(c.clusterId)).toBe('pending');

    await beat(c.agentKey);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('healthy');

    t.clock.advance(44 * SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('healthy');
    t.clock.advance(1 * SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('unknown');
    const unknownSince = (await clusterRow(c.clusterId)).status_changed_at;
    expect(unknownSince).toBe(t.clock.now());
    expect(await openIncidents()).toEqual([]);

    // Status changes only on change.
    t.clock.advance(10 * SECOND);
    await tick();
    expect(await clusterRow(c.clusterId)).toMatchObject({ status: 'unknown', status_changed_at: unknownSince });

    t.clock.advance(5 * MINUTE - 56 * SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('unknown');
    t.clock.advance(1 * SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('offline');
    const incidents = await openIncidents();
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      cluster_id: c.clusterId,
      type: 'cluster_offline',
      severity: 'high',
      state: 'firing',
      fingerprint: `${c.clusterId}:cluster_offline:cluster`,
    });
    // Another pass opens nothing new.
    t.clock.advance(5 * SECOND);
    await tick();
    expect(await openIncidents()).toHaveLength(1);

    const metrics = await t.app.inject('/metrics');
    expect(metrics.body).toContain('niro_clusters{status="offline"} 1');
    expect(metrics.body).toContain('niro_clusters{status="healthy"} 0');

    t.clock.advance(2 * MINUTE);
    await beat(c.agentKey);
    expect(await statusOf(c.clusterId)).toBe('healthy');
    expect(await openIncidents()).toEqual([]);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('healthy');
    const resolved = await db()
      .selectFrom('incidents')
      .selectAll()
      .where('fingerprint', '=', clusterOfflineFingerprint(c.clusterId))
      .executeTakeFirstOrThrow();
    expect(resolved).toMatchObject({ state: 'resolved', resolved_at: t.clock.now() });
  });

  it('sends no cluster offline before one full offline window after the job starts', async () => {
    const c = await createCluster();
    await beat(c.agentKey);
    // The server was down for ten minutes; the job starts now.
    t.clock.advance(10 * MINUTE);
    t.services.statusJob.start();
    await tick();
    expect(await statusOf(c.clusterId)).toBe('unknown');
    t.clock.advance(5 * MINUTE - SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('unknown');
    expect(await openIncidents()).toEqual([]);
    t.clock.advance(SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('offline');
    expect(await openIncidents()).toHaveLength(1);
  });

  it('keeps a cluster that was offline before a restart offline during the grace period', async () => {
    const c = await createCluster();
    await beat(c.agentKey);
    t.clock.advance(6 * MINUTE);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('offline');
    t.clock.advance(MINUTE);
    t.services.statusJob.start();
    await tick();
    expect(await statusOf(c.clusterId)).toBe('offline');
  });

  it('opens one fleet_connectivity incident instead of one per cluster when more than half go silent', async () => {
    const clusters = await Promise.all(Array.from({ length: 10 }, () => createCluster()));
    for (const c of clusters) await beat(c.agentKey);
    await tick();
    t.clock.advance(5 * MINUTE);
    const [alive, silent] = [clusters.slice(0, 4), clusters.slice(4)];
    for (const c of alive) await beat(c.agentKey);
    await tick();

    for (const c of silent) expect(await statusOf(c.clusterId)).toBe('offline');
    for (const c of alive) expect(await statusOf(c.clusterId)).toBe('healthy');
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
    // Everyone sees it in the incidents list, whatever their org; nobody can acknowledge it away.
    const listed = await t.app.inject({
      method: 'GET',
      url: '/api/v1/incidents?state=open',
      headers: bearer(clusters[0]!.owner.token),
    });
    expect(listed.json<{ items: { type: string; id: string }[] }>().items.map((i) => i.type)).toEqual([
      'fleet_connectivity',
    ]);
    const ack = await t.app.inject({
      method: 'POST',
      url: `/api/v1/incidents/${open[0]?.id}/ack`,
      headers: bearer(clusters[0]!.owner.token),
      payload: {},
    });
    expect(ack.statusCode).toBe(409);

    // Still silent on the next passes: still one incident.
    t.clock.advance(30 * SECOND);
    for (const c of alive) await beat(c.agentKey);
    await tick();
    expect(await openIncidents()).toHaveLength(1);

    // They come back: the fleet incident resolves, nobody is offline.
    t.clock.advance(30 * SECOND);
    for (const c of clusters) await beat(c.agentKey);
    await tick();
    expect(await openIncidents()).toEqual([]);
    for (const c of clusters) expect(await statusOf(c.clusterId)).toBe('healthy');
    const fleet = await db()
      .selectFrom('incidents')
      .selectAll()
      .where('fingerprint', '=', FLEET_CONNECTIVITY_FINGERPRINT)
      .executeTakeFirstOrThrow();
    expect(fleet.state).toBe('resolved');
  });

  it('opens cluster_offline for those still silent once the rest of the fleet is back', async () => {
    const clusters = await Promise.all(Array.from({ length: 5 }, () => createCluster()));
    for (const c of clusters) await beat(c.agentKey);
    t.clock.advance(5 * MINUTE);
    await beat(clusters[0]!.agentKey);
    await tick();
    expect((await openIncidents()).map((i) => i.type)).toEqual(['fleet_connectivity']);

    // Two of the four come back; two stay silent: no longer a fleet-wide silence.
    t.clock.advance(15 * SECOND);
    for (const c of clusters.slice(0, 3)) await beat(c.agentKey);
    await tick();
    const open = await openIncidents();
    expect(open.map((i) => i.type).sort()).toEqual(['cluster_offline', 'cluster_offline']);
    expect(open.map((i) => i.cluster_id).sort()).toEqual([clusters[3]!.clusterId, clusters[4]!.clusterId].sort());
  });

  it('reports a cluster with open incidents as critical (high) or warning (low, medium)', async () => {
    const c = await createCluster();
    await beat(c.agentKey);
    const incidents = new IncidentsRepository(db());
    const incident = (type: string, severity: 'low' | 'medium' | 'high') => ({
      orgId: null,
      clusterId: c.clusterId,
      type,
      severity,
      scope: 'x',
      fingerprint: `${c.clusterId}:${type}:x`,
      title: type,
    });
    await incidents.open(incident('image_pull_error', 'medium'), t.clock.now());
    await tick();
    expect(await statusOf(c.clusterId)).toBe('warning');
    await incidents.open(incident('node_not_ready', 'high'), t.clock.now());
    await tick();
    expect(await statusOf(c.clusterId)).toBe('critical');
    await incidents.resolve([`${c.clusterId}:node_not_ready:x`, `${c.clusterId}:image_pull_error:x`], t.clock.now());
    await tick();
    expect(await statusOf(c.clusterId)).toBe('healthy');
    // Silence outranks incidents.
    await incidents.open(incident('node_not_ready', 'high'), t.clock.now());
    t.clock.advance(45 * SECOND);
    await tick();
    expect(await statusOf(c.clusterId)).toBe('unknown');
  });
});
