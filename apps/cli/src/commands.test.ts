import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiClient, type CommandMessage, type LongPollReply } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import { DEFAULT_CAPABILITIES, buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';

const ADMIN = { email: 'cli-commands@example.test', password: 'correct horse battery staple' };
const CLUSTER = 'edge-cmd';
const UUID = /^[0-9a-f-]{36}$/;

const MANIFEST = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
`;

/**
 * `niro commands` against a real server, with the cluster's agent played over the long-poll
 * protocol: the test takes each command as the agent would and answers it.
 */
describe('niro commands', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let token: string;
  let agentKey: string;
  let clusterId: string;

  const niro = (args: string[], stdin?: string): Promise<NiroRun> =>
    runNiro(args, {
      configDir: path.join(dataDir, 'config'),
      cwd: dataDir,
      env: { NIRO_URL: server.url, NIRO_TOKEN: token },
      ...(stdin === undefined ? {} : { stdin }),
    });
  const agent = (method: string, url: string, body?: unknown): Promise<Response> =>
    fetch(`${server.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${agentKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  /** Takes the next command of `kind` as the agent, acknowledges it and answers it with `answer`. */
  const answerNext = async (kind: string, answer: Record<string, unknown>): Promise<CommandMessage> => {
    for (;;) {
      const res = await agent('GET', '/api/agent/v1/commands?waitSeconds=10');
      const { commands } = (await res.json()) as LongPollReply;
      const cmd = commands.find((c) => c.kind === kind);
      if (cmd === undefined) continue;
      expect((await agent('POST', `/api/agent/v1/commands/${cmd.id}/ack`)).status).toBe(204);
      expect((await agent('POST', `/api/agent/v1/commands/${cmd.id}/result`, answer)).status).toBe(200);
      return cmd;
    }
  };

  beforeAll(async () => {
    testServer = await startCliTestServer({ prefix: 'niro-cli-commands-', admin: ADMIN, tokenName: 'cmds' });
    ({ dataDir, server, token } = testServer);
    const { api } = testServer;
    const created = await api.createCluster({ name: CLUSTER, environment: 'dev' });
    clusterId = created.cluster.id;
    ({ agentKey } = await api.enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'cli-commands-uid' },
    }));
    const hb = buildFullHeartbeat(generateClusterInventory({ nodes: 1, pods: 2, seed: 'cli-commands' }), {
      seq: 1,
      now: Date.now(),
      capabilities: { ...DEFAULT_CAPABILITIES, apply: true },
    });
    expect((await agent('POST', '/api/agent/v1/heartbeat', hb)).status).toBe(200);
    await writeFile(path.join(dataDir, 'web.yaml'), MANIFEST);
  });

  afterAll(async () => {
    await testServer?.close();
  });

  it('runs a ping and prints the round trip', async ({ annotate }) => {
    const run = niro(['commands', 'run', CLUSTER, 'ping']);
    const cmd = await answerNext('ping', { status: 'succeeded', result: { agentTime: new Date().toISOString() } });
    expect(cmd.payload).toEqual({});
    const result = await run;
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^edge-cmd answered in [\d.]+ ms\n$/);
    await annotate(`niro commands run ping: ${result.stdout.trim()}`);

    const json = niro(['commands', 'run', CLUSTER, 'ping', '-o', 'json']);
    await answerNext('ping', { status: 'succeeded', result: {} });
    const parsed: unknown = JSON.parse((await json).stdout);
    expect(parsed).toMatchObject({ kind: 'ping', state: 'succeeded', deliveries: 1, roundTripMs: expect.any(Number) });
  });

  it('queues with --no-wait, shows the command with get and ls, and cancels it', async () => {
    const queued = await niro(['commands', 'run', CLUSTER, 'ping', '--no-wait', '--expires-in', '5m']);
    expect(queued.code).toBe(0);
    const id = queued.stdout.trim();
    expect(id).toMatch(UUID);

    const shown = await niro(['commands', 'get', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^ID:\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^Kind:\s+ping$/m);
    expect(shown.stdout).toMatch(/^State:\s+queued$/m);
    const shownJson: unknown = JSON.parse((await niro(['commands', 'get', id, '-o', 'json'])).stdout);
    expect(shownJson).toMatchObject({ id, kind: 'ping', state: 'queued', deliveries: 0 });

    const listed = await niro(['commands', 'ls', CLUSTER]);
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual(['ID', 'KIND', 'STATE', 'CREATED', 'DURATION']);
    const row = rows.find((r) => r.startsWith(id));
    expect(row?.split(/\s{3,}/)).toEqual([id, 'ping', 'queued', expect.stringMatching(/ago$/), '-']);

    const onlyQueued = await niro(['commands', 'ls', CLUSTER, '--state', 'queued', '-o', 'json']);
    const items: unknown = JSON.parse(onlyQueued.stdout);
    expect(items).toEqual([expect.objectContaining({ id, state: 'queued' })]);

    const cancelled = await niro(['commands', 'cancel', id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: '' });
    expect(cancelled.stderr).toContain(`Cancelled command ${id}`);
    expect((await niro(['commands', 'get', id])).stdout).toMatch(/^State:\s+cancelled$/m);
    const again = await niro(['commands', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('(command_already_final)');
  });

  it('sends the manifests of --file with --namespace and --prune, and prints the objects', async () => {
    const run = niro([
      'commands',
      'run',
      CLUSTER,
      'apply',
      '--file',
      'web.yaml',
      '--namespace',
      'shop',
      '--deployment-id',
      'shop-web',
      '--prune',
    ]);
    const cmd = await answerNext('apply', {
      status: 'succeeded',
      result: {
        objects: [
          { kind: 'ConfigMap', namespace: 'shop', name: 'web-config', action: 'created' },
          { kind: 'Deployment', namespace: 'shop', name: 'web', action: 'configured' },
          { kind: 'Service', namespace: 'shop', name: 'old', action: 'pruned' },
        ],
      },
    });
    expect(cmd.payload).toEqual({ manifests: MANIFEST, namespace: 'shop', deploymentId: 'shop-web', prune: true });
    const result = await run;
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual(['KIND', 'NAMESPACE', 'NAME', 'ACTION', 'MESSAGE/FIELDS']);
    expect(rows.map((r) => r.split(/\s{3,}/))).toEqual([
      ['ConfigMap', 'shop', 'web-config', 'created'],
      ['Deployment', 'shop', 'web', 'configured'],
      ['Service', 'shop', 'old', 'pruned'],
    ]);
    expect(result.stderr).toContain('3 objects: 1 created, 1 configured, 1 pruned');
  });

  it('reads the manifests from standard input with --file - and shows the drift of a diff', async () => {
    const run = niro(['commands', 'run', CLUSTER, 'diff', '--file', '-'], MANIFEST);
    const cmd = await answerNext('diff', {
      status: 'succeeded',
      result: {
        objects: [
          { kind: 'Deployment', namespace: 'default', name: 'web', action: 'drifted', fields: ['spec.replicas'] },
          { kind: 'ConfigMap', namespace: 'default', name: 'web-config', action: 'missing' },
        ],
      },
    });
    expect(cmd.payload).toEqual({ manifests: MANIFEST });
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Deployment\s+default\s+web\s+drifted\s+spec\.replicas$/m);
    expect(result.stdout).toMatch(/^ConfigMap\s+default\s+web-config\s+missing$/m);
  });

  it("exits 1 with the agent's message when the command fails or partly fails", async () => {
    const failed = niro([
      'commands',
      'run',
      CLUSTER,
      'delete',
      '--payload',
      '{"deploymentId":"dep-1"}',
      '--idempotency-key',
      'del-1',
    ]);
    const cmd = await answerNext('delete', {
      status: 'failed',
      error: { code: 'kube_forbidden', message: 'deployments.apps is forbidden' },
    });
    expect(cmd.payload).toEqual({ deploymentId: 'dep-1' });
    const result = await failed;
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe('niro: deployments.apps is forbidden (kube_forbidden)\n');

    const partial = niro(['commands', 'run', CLUSTER, 'apply', '-f', 'web.yaml']);
    await answerNext('apply', {
      status: 'partial',
      result: {
        objects: [
          { kind: 'ConfigMap', namespace: 'default', name: 'web-config', action: 'unchanged' },
          { kind: 'Deployment', namespace: 'default', name: 'web', action: 'failed', message: 'quota exceeded' },
        ],
      },
    });
    const partly = await partial;
    expect(partly.code).toBe(1);
    expect(partly.stdout).toMatch(/^Deployment\s+default\s+web\s+failed\s+quota exceeded$/m);
    expect(partly.stderr).toContain('niro: apply partly failed');
  });

  it('stops waiting after --timeout and says how to follow the command', async () => {
    const result = await niro(['commands', 'run', CLUSTER, 'ping', '--timeout', '300ms']);
    expect(result.code).toBe(1);
    const id = /command ([0-9a-f-]{36}) is still queued/.exec(result.stderr)?.[1];
    expect(id).toMatch(UUID);
    expect(result.stderr).toContain(`niro commands get ${id}`);
    expect((await niro(['commands', 'cancel', String(id)])).code).toBe(0);
  });

  it('names an unknown cluster or command', async () => {
    const cluster = await niro(['commands', 'run', 'no-such-cluster', 'ping']);
    expect(cluster).toMatchObject({ code: 1, stdout: '', stderr: 'niro: no cluster named "no-such-cluster"\n' });
    const ls = await niro(['commands', 'ls', 'no-such-cluster']);
    expect(ls).toMatchObject({ code: 1, stderr: 'niro: no cluster named "no-such-cluster"\n' });
    const command = await niro(['commands', 'get', '00000000-0000-4000-8000-000000000000']);
    expect(command.code).toBe(1);
    expect(command.stderr).toMatch(/\(not_found\)\n$/);
  });

  it('refuses bad flags with exit code 2 before queueing anything', async () => {
    const badJson = await niro(['commands', 'run', CLUSTER, 'ping', '--payload', '{nope']);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^niro: --payload: not valid JSON/);
    const notObject = await niro(['commands', 'run', CLUSTER, 'ping', '--payload', '[1]']);
    expect(notObject).toMatchObject({ code: 2, stderr: expect.stringContaining('--payload: must be a JSON object') });
    const kind = await niro(['commands', 'run', CLUSTER, 'reboot']);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('reboot');
    const fileForPing = await niro(['commands', 'run', CLUSTER, 'ping', '--file', 'web.yaml']);
    expect(fileForPing).toMatchObject({ code: 2, stderr: expect.stringContaining('--file') });
    const noManifests = await niro(['commands', 'run', CLUSTER, 'apply']);
    expect(noManifests).toMatchObject({ code: 2, stderr: expect.stringContaining('apply needs manifests') });
    const missingFile = await niro(['commands', 'run', CLUSTER, 'apply', '--file', 'nope.yaml']);
    expect(missingFile).toMatchObject({ code: 2, stderr: 'niro: --file nope.yaml: no such file\n' });
    const prune = await niro(['commands', 'run', CLUSTER, 'apply', '--file', 'web.yaml', '--prune']);
    expect(prune).toMatchObject({ code: 2, stderr: 'niro: --prune needs --deployment-id\n' });
    const expiry = await niro(['commands', 'run', CLUSTER, 'ping', '--expires-in', '2s']);
    expect(expiry).toMatchObject({ code: 2, stderr: expect.stringContaining('--expires-in 2s') });
    const state = await niro(['commands', 'ls', CLUSTER, '--state', 'done']);
    expect(state.code).toBe(2);

    const { items } = await new ApiClient({ baseUrl: server.url, token }).listCommands(clusterId, { state: 'queued' });
    expect(items).toEqual([]);
  });
});
