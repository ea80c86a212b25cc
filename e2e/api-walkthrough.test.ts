import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient, NiroApiError, type Heartbeat } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import {
  buildDeltaHeartbeat,
  buildFullHeartbeat,
  buildSameHeartbeat,
  generateClusterInventory,
  hashInventory,
} from '@niro/testkit';
import { ManualClock } from '../apps/server/src/clock.js';
import { describeEachDatabase } from '../apps/server/src/test-support/databases.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

/**
 * The walk a new operator takes, over real HTTP: log in, create a production cluster, enroll,
 * heartbeat (full, delta, same), see it healthy with its nodes and pods, go silent and watch it
 * turn unknown then offline, and be refused when reusing the enrollment token. Afterwards, no
 * secret created on the way appears in any log line (the server logs at debug level).
 */
describeEachDatabase('API walkthrough', (dialect) => {
  const email = 'operator@example.test';
  const password = 'walkthrough passphrase 42';
  const secrets: string[] = [password];
  const clock = new ManualClock(Date.parse('2026-05-01T08:00:00Z'));
  let running: LoggedServer;
  let server: RunningServer;
  let logs: string[];
  let api: ApiClient;

  beforeAll(async () => {
    running = await startLoggedServer(dialect, clock, { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password });
    ({ server, logs } = running);
    api = new ApiClient({ baseUrl: server.url });
  });

  afterAll(() => running.dispose());

  it('walks from login to an offline cluster', async () => {
    // Log in: trade email + password for an API token.
    const { token } = await api.createToken(email, password, 'walkthrough');
    secrets.push(token);
    expect(token).toMatch(/^niro_pat_/);
    api = api.withToken(token);
    const me = await api.me();
    expect(me.email).toBe(email);

    // A session login works too, and its cookie is HttpOnly.
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    secrets.push(cookie.split(';')[0]?.split('=')[1] ?? 'missing-cookie');

    // Create a production cluster.
    const created = await api.createCluster({
      name: 'edge-lisbon-03',
      environment: 'production',
      labels: { site: 'lisbon' },
    });
    secrets.push(created.enrollment.token);
    expect(created.cluster).toMatchObject({ name: 'edge-lisbon-03', environment: 'production', status: 'pending' });
    expect(created.enrollment.installCommand).toContain(created.enrollment.token);

    // Enroll.
    const enrolled = await api.enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'b7f1c0de-0000-4000-8000-000000000001' },
    });
    secrets.push(enrolled.agentKey);
    expect(enrolled.clusterId).toBe(created.cluster.id);
    expect(enrolled.agentKey).toMatch(/^niro_ak_/);
    const agent = new ApiClient({ baseUrl: server.url, token: enrolled.agentKey });

    // Full heartbeat (gzipped, as agents send it).
    const inv1 = generateClusterInventory({ nodes: 3, pods: 40, seed: 7 });
    const full = buildFullHeartbeat(inv1, { seq: 1, now: clock.now() });
    const reply1 = await postGzip(server.url, enrolled.agentKey, full);
    expect(reply1).toMatchObject({ ack: 1, heartbeatIntervalSeconds: 15 });
    expect(reply1.resendFull).toBeUndefined();

    // Delta heartbeat: two pods gone, one new.
    const inv2 = {
      ...inv1,
      pods: [...inv1.pods.slice(2), { ...structuredClone(inv1.pods[0]!), name: 'walk-new-pod', uid: 'walk-uid' }],
    };
    clock.advance(15_000);
    const reply2 = await agent.heartbeat(buildDeltaHeartbeat(inv1, inv2, { seq: 2, now: clock.now() }));
    expect(reply2.resendFull).toBeUndefined();

    // Same heartbeat.
    clock.advance(15_000);
    const reply3 = await agent.heartbeat(buildSameHeartbeat(inv2, { seq: 3, now: clock.now() }));
    expect(reply3).toMatchObject({ ack: 3 });
    expect(reply3.resendFull).toBeUndefined();
    expect(hashInventory(inv2)).not.toBe(hashInventory(inv1));

    // The cluster is healthy with its nodes and pods.
    await server.services.heartbeat.flush();
    await server.services.statusJob.tick();
    const cluster = await api.getCluster(created.cluster.id);
    expect(cluster.status).toBe('healthy');
    expect(cluster.summary.nodesTotal).toBe(3);
    expect(cluster.summary.podsTotal).toBe(40 - 2 + 1);
    const pods = await api.pods({ cluster: created.cluster.id, limit: 1000 });
    expect(pods.items.map((p) => p.name)).toContain('walk-new-pod');
    const fleet = await api.fleet();
    expect(fleet.clusters.map((c) => c.name)).toEqual(['edge-lisbon-03']);

    // Silence: unknown after three missed intervals, offline after five minutes.
    clock.advance(46_000);
    await server.services.statusJob.tick();
    expect((await api.getCluster(created.cluster.id)).status).toBe('unknown');
    clock.advance(5 * 60_000);
    await server.services.statusJob.tick();
    expect((await api.getCluster(created.cluster.id)).status).toBe('offline');

    // Reusing the enrollment token is refused and changes nothing.
    const reuse = await api
      .enroll({
        token: created.enrollment.token,
        agent: { version: '0.1.0' },
        cluster: { kubernetesVersion: 'v1', distribution: 'k3s', uid: 'x' },
      })
      .catch((e: unknown) => e);
    expect(reuse).toBeInstanceOf(NiroApiError);
    expect(reuse).toMatchObject({ status: 401, code: 'enrollment_token_invalid' });
    const stillWorks = await agent.heartbeat(buildSameHeartbeat(inv2, { seq: 4, now: clock.now() }));
    expect(stillWorks.ack).toBe(4);

    // No secret in any log line.
    await server.services.heartbeat.flush();
    const all = logs.join('');
    expect(logs.length).toBeGreaterThan(10);
    for (const s of secrets) expect(all.includes(s), `a secret (${s.slice(0, 9)}…) appears in the logs`).toBe(false);
  });
});

async function postGzip(
  url: string,
  key: string,
  body: Heartbeat,
): Promise<{ ack: number; resendFull?: boolean; heartbeatIntervalSeconds: number }> {
  const res = await fetch(`${url}/api/agent/v1/heartbeat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify(body)),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { ack: number; resendFull?: boolean; heartbeatIntervalSeconds: number };
}
