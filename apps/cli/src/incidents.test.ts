import path from 'node:path';
import type { Incident, IncidentDetail } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import {
  CRASH_LOOPING as CRASH,
  SimulatedAgent,
  testNode as node,
  testPod as pod,
  type AgentCredentials,
  type ClusterInventory,
} from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';

const ADMIN = { email: 'cli-incidents@example.test', password: 'correct horse battery staple' };
const CLUSTER = 'shop-prod';

const healthy = (): ClusterInventory => ({
  nodes: [node('node-1')],
  pods: [pod('api-1', 'api'), pod('api-2', 'api'), pod('web-1', 'web')],
  workloads: [],
});
const crashLooping = (): ClusterInventory => ({
  ...healthy(),
  pods: [pod('api-1', 'api', CRASH), pod('api-2', 'api', CRASH), pod('web-1', 'web')],
});

/** The cells of a table printed by the CLI (columns are three or more spaces apart). */
function tableRows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/\s{3,}/));
}

/** `niro incidents` against a real server fed by a simulated agent with a crash-looping Deployment. */
describe('niro incidents', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let token: string;
  let credentials: AgentCredentials;
  let agent: SimulatedAgent | null = null;

  const niro = (args: string[]): Promise<NiroRun> =>
    runNiro(args, {
      configDir: path.join(dataDir, 'config'),
      cwd: dataDir,
      env: { NIRO_URL: server.url, NIRO_TOKEN: token },
    });

  /** One heartbeat of the cluster as it now looks (a new agent session sends it in full). */
  async function heartbeat(inventory: ClusterInventory): Promise<void> {
    await agent?.stop();
    agent = new SimulatedAgent({
      url: server.url,
      inventory,
      seed: CLUSTER,
      credentials,
      churn: false,
      gzip: false,
    });
    await agent.heartbeatOnce();
  }

  beforeAll(async () => {
    testServer = await startCliTestServer({ prefix: 'niro-cli-incidents-', admin: ADMIN, tokenName: 'inc' });
    ({ dataDir, server, token } = testServer);
    const { api } = testServer;
    const { enrollment } = await api.createCluster({ name: CLUSTER, environment: 'production' });
    const enrolling = new SimulatedAgent({ url: server.url, inventory: healthy(), seed: CLUSTER, churn: false });
    credentials = await enrolling.enroll(enrollment.token);
    await enrolling.stop();
    await heartbeat(healthy());
  });

  afterAll(async () => {
    await agent?.stop();
    await testServer?.close();
  });

  it('lists, shows, acknowledges and deletes an incident of a crash-looping pod', async () => {
    const none = await niro(['incidents', 'ls']);
    expect(none, none.stderr).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toContain('No incidents.');

    await heartbeat(crashLooping());

    const listed = await niro(['incidents', 'ls']);
    expect(listed.code, listed.stderr).toBe(0);
    const [header, ...rows] = tableRows(listed.stdout);
    expect(header).toEqual(['ID', 'SEVERITY', 'STATE', 'TYPE', 'CLUSTER', 'TITLE', 'OPENED', 'AGE']);
    expect(rows).toHaveLength(1);
    const [id = '', severity, state, type, cluster, title, opened, age] = rows[0] ?? [];
    expect([severity, state, type, cluster]).toEqual(['high', 'firing', 'pod_crash_looping', CLUSTER]);
    expect(title).toContain('shop');
    expect(opened).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(age).toMatch(/^\d+[smhd]$/);

    // Filters reach the server: each one narrows to the incident or away from it.
    const json = async (args: string[]): Promise<Incident[]> => {
      const run = await niro(['incidents', 'ls', ...args, '-o', 'json']);
      expect(run.code, run.stderr).toBe(0);
      const items: Incident[] = JSON.parse(run.stdout);
      return items;
    };
    const ids = async (args: string[]): Promise<string[]> => (await json(args)).map((i) => i.id);
    expect(
      await ids(['--state', 'open', '--cluster', CLUSTER, '--type', 'pod_crash_looping', '--severity', 'high']),
    ).toEqual([id]);
    expect(await ids(['--state', 'resolved'])).toEqual([]);
    expect(await ids(['--type', 'node_not_ready'])).toEqual([]);
    expect(await ids(['--cluster', credentials.clusterId])).toEqual([id]);
    const unknownCluster = await niro(['incidents', 'ls', '--cluster', 'nowhere']);
    expect(unknownCluster.code).toBe(1);
    expect(unknownCluster.stderr).toContain('no cluster named "nowhere"');
    expect((await niro(['incidents', 'ls', '--state', 'sleeping'])).code).toBe(2);
    expect((await niro(['incidents', 'ls', '--limit', '0'])).code).toBe(2);

    const shown = await niro(['incidents', 'get', id]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`ID:           ${id}`);
    expect(shown.stdout).toContain('State:        firing');
    expect(shown.stdout).toContain(`Cluster:      ${CLUSTER} (${credentials.clusterId})`);
    expect(shown.stdout).toContain('Scope:        shop/Deployment/api');
    expect(shown.stdout).toContain('Pods (2):');
    expect(shown.stdout).toContain('shop/api-1 (Running): app waiting CrashLoopBackOff 7 restarts');
    expect(shown.stdout).toContain('Logs: not captured');
    expect(shown.stdout).toMatch(/Timeline:\n {2}\S+ \S+ {3}opened/);

    // An open incident cannot be deleted: the server's 409 message, exit 1.
    const early = await niro(['incidents', 'rm', id]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^niro: .+ \(incident_open\)\n$/);

    const acked = await niro(['incidents', 'ack', id, '--note', 'rolling back api']);
    expect(acked.code, acked.stderr).toBe(0);
    expect(acked.stderr).toContain(`Acknowledged incident ${id}`);
    expect(await ids(['--state', 'acknowledged'])).toEqual([id]);
    expect(await ids(['--state', 'firing'])).toEqual([]);
    const detail: IncidentDetail = JSON.parse((await niro(['incidents', 'get', id, '-o', 'json'])).stdout);
    expect(detail.state).toBe('acknowledged');
    expect(detail.acknowledgedBy).not.toBeNull();
    const afterAck = await niro(['incidents', 'get', id]);
    expect(afterAck.stdout).toMatch(/acknowledged .*rolling back api/);

    // The rollout is fixed: two clean heartbeats resolve it.
    await heartbeat({ ...healthy(), pods: [pod('api-3', 'api'), pod('api-4', 'api'), pod('web-1', 'web')] });
    await heartbeat({ ...healthy(), pods: [pod('api-3', 'api'), pod('api-4', 'api'), pod('web-1', 'web')] });
    const resolved = await json(['--state', 'resolved']);
    expect(resolved.map((i) => [i.id, i.state])).toEqual([[id, 'resolved']]);
    const lateAck = await niro(['incidents', 'ack', id]);
    expect(lateAck.code).toBe(1);
    expect(lateAck.stderr).toContain('(incident_resolved)');
    const resolvedView = await niro(['incidents', 'get', id]);
    expect(resolvedView.stdout).toMatch(/Timeline:[\s\S]*resolved/);

    const removed = await niro(['incidents', 'rm', id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(`Deleted incident ${id}.`);
    const gone = await niro(['incidents', 'get', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('(not_found)');
    expect(await ids([])).toEqual([]);
  });
});
