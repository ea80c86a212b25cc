import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { ApiClient, FleetResponse } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';
import { generateClusterInventory, runSimulation, SimulatedAgent, type Simulation } from '@niro/testkit';

const ADMIN = { email: 'sim-admin@example.test', password: 'correct horse battery staple' };

/** Polls until `check` returns a value, for state the server writes in batches. */
async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string | (() => string),
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const label = typeof what === 'string' ? what : what();
      throw new Error(`timed out waiting for ${label}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const agentErrors = (sim: Simulation): string =>
  sim
    .clusters()
    .map((c) => `${c.name}: ${c.agent.stats.sent} sent, last error ${c.agent.stats.lastError ?? 'none'}`)
    .join('; ');

describe('simulated fleet against a real server', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let api: ApiClient;

  beforeAll(async () => {
    testServer = await startCliTestServer({
      prefix: 'niro-sim-test-',
      admin: ADMIN,
      tokenName: 'test',
      config: { NIRO_HEARTBEAT_INTERVAL: '1s' },
    });
    ({ dataDir, server, api } = testServer);
  });

  afterAll(async () => {
    await testServer?.close();
  });

  it('creates, enrolls and heartbeats 3 clusters that show up in the fleet with their nodes and pods', async () => {
    const seen: number[] = [];
    const sim = runSimulation({
      url: server.url,
      email: ADMIN.email,
      password: ADMIN.password,
      clusters: 3,
      nodes: 2,
      pods: 20,
      crashloopRate: 0.1,
      namePrefix: 'test',
      seed: 42,
      onProgress: (p) => seen.push(p.enrolled),
    });
    try {
      await sim.ready;
      expect(sim.progress()).toMatchObject({ phase: 'running', total: 3, created: 3, enrolled: 3, errors: 0 });
      expect(Math.max(...seen)).toBe(3);

      const names = sim.clusters().map((c) => c.name);
      expect(names.every((n) => /^test-[a-z0-9-]+$/.test(n))).toBe(true);

      const fleet = await eventually(
        async (): Promise<FleetResponse | undefined> => {
          const f = await api.fleet();
          const ours = f.clusters.filter((c) => names.includes(c.name));
          return ours.length === 3 && ours.every((c) => c.lastHeartbeatAt !== null && c.summary.podsTotal === 20)
            ? f
            : undefined;
        },
        () => `three clusters with 20 pods in GET /api/v1/fleet (agents: ${agentErrors(sim)})`,
      );
      for (const c of fleet.clusters.filter((x) => names.includes(x.name))) {
        expect(c.summary).toMatchObject({ nodesTotal: 2, nodesReady: 2, podsTotal: 20 });
        expect(c.kubernetesVersion).toMatch(/^v1\.31\.\d+\+k3s1$/);
        expect(c.labels).toMatchObject({ simulated: 'true' });
      }
      expect(fleet.totals.nodes).toBeGreaterThanOrEqual(6);
      expect(fleet.totals.pods).toBeGreaterThanOrEqual(60);

      // After the first full snapshot the agents move on to delta/same heartbeats, all accepted.
      await eventually(
        async () => (sim.clusters().every((c) => c.agent.stats.sent >= 3) ? true : undefined),
        () => `three heartbeats per agent (agents: ${agentErrors(sim)})`,
      );
      for (const { agent } of sim.clusters()) {
        const s = agent.stats;
        expect(s.failures).toBe(0);
        expect(s.full).toBeGreaterThanOrEqual(1);
        expect(s.delta + s.same).toBeGreaterThanOrEqual(1);
        expect(s.intervalSeconds).toBe(1);
      }
    } finally {
      await sim.stop();
    }
    expect(sim.progress().phase).toBe('stopped');
  });

  it('enrolls with given enrollment tokens, and a used token is refused', async () => {
    const created = await api.createCluster({ name: 'given-token-01', environment: 'dev' });
    const sim = runSimulation({
      url: server.url,
      enrollmentTokens: [created.enrollment.token],
      nodes: 1,
      pods: 8,
      intervalSeconds: 1,
      seed: 'given',
    });
    try {
      await sim.ready;
      const [only] = sim.clusters();
      expect(only?.id).toBe(created.cluster.id);
      await eventually(
        async () => ((only?.agent.stats.sent ?? 0) >= 1 ? true : undefined),
        () => `a heartbeat (agent: ${agentErrors(sim)})`,
      );
      const cluster = await eventually(async () => {
        const c = await api.getCluster(created.cluster.id);
        return c.summary.podsTotal === 8 ? c : undefined;
      }, 'the snapshot of the given cluster');
      expect(cluster.distribution).toBe('k3s');
    } finally {
      await sim.stop();
    }

    const again = new SimulatedAgent({
      url: server.url,
      inventory: generateClusterInventory({ nodes: 1, pods: 1, seed: 1 }),
      seed: 1,
    });
    try {
      await expect(again.enroll(created.enrollment.token)).rejects.toMatchObject({
        status: 401,
        code: 'enrollment_token_invalid',
      });
    } finally {
      await again.stop();
    }
  });

  it('gzips heartbeats, then sends full again when the server asks for it', async () => {
    const created = await api.createCluster({ name: 'resend-full-01' });
    const inventory = generateClusterInventory({ nodes: 2, pods: 30, seed: 'resend' });
    const agent = new SimulatedAgent({ url: server.url, inventory, seed: 'resend', churn: false });
    // A second process with the same key reports a different cluster state, so the server's
    // snapshot no longer matches what the first agent last had acknowledged.
    let other: SimulatedAgent | null = null;
    try {
      const credentials = await agent.enroll(created.enrollment.token);
      const first = await agent.heartbeatOnce();
      expect(first.mode).toBe('full');
      expect(first.bytesSent).toBeLessThan(JSON.stringify(inventory).length / 4);
      expect((await agent.heartbeatOnce()).mode).toBe('same');

      other = new SimulatedAgent({
        url: server.url,
        credentials,
        inventory: generateClusterInventory({ nodes: 2, pods: 31, seed: 'other' }),
        seed: 'other',
      });
      expect((await other.heartbeatOnce()).mode).toBe('full');

      const resent = await agent.heartbeatOnce();
      expect(resent.mode).toBe('full');
      expect(resent.reply.resendFull).toBeUndefined();
      // The stale `same` was answered with resendFull and the full snapshot followed at once.
      expect(agent.stats).toMatchObject({ resendFullRequests: 1, full: 2, same: 2, failures: 0 });
      expect((await agent.heartbeatOnce()).mode).toBe('same');
      const cluster = await eventually(async () => {
        const c = await api.getCluster(created.cluster.id);
        return c.summary.podsTotal === 30 ? c : undefined;
      }, 'the snapshot of the first agent again');
      expect(cluster.summary.nodesTotal).toBe(2);
    } finally {
      await agent.stop();
      await other?.stop();
    }
  });

  it('fails fast with wrong credentials', async () => {
    const sim = runSimulation({
      url: server.url,
      email: ADMIN.email,
      password: 'wrong password',
      clusters: 2,
      nodes: 1,
      pods: 5,
    });
    await expect(sim.ready).rejects.toMatchObject({ code: 'invalid_credentials' });
    await sim.stop();
    expect(sim.clusters()).toHaveLength(0);
  });
  it('runs as `niro simulate` until Ctrl-C', async () => {
    const signals = new EventEmitter();
    const running = runNiro(
      [
        'simulate',
        '--url',
        server.url,
        '--email',
        ADMIN.email,
        '--clusters',
        '2',
        '--nodes',
        '1',
        '--pods',
        '10',
        '--interval',
        '1',
        '--prefix',
        'cli',
        '--seed',
        '5',
      ],
      { configDir: path.join(dataDir, 'cli-config'), cwd: dataDir, env: { NIRO_PASSWORD: ADMIN.password }, signals },
    );
    await eventually(async () => {
      const f = await api.fleet();
      const ours = f.clusters.filter((c) => c.name.startsWith('cli-') && c.summary.podsTotal === 10);
      return ours.length === 2 ? true : undefined;
    }, 'two cli-* clusters with 10 pods in the fleet');
    signals.emit('signal', 'SIGINT');
    const res = await running;
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`Simulating 2 clusters (1 node, 10 pods each) against ${server.url}`);
    expect(res.stderr).toContain('All 2 clusters are enrolled');
    expect(res.stderr).toContain('Received SIGINT, stopping the simulated agents');
    expect(res.stderr).not.toContain(ADMIN.password);
  });
});
