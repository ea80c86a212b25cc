import path from 'node:path';
import type { LongPollReply } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import { DEFAULT_CAPABILITIES, buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';

const ADMIN = { email: 'cli-logs@example.test', password: 'correct horse battery staple' };

/**
 * `niro logs` against a real server, with the cluster's agent played over the long-poll
 * protocol (plain HTTP requests, as an agent behind a proxy without WebSockets sends them).
 */
describe('niro logs', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let token: string;
  let agentKey: string;

  const niro = (args: string[]): Promise<NiroRun> =>
    runNiro(args, {
      configDir: path.join(dataDir, 'config'),
      cwd: dataDir,
      env: { NIRO_URL: server.url, NIRO_TOKEN: token },
    });
  const agent = (method: string, url: string, body?: unknown): Promise<Response> =>
    fetch(`${server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  /** Takes the next logs command as the agent, answering it with `status`. */
  const takeLogsCommand = async (
    answer: Record<string, unknown>,
  ): Promise<{ streamId: string; payload: Record<string, unknown> }> => {
    for (;;) {
      const res = await agent('GET', '/api/agent/v1/commands?waitSeconds=10');
      const { commands } = (await res.json()) as LongPollReply;
      const cmd = commands.find((c) => c.kind === 'logs');
      if (cmd === undefined) continue;
      await agent('POST', `/api/agent/v1/commands/${cmd.id}/result`, answer);
      return { streamId: String(cmd.payload.streamId), payload: cmd.payload };
    }
  };

  beforeAll(async () => {
    testServer = await startCliTestServer({ prefix: 'niro-cli-logs-', admin: ADMIN, tokenName: 'logs' });
    ({ dataDir, server, token } = testServer);
    const { api } = testServer;
    const created = await api.createCluster({ name: 'edge-logs', environment: 'dev' });
    ({ agentKey } = await api.enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'cli-logs-uid' },
    }));
    const hb = buildFullHeartbeat(generateClusterInventory({ nodes: 1, pods: 2, seed: 'cli-logs' }), {
      seq: 1,
      now: Date.now(),
      capabilities: { ...DEFAULT_CAPABILITIES, logs: true },
    });
    expect((await agent('POST', '/api/agent/v1/heartbeat', hb)).status).toBe(200);
  });

  afterAll(async () => {
    await testServer?.close();
  });

  it('prints the lines the agent sends and exits 0 at the end of the log', async () => {
    const run = niro(['logs', 'edge-logs', 'shop/web-1', '--tail', '10', '-c', 'app']);
    const { streamId, payload } = await takeLogsCommand({ status: 'succeeded', result: {} });
    expect(payload).toEqual({
      streamId,
      namespace: 'shop',
      pod: 'web-1',
      container: 'app',
      tailLines: 10,
      follow: false,
    });
    const ack = await agent('POST', `/api/agent/v1/logs/${streamId}`, {
      type: 'log',
      streamId,
      seq: 0,
      lines: ['hello', 'world'],
    });
    expect(await ack.json()).toEqual({ type: 'log-ack', streamId, seq: 0 });
    await agent('POST', `/api/agent/v1/logs/${streamId}`, { type: 'log-end', streamId, reason: 'eof' });
    expect(await run).toEqual({ code: 0, stdout: 'hello\nworld\n', stderr: '' });
  });

  it("fails with the agent's message when it cannot stream the pod", async () => {
    const run = niro(['logs', 'edge-logs', 'shop/gone-1', '-f']);
    await takeLogsCommand({ status: 'failed', error: { code: 'pod_not_found', message: 'pods "gone-1" not found' } });
    const result = await run;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pods "gone-1" not found (pod_not_found)');
  });

  it('refuses a pod without a namespace and a bad --tail before asking the server', async () => {
    expect((await niro(['logs', 'edge-logs', 'web-1'])).code).toBe(2);
    const tail = await niro(['logs', 'edge-logs', 'shop/web-1', '--tail', 'all']);
    expect(tail.code).toBe(2);
    expect(tail.stderr).toContain('--tail all');
  });
});
