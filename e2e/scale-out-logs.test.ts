import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient, LOG_LIMITS } from '@niro/protocol';
import { DEFAULT_CAPABILITIES, buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { createEmptyPostgresDatabase } from '../apps/server/src/test-support/databases.js';
import { FakeAgent } from '../apps/server/src/modules/logs/test-support/fake-agent.js';
import { SseClient } from '../apps/server/src/modules/logs/test-support/sse-client.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const pgInfo = inject('postgres');
const describePg = pgInfo.url === null ? describe.skip : describe;
const suffix = pgInfo.url === null ? ` (skipped: ${pgInfo.reason})` : '';

const email = 'operator@example.test';
const password = 'scale-out logs passphrase 42';

/**
 * Log streams across two `niro server` processes on one PostgreSQL database: the reader's SSE
 * request is on server A, the agent's WebSocket on server B. Lines travel B → A and
 * acknowledgements A → B over the PostgreSQL message bus.
 */
describePg(`scale-out: log streams relayed between two servers${suffix}`, () => {
  let database: { url: string; dispose(): Promise<void> };
  let a: ServerProcess;
  let b: ServerProcess;
  const agents: FakeAgent[] = [];
  const readers: SseClient[] = [];

  beforeAll(async () => {
    database = await createEmptyPostgresDatabase();
    const env = { NIRO_DATABASE_URL: database.url, NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password };
    // One after the other: the first migrates the empty database.
    a = await startServerProcess({ env, logLevel: 'warn' });
    b = await startServerProcess({ env, logLevel: 'warn' });
  }, 120_000);

  afterAll(async () => {
    for (const r of readers) r.abort();
    for (const agent of agents) agent.close();
    await a?.stop();
    await b?.stop();
    await database?.dispose();
  });

  it('streams lines from an agent on B to a reader on A, with acks back, and stops the agent when the reader leaves', async ({
    annotate,
  }) => {
    const { token } = await new ApiClient({ baseUrl: a.url }).createToken(email, password, 'scale-out-logs');
    const apiA = new ApiClient({ baseUrl: a.url, token });
    const created = await apiA.createCluster({ name: 'edge-logs-01', environment: 'staging' });
    const { clusterId, agentKey } = await new ApiClient({ baseUrl: b.url }).enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'scale-out-logs-uid-1' },
    });
    const heartbeat = buildFullHeartbeat(generateClusterInventory({ nodes: 1, pods: 2, seed: 'scale-logs' }), {
      seq: 1,
      now: Date.now(),
      capabilities: { ...DEFAULT_CAPABILITIES, logs: true },
    });
    const hb = await fetch(`${b.url}/api/agent/v1/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(heartbeat),
    });
    expect(hb.status).toBe(200);

    const agent = await FakeAgent.connect(b.url, agentKey);
    agents.push(agent);

    const reader = await SseClient.open(`${a.url}/api/v1/clusters/${clusterId}/pods/shop/web-1/logs?follow=1`, token);
    readers.push(reader);
    expect(reader.status).toBe(200);
    const cmd = await agent.command('logs');
    agent.result(cmd.id, { status: 'succeeded', result: {} });
    const streamId = String(cmd.payload.streamId);
    await reader.next('open');

    // 40 messages as the window allows, some of them near the chunk limit (fragmented on the bus).
    const total = 40;
    const big = Array.from({ length: 60 }, (_, i) => `${i} ${'z'.repeat(1000)}`);
    const started = performance.now();
    let sent = 0;
    let acked = 0;
    while (acked < total) {
      while (sent - acked < LOG_LIMITS.window && sent < total) {
        agent.log(streamId, sent, sent % 10 === 9 ? big : [`line ${sent}`]);
        sent++;
      }
      const ack = await agent.ack(streamId);
      expect(ack.stop).toBeUndefined();
      acked = Number(ack.seq) + 1;
    }
    const elapsedMs = performance.now() - started;
    const received: string[][] = [];
    while (received.length < total) {
      const e = await reader.next('lines');
      const v: unknown = JSON.parse(e.data);
      received.push(Array.isArray(v) ? v.map(String) : []);
    }
    expect(received.map((l, i) => (i % 10 === 9 ? l.length : l[0]))).toEqual(
      Array.from({ length: total }, (_, i) => (i % 10 === 9 ? 60 : `line ${i}`)),
    );
    await annotate(
      `relayed ${total} log messages B → A with acks A → B in ${Math.round(elapsedMs)} ms ` +
        `(${Math.round(elapsedMs / total)} ms per message round trip, window ${LOG_LIMITS.window})`,
    );

    // The reader leaves A: the agent on B hears stop, and gets a logs-stop command.
    reader.abort();
    const stop = await agent.command('logs-stop');
    expect(stop.payload).toEqual({ streamId });
    agent.log(streamId, total, ['after the reader left']);
    expect(await agent.ack(streamId)).toMatchObject({ type: 'log-ack', streamId, stop: true });
  });
});
