import type { AddressInfo } from 'node:net';
import type { Container, FleetResponse, IncidentDetail, IncidentPage } from '@niro/protocol';
import {
  CRASH_LOOPING as CRASH,
  IMAGE_PULL_FAILING as PULL,
  SimulatedAgent,
  createAgentDispatcher,
  testNode as node,
  testPod as pod,
  type ClusterInventory,
} from '@niro/testkit';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';

const RUNNING: Partial<Container> = { ready: true, state: 'running', reason: undefined, restarts: 7 };

const healthy = (): ClusterInventory => ({
  nodes: [node('node-1', true), node('node-2', true)],
  pods: [pod('api-1', 'api'), pod('api-2', 'api'), pod('api-3', 'api'), pod('web-1', 'web')],
  workloads: [],
});
const crashLooping = (): ClusterInventory => ({
  ...healthy(),
  pods: [pod('api-1', 'api', CRASH), pod('api-2', 'api', CRASH), pod('api-3', 'api', CRASH), pod('web-1', 'web')],
});
const unreadyNode = (): ClusterInventory => ({ ...healthy(), nodes: [node('node-1', true), node('node-2', false)] });
const pullError = (): ClusterInventory => ({
  ...healthy(),
  pods: [pod('api-1', 'api'), pod('web-1', 'web', PULL), pod('web-2', 'web', PULL)],
});

describeEachDatabase('incidents', (dialect) => {
  let t: TestApp;
  let url: string;
  let dispatcher: Dispatcher;
  let owner: TestUser;
  const agents = new Map<string, SimulatedAgent>();
  const versions = new Map<string, string>();

  beforeAll(async () => {
    t = await createTestApp(dialect);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    dispatcher = createAgentDispatcher({ connections: 4 });
    owner = await createUserWithToken(t.services, { role: 'owner' });
    // A channel for every severity: each open and each resolve lands in its outbox once.
    const channel = await t.app.inject({
      method: 'POST',
      url: '/api/v1/notification-channels',
      headers: bearer(owner.token),
      payload: {
        name: 'ops',
        type: 'slack',
        minSeverity: 'low',
        orgId: owner.orgId,
        config: { url: 'https://hooks.example.test/x' },
      },
    });
    expect(channel.statusCode).toBe(201);
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.stop();
    await dispatcher.close();
    await t.dispose();
  });

  const enroll = (name: string): Promise<EnrolledTestCluster> => enrollTestCluster(t, { owner, name });

  /** One heartbeat of a simulated agent that now sees `inventory` (a full one when it changed). */
  async function heartbeat(c: EnrolledTestCluster, inventory: ClusterInventory, agentVersion?: string): Promise<void> {
    let agent = agents.get(c.clusterId);
    const version = agentVersion ?? '0.1.0';
    if (agent === undefined || agent.inventory !== inventory || versions.get(c.clusterId) !== version) {
      versions.set(c.clusterId, version);
      await agent?.stop();
      agent = new SimulatedAgent({
        url,
        dispatcher,
        inventory,
        seed: c.name,
        credentials: { clusterId: c.clusterId, agentKey: c.agentKey },
        churn: false,
        gzip: false,
        ...(agentVersion === undefined ? {} : { agentVersion }),
      });
      agents.set(c.clusterId, agent);
    }
    await agent.heartbeatOnce();
  }

  async function incidents(query: string): Promise<IncidentPage['items']> {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/incidents?${query}`, headers: bearer(owner.token) });
    expect(res.statusCode).toBe(200);
    return res.json<IncidentPage>().items;
  }

  async function detail(id: string): Promise<IncidentDetail> {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}`, headers: bearer(owner.token) });
    expect(res.statusCode).toBe(200);
    return res.json<IncidentDetail>();
  }

  async function outboxEvents(incidentId: string): Promise<string[]> {
    const rows = await t.services.database.db
      .selectFrom('notification_outbox')
      .select('event_id')
      .where('event_id', 'like', `evt_${incidentId}_%`)
      .execute();
    return rows.map((r) => r.event_id).sort();
  }

  async function fleet(): Promise<Map<string, FleetResponse['clusters'][number]>> {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/fleet', headers: bearer(owner.token) });
    return new Map(res.json<FleetResponse>().clusters.map((c) => [c.id, c]));
  }

  it('turns a simulated fleet into exactly the expected incidents, statuses and notifications, and resolves them when it heals', async () => {
    const crash = await enroll('fleet-crash');
    const unready = await enroll('fleet-node');
    const pull = await enroll('fleet-pull');
    const silent = await enroll('fleet-silent');
    const fine = await enroll('fleet-fine');
    for (const c of [crash, unready, pull, silent, fine]) await heartbeat(c, healthy());

    const crashInv = crashLooping();
    const unreadyInv = unreadyNode();
    const pullInv = pullError();
    const fineInv = healthy();
    // Each condition shows up in one heartbeat and stays for a few more: still one incident each.
    for (let i = 0; i < 3; i++) {
      await heartbeat(crash, crashInv);
      await heartbeat(unready, unreadyInv);
      await heartbeat(pull, pullInv);
      await heartbeat(fine, fineInv);
    }

    // The silent cluster stops; the others keep reporting through the offline window.
    t.clock.advance(t.services.config.offlineAfterMs + 1000);
    for (const [c, inv] of [
      [crash, crashInv],
      [unready, unreadyInv],
      [pull, pullInv],
      [fine, fineInv],
    ] as const) {
      await heartbeat(c, inv);
    }
    await t.services.statusJob.tick();

    const open = await incidents('state=open');
    const summary = open.map((i) => `${i.clusterName ?? ''} ${i.type} ${i.severity} ${i.scope}`).sort();
    expect(summary).toEqual([
      'fleet-crash pod_crash_looping high shop/Deployment/api',
      'fleet-node node_not_ready high node-2',
      'fleet-pull image_pull_error medium shop/Deployment/web',
      'fleet-silent cluster_offline high cluster',
    ]);
    const statuses = await fleet();
    expect(statuses.get(crash.clusterId)?.status).toBe('critical');
    expect(statuses.get(unready.clusterId)?.status).toBe('critical');
    expect(statuses.get(pull.clusterId)?.status).toBe('warning');
    expect(statuses.get(silent.clusterId)?.status).toBe('offline');
    expect(statuses.get(fine.clusterId)?.status).toBe('healthy');
    expect(statuses.get(crash.clusterId)?.openIncidents).toEqual({ high: 1, medium: 0, low: 0 });
    expect(statuses.get(pull.clusterId)?.openIncidents).toEqual({ high: 0, medium: 1, low: 0 });

    // Evidence of the crash loop: the three pods' container states and the opening in the timeline.
    const crashIncident = open.find((i) => i.type === 'pod_crash_looping');
    expect(crashIncident).toBeDefined();
    const crashDetail = await detail(crashIncident?.id ?? '');
    const pods = crashDetail.evidence?.pods;
    expect(Array.isArray(pods) ? pods.length : 0).toBe(3);
    expect(JSON.stringify(pods)).toContain('CrashLoopBackOff');
    expect(crashDetail.timeline.map((e) => e.kind)).toEqual(['opened', 'notified']);

    // Heal (a fixed rollout replaces the crashing pods): the first clean heartbeat keeps them
    // open, the second resolves them.
    await heartbeat(crash, { ...healthy(), pods: [pod('api-4', 'api'), pod('api-5', 'api'), pod('web-1', 'web')] });
    await heartbeat(unready, healthy());
    await heartbeat(pull, healthy());
    await heartbeat(silent, healthy());
    expect((await incidents('state=open')).map((i) => i.type).sort()).toEqual([
      'image_pull_error',
      'node_not_ready',
      'pod_crash_looping',
    ]);
    for (const c of [crash, unready, pull]) await heartbeat(c, agents.get(c.clusterId)?.inventory ?? healthy());
    await t.services.statusJob.tick();
    expect(await incidents('state=open')).toEqual([]);
    const after = await fleet();
    for (const c of [crash, unready, pull, silent, fine]) expect(after.get(c.clusterId)?.status).toBe('healthy');

    // Each incident: one opened and one resolved notification, no more.
    const all = await incidents('state=resolved');
    expect(all).toHaveLength(4);
    for (const i of all) {
      expect(await outboxEvents(i.id)).toEqual([`evt_${i.id}_opened`, `evt_${i.id}_resolved`]);
      const d = await detail(i.id);
      expect(d.timeline.map((e) => e.kind)).toContain('resolved');
    }
  });

  it('keeps a condition that flaps on and off every heartbeat as one incident', async () => {
    const c = await enroll('flapping');
    // Back-off and running again with the same restart count: only the waiting reason flaps.
    const running = (): ClusterInventory => ({
      ...healthy(),
      pods: crashLooping().pods.map((p) =>
        p.owner?.name === 'api' ? { ...p, containers: p.containers.map((ct) => ({ ...ct, ...RUNNING })) } : p,
      ),
    });
    await heartbeat(c, running());
    for (let i = 0; i < 6; i++) await heartbeat(c, i % 2 === 0 ? crashLooping() : running());
    const list = await incidents(`cluster=${c.clusterId}`);
    expect(list.map((i) => `${i.type} ${i.state}`)).toEqual(['pod_crash_looping firing']);
    await heartbeat(c, running());
    await heartbeat(c, agents.get(c.clusterId)?.inventory ?? healthy());
    const resolved = await incidents(`cluster=${c.clusterId}`);
    expect(resolved.map((i) => `${i.type} ${i.state}`)).toEqual(['pod_crash_looping resolved']);
    expect(await outboxEvents(resolved[0]?.id ?? '')).toHaveLength(2);
  });

  it('detects restarts within the window, OOM kills and an outdated agent', async () => {
    const c = await enroll('restarts');
    const base = healthy();
    await heartbeat(c, base, '0.0.9');
    const restarted: ClusterInventory = {
      ...base,
      pods: [
        pod('api-1', 'api', { restarts: 3 }),
        pod('api-2', 'api'),
        pod('api-3', 'api'),
        pod('web-1', 'web', { restarts: 1, lastTerminationReason: 'OOMKilled' }),
      ],
    };
    await heartbeat(c, restarted, '0.0.9');
    const list = await incidents(`cluster=${c.clusterId}&state=open`);
    expect(list.map((i) => `${i.type} ${i.severity} ${i.scope}`).sort()).toEqual([
      'agent_outdated low agent',
      'oom_killed medium shop/Deployment/web',
      'pod_crash_looping high shop/Deployment/api',
    ]);
    const oom = list.find((i) => i.type === 'oom_killed');
    const history = (await detail(oom?.id ?? '')).evidence?.restartHistory;
    expect(JSON.stringify(history)).toContain('OOMKilled');

    // After the window, restarts no longer count: two heartbeats later they resolve.
    t.clock.advance(11 * 60_000);
    await heartbeat(c, restarted, '0.1.0');
    await heartbeat(c, restarted, '0.1.0');
    await heartbeat(c, restarted, '0.1.0');
    expect(await incidents(`cluster=${c.clusterId}&state=open`)).toEqual([]);
  });

  it('lets members acknowledge, refuses to delete open incidents (409), and deletes resolved ones', async () => {
    const c = await enroll('ack');
    const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: owner.orgId });
    const member = await createUserWithToken(t.services, { role: 'member', orgId: owner.orgId });
    await heartbeat(c, healthy());
    await heartbeat(c, unreadyNode());
    const [incident] = await incidents(`cluster=${c.clusterId}&type=node_not_ready`);
    const id = incident?.id ?? '';
    const asViewer = await t.app.inject({
      method: 'POST',
      url: `/api/v1/incidents/${id}/ack`,
      headers: bearer(viewer.token),
    });
    expect(asViewer.statusCode).toBe(403);
    const seen = await t.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}`, headers: bearer(viewer.token) });
    expect(seen.statusCode).toBe(200);
    const ack = await t.app.inject({
      method: 'POST',
      url: `/api/v1/incidents/${id}/ack`,
      headers: bearer(member.token),
      payload: { note: 'looking at the kubelet' },
    });
    expect(ack.statusCode).toBe(200);
    const acked = ack.json<IncidentDetail>();
    expect(acked.state).toBe('acknowledged');
    expect(acked.acknowledgedBy).toBe(member.email);
    expect(acked.timeline.find((e) => e.kind === 'acknowledged')?.message).toContain('looking at the kubelet');

    const early = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/incidents/${id}`,
      headers: bearer(member.token),
    });
    expect(early.statusCode).toBe(409);
    expect(early.json<{ error: { code: string } }>().error.code).toBe('incident_open');

    await heartbeat(c, healthy());
    await heartbeat(c, agents.get(c.clusterId)?.inventory ?? healthy());
    expect((await detail(id)).state).toBe('resolved');
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/incidents/${id}`, headers: bearer(member.token) });
    expect(del.statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}`, headers: bearer(owner.token) });
    expect(gone.statusCode).toBe(404);
    const audit = await t.services.database.db
      .selectFrom('audit_log')
      .select('action')
      .where('target_id', '=', id)
      .execute();
    expect(audit.map((a) => a.action).sort()).toEqual(['incident.ack', 'incident.delete']);
  });

  it('opens drift from a diff result and resolves it with a clean diff; deployment_failed through the service', async () => {
    const c = await enroll('drift');
    await heartbeat(c, healthy());
    const drifted = {
      objects: [{ kind: 'Deployment', namespace: 'shop', name: 'api', action: 'drifted', fields: ['spec.replicas'] }],
    };
    await t.services.incidents.diffResult(c.clusterId, { deploymentId: 'dep-1' }, 'succeeded', drifted);
    await t.services.incidents.diffResult(c.clusterId, { deploymentId: 'dep-1' }, 'succeeded', drifted);
    await t.services.incidents.deploymentFailed({
      clusterId: c.clusterId,
      deploymentId: 'dep-2',
      title: 'Apply failed',
    });
    let list = await incidents(`cluster=${c.clusterId}&state=open`);
    expect(list.map((i) => `${i.type} ${i.severity} ${i.scope}`).sort()).toEqual([
      'deployment_failed high dep-2',
      'drift_detected medium dep-1',
    ]);
    expect((await fleet()).get(c.clusterId)?.status).toBe('critical');
    const clean = { objects: [{ kind: 'Deployment', namespace: 'shop', name: 'api', action: 'unchanged' }] };
    await t.services.incidents.diffResult(c.clusterId, { deploymentId: 'dep-1' }, 'succeeded', clean);
    await t.services.incidents.deploymentRecovered(c.clusterId, 'dep-2');
    list = await incidents(`cluster=${c.clusterId}&state=open`);
    expect(list).toEqual([]);
    expect((await fleet()).get(c.clusterId)?.status).toBe('healthy');
  });

  it('uses the org’s thresholds (admins change them) and filters and pages the list', async () => {
    const admin = await createUserWithToken(t.services, { role: 'admin' });
    const member = await createUserWithToken(t.services, { role: 'member', orgId: admin.orgId });
    const denied = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/orgs/${admin.orgId}/incident-settings`,
      headers: bearer(member.token),
      payload: { crashLoopRestarts: 10 },
    });
    expect(denied.statusCode).toBe(403);
    const put = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/orgs/${admin.orgId}/incident-settings`,
      headers: bearer(admin.token),
      payload: { crashLoopRestarts: 10 },
    });
    expect(put.json()).toEqual({
      crashLoopRestarts: 10,
      crashLoopWindowMinutes: 10,
      oomWindowMinutes: 10,
      resolveAfterHeartbeats: 2,
    });
    const c = await enrollTestCluster(t, { owner: admin, name: 'thresholds' });
    const agent = new SimulatedAgent({
      url,
      dispatcher,
      inventory: healthy(),
      seed: 'thresholds',
      credentials: { clusterId: c.clusterId, agentKey: c.agentKey },
      churn: false,
    });
    await agent.heartbeatOnce();
    await agent.stop();
    const restarted = new SimulatedAgent({
      url,
      dispatcher,
      inventory: { ...healthy(), pods: [pod('api-1', 'api', { restarts: 5 })] },
      seed: 'thresholds',
      credentials: { clusterId: c.clusterId, agentKey: c.agentKey },
      churn: false,
    });
    await restarted.heartbeatOnce();
    await restarted.stop();
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/incidents?cluster=${c.clusterId}`,
      headers: bearer(admin.token),
    });
    expect(res.json<IncidentPage>().items).toEqual([]);

    // Paging and filters over the incidents of the first org.
    const first = await t.app.inject({
      method: 'GET',
      url: '/api/v1/incidents?limit=2&severity=medium',
      headers: bearer(owner.token),
    });
    const page = first.json<IncidentPage>();
    expect(page.items).toHaveLength(2);
    expect(page.items.every((i) => i.severity !== 'low')).toBe(true);
    expect(page.nextCursor).not.toBeNull();
    const second = await t.app.inject({
      method: 'GET',
      url: `/api/v1/incidents?limit=2&severity=medium&cursor=${page.nextCursor ?? ''}`,
      headers: bearer(owner.token),
    });
    const ids = new Set(page.items.map((i) => i.id));
    expect(second.json<IncidentPage>().items.some((i) => ids.has(i.id))).toBe(false);
    // Another org sees none of them.
    const other = await t.app.inject({ method: 'GET', url: '/api/v1/incidents', headers: bearer(admin.token) });
    expect(other.json<IncidentPage>().items).toEqual([]);
  });
});
