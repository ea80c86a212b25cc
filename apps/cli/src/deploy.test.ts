import { EventEmitter } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NiroApiError,
  type ApiClient,
  type CommandMessage,
  type Deployment,
  type DeploymentRevisionSummary,
  type LongPollReply,
  type ObjectResult,
} from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import {
  DEFAULT_CAPABILITIES,
  buildFullHeartbeat,
  generateClusterInventory,
  managedRollout,
  webAppYaml,
  type ClusterInventory,
} from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';

const ADMIN = { email: 'cli-deploy@example.test', password: 'correct horse battery staple' };
const NODES = generateClusterInventory({ nodes: 1, pods: 0, seed: 'cli-deploy' }).nodes;
/** --wait asks the server this often here (2s by default). */
const FAST = ['--poll-interval', '50ms'];

const webYaml = (image: string, options: { replicas?: number; deadline?: number } = {}): string =>
  webAppYaml(image, { replicas: options.replicas, deadlineSeconds: options.deadline });

const applied = (generation: number): ObjectResult[] => [
  { kind: 'Deployment', namespace: 'shop', name: 'web', action: 'configured', generation },
  { kind: 'Service', namespace: 'shop', name: 'web', action: 'unchanged' },
];

/** A cluster running `web` of the deployment (each test deploys to its own namespace) with these counts, as a heartbeat reports it. */
const running = (
  namespace: string,
  deploymentId: string,
  counts: { generation: number; replicas: number; updated: number; ready: number },
  podReason?: string,
): ClusterInventory => managedRollout(NODES, { namespace, name: 'web', deploymentId }, counts, podReason);

type Agent = { name: string; id: string; key: string; seq: number };

/**
 * `niro deploy`, `niro rollback` and `niro deployments` against a real server, with the clusters'
 * agents played over the long-poll protocol: the test takes each apply as the agent would, answers
 * it, and reports the rollout in heartbeats.
 */
describe('niro deploy', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let token: string;
  let api: ApiClient;
  let edge: Agent;
  let edge2: Agent;
  let noApply: Agent;
  /** The deployment `--wait` saw ready. */
  let apiId = '';

  const niro = (
    args: string[],
    options: { onStderr?: (text: string) => void; signals?: EventEmitter } = {},
  ): Promise<NiroRun> =>
    runNiro(args, {
      configDir: path.join(dataDir, 'config'),
      cwd: dataDir,
      env: { NIRO_URL: server.url, NIRO_TOKEN: token },
      ...options,
    });
  const agentRequest = (a: Agent, method: string, url: string, body?: unknown): Promise<Response> =>
    fetch(`${server.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${a.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const heartbeat = async (a: Agent, inventory: ClusterInventory, apply = true): Promise<void> => {
    const hb = buildFullHeartbeat(inventory, {
      seq: ++a.seq,
      now: Date.now(),
      capabilities: { ...DEFAULT_CAPABILITIES, apply },
    });
    expect((await agentRequest(a, 'POST', '/api/agent/v1/heartbeat', hb)).status).toBe(200);
  };
  /** Takes the next apply command as the agent and answers it with `answer`. */
  const answerApply = async (a: Agent, answer: Record<string, unknown>): Promise<CommandMessage> => {
    for (;;) {
      const res = await agentRequest(a, 'GET', '/api/agent/v1/commands?waitSeconds=10');
      const { commands } = (await res.json()) as LongPollReply;
      const cmd = commands.find((c) => c.kind === 'apply');
      if (cmd === undefined) continue;
      expect((await agentRequest(a, 'POST', `/api/agent/v1/commands/${cmd.id}/result`, answer)).status).toBe(200);
      return cmd;
    }
  };
  const succeeded = (generation: number) => ({ status: 'succeeded', result: { objects: applied(generation) } });
  /** Heartbeats `inventory` until `done` resolves (the CLI polls on its own schedule). */
  const reportUntil = async (a: Agent, done: Promise<unknown>, inventory: () => ClusterInventory): Promise<void> => {
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    while (!finished) {
      await heartbeat(a, inventory());
      await sleep(100);
    }
  };
  const enroll = async (name: string, apply: boolean): Promise<Agent> => {
    const created = await api.createCluster({ name, environment: 'dev' });
    const { agentKey } = await api.enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `${name}-uid` },
    });
    const a: Agent = { name, id: created.cluster.id, key: agentKey, seq: 0 };
    await heartbeat(a, { nodes: NODES, pods: [], workloads: [] }, apply);
    return a;
  };
  const file = async (relative: string, text: string): Promise<string> => {
    const full = path.join(dataDir, relative);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, text);
    return relative;
  };

  beforeAll(async () => {
    testServer = await startCliTestServer({ prefix: 'niro-cli-deploy-', admin: ADMIN, tokenName: 'deploy' });
    ({ dataDir, server, token, api } = testServer);
    edge = await enroll('edge-deploy', true);
    edge2 = await enroll('edge-deploy-2', true);
    noApply = await enroll('edge-no-apply', false);
  });

  afterAll(async () => {
    await testServer?.close();
  });

  it('deploys a file as revision 1, and again as revision 2 of the same deployment', async ({ annotate }) => {
    await file('web.yaml', webYaml('nginx:1.27'));
    const first = await niro(['deploy', 'web.yaml', '--cluster', 'edge-deploy', '--namespace', 'shop']);
    expect(first.code, first.stderr).toBe(0);
    const [headline, counts, ...findings] = first.stdout.trimEnd().split('\n');
    expect(headline).toBe('Created deployment web on edge-deploy/shop: revision 1 queued');
    expect(counts).toMatch(/^Policy findings: .*\d+ medium/);
    // One line per high or medium finding, e.g. the container without requests.
    expect(
      findings.some((l) =>
        /^ {2}medium +missing-requests +Deployment\/web: container web has no CPU request\.$/.test(l),
      ),
    ).toBe(true);
    await annotate(`niro deploy:\n${first.stdout}`);
    const cmd1 = await answerApply(edge, succeeded(1));
    expect(cmd1.payload).toMatchObject({
      manifests: webYaml('nginx:1.27'),
      namespace: 'shop',
      revision: 1,
      prune: true,
    });

    await file('web.yaml', webYaml('nginx:1.28'));
    const second = await niro([
      'deploy',
      'web.yaml',
      '--cluster',
      'edge-deploy',
      '-n',
      'shop',
      '--no-prune',
      '--message',
      'nginx 1.28',
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Updated deployment web on edge-deploy/shop: revision 2 queued');
    const cmd2 = await answerApply(edge, succeeded(2));
    expect(cmd2.payload).toMatchObject({ manifests: webYaml('nginx:1.28'), revision: 2, prune: false });
    expect(cmd2.payload.deploymentId).toBe(cmd1.payload.deploymentId);

    const revisions = await niro(['deployments', 'revisions', 'web', '-o', 'json']);
    const items = JSON.parse(revisions.stdout) as DeploymentRevisionSummary[];
    expect(items.map((r) => [r.revision, r.status, r.prune, r.message])).toEqual([
      [2, 'succeeded', false, 'nginx 1.28'],
      [1, 'succeeded', true, null],
    ]);
  });

  it('deploys a directory: its YAML files in path order, named after it', async () => {
    const config = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n';
    await file('Catalog/b/web.yml', webYaml('nginx:1.27'));
    await file('Catalog/a-config.yaml', config);
    await file('Catalog/.git/ignored.yaml', 'not: [a manifest\n');
    await file('Catalog/README.md', '# catalog\n');
    const run = await niro(['deploy', 'Catalog', '--cluster', 'edge-deploy', '-n', 'catalog', '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const d = JSON.parse(run.stdout) as Deployment;
    expect(d).toMatchObject({ name: 'catalog', clusterName: 'edge-deploy', namespace: 'catalog', revision: 1 });
    expect(d.status).toBe('pending');
    const cmd = await answerApply(edge, succeeded(1));
    expect(cmd.payload.manifests).toBe(`${config.trimEnd()}\n---\n${webYaml('nginx:1.27')}`);
  });

  it('--wait follows the apply and the rollout and exits 0 once it is ready', async ({ annotate }) => {
    await file('api.yaml', webYaml('nginx:1.27'));
    let stderr = '';
    const run = niro(['deploy', 'api.yaml', '--cluster', 'edge-deploy', '-n', 'api', '--wait', ...FAST], {
      onStderr: (text) => {
        stderr = text;
      },
    });
    const cmd = await answerApply(edge, succeeded(1));
    apiId = String(cmd.payload.deploymentId);
    await reportUntil(edge, run, () =>
      stderr.includes('rollout: 1/2 ready')
        ? running('api', apiId, { generation: 1, replicas: 2, updated: 2, ready: 2 })
        : running('api', apiId, { generation: 1, replicas: 2, updated: 2, ready: 1 }, 'ContainerCreating'),
    );
    const result = await run;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.split('\n')).toEqual(
      expect.arrayContaining([
        'revision 1: applying…',
        'revision 1: applied (1 object configured, 1 unchanged)',
        'rollout: 1/2 ready, 2 updated',
        'pod web-1: ContainerCreating',
        'rollout: ready (2/2)',
      ]),
    );
    // A line is printed once, however often the server is asked.
    expect(result.stderr.match(/rollout: 1\/2 ready, 2 updated/g)).toHaveLength(1);
    await annotate(`niro deploy --wait:\n${result.stderr}`);
  });

  it('--wait exits 1 naming the pods when the rollout stalls past its progress deadline', async () => {
    await file('stuck.yaml', webYaml('nginx:does-not-exist', { deadline: 1 }));
    const run = niro(['deploy', 'stuck.yaml', '--cluster', 'edge-deploy', '-n', 'stuck', '--wait', ...FAST]);
    const cmd = await answerApply(edge, succeeded(1));
    const id = String(cmd.payload.deploymentId);
    await reportUntil(edge, run, () =>
      running('stuck', id, { generation: 1, replicas: 2, updated: 1, ready: 1 }, 'ImagePullBackOff'),
    );
    const result = await run;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pod web-1: ImagePullBackOff');
    expect(result.stderr).toMatch(
      /niro: the rollout of revision 1 stalled: 1\/2 ready after its progress deadline \(web-1: ImagePullBackOff\)/,
    );
  });

  it("--wait exits 1 with the agent's message when the apply fails, and when the timeout passes", async () => {
    await file('broken.yaml', webYaml('nginx:1.27'));
    const run = niro(['deploy', 'broken.yaml', '--cluster', 'edge-deploy', '-n', 'broken', '--wait', ...FAST]);
    await answerApply(edge, {
      status: 'partial',
      result: {
        objects: [
          {
            kind: 'Deployment',
            namespace: 'shop',
            name: 'web',
            action: 'failed',
            message: 'admission webhook denied it',
          },
          { kind: 'Service', namespace: 'shop', name: 'web', action: 'unchanged' },
        ],
      },
    });
    const partial = await run;
    expect(partial.code).toBe(1);
    expect(partial.stderr).toContain('revision 1: partly applied (1 object failed, 1 unchanged)');
    expect(partial.stderr).toContain('niro: revision 1 applied partly: Deployment/web: admission webhook denied it');

    const failed = niro(['deploy', 'broken.yaml', '--cluster', 'edge-deploy', '-n', 'broken', '--wait', ...FAST]);
    await answerApply(edge, { status: 'failed', error: { code: 'apply_failed', message: 'the API server refused' } });
    const failedRun = await failed;
    expect(failedRun.code).toBe(1);
    expect(failedRun.stderr).toContain('niro: the apply of revision 2 failed: the API server refused');

    // Nobody takes the apply: the wait ends at --timeout, saying what it was waiting for.
    const timedOut = await niro([
      'deploy',
      'broken.yaml',
      '--cluster',
      'edge-deploy',
      '-n',
      'broken',
      '--wait',
      '--timeout',
      '300ms',
      ...FAST,
    ]);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stderr).toContain(
      'niro: timed out after 300ms: revision 3 is still waiting for the agent to apply it',
    );
    await answerApply(edge, succeeded(3));

    // Ctrl-C stops waiting, not the apply.
    const signals = new EventEmitter();
    const interrupted = niro(['deploy', 'broken.yaml', '--cluster', 'edge-deploy', '-n', 'broken', '--wait'], {
      signals,
      onStderr: (text) => {
        if (text.includes('revision 4: applying…')) signals.emit('signal', 'SIGINT');
      },
    });
    const stopped = await interrupted;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(
      /niro: stopped waiting; revision 4 goes on: follow it with `niro deployments show \S+`/,
    );
    await answerApply(edge, succeeded(4));
  });

  it('rolls back by name to an earlier revision, as a new revision', async () => {
    const run = await niro(['rollback', 'web', '--to', '1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('Rolling back web on edge-deploy/shop to revision 1: revision 3 queued\n');
    const cmd = await answerApply(edge, succeeded(3));
    expect(cmd.payload).toMatchObject({ manifests: webYaml('nginx:1.27'), revision: 3, prune: true });

    const table = await niro(['deployments', 'revisions', 'web']);
    const [header, newest] = table.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual(['REVISION', 'STATUS', 'SOURCE', 'CREATED', 'BY', 'FINDINGS', 'NOTE']);
    expect(newest?.split(/\s{3,}/)).toEqual([
      '3',
      'succeeded',
      'yaml',
      expect.stringMatching(/ago$/),
      expect.stringContaining(ADMIN.email),
      expect.stringMatching(/medium/),
      'rollback to revision 1',
    ]);
    const json = JSON.parse((await niro(['deployments', 'revisions', 'web', '-o', 'json'])).stdout) as
      DeploymentRevisionSummary[] | undefined;
    expect(json?.[0]).toMatchObject({ revision: 3, rollbackOf: 1 });

    const missing = await niro(['rollback', 'web', '--to', '9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('(revision_not_found)');
  });

  it('lists deployments and shows one with its revisions', async () => {
    await heartbeat(edge, running('api', apiId, { generation: 1, replicas: 2, updated: 2, ready: 2 }));
    const listed = await niro(['deployments', 'ls', '--cluster', 'edge-deploy']);
    expect(listed.code, listed.stderr).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual([
      'NAME',
      'CLUSTER',
      'NAMESPACE',
      'STATUS',
      'REVISION',
      'ROLLOUT',
      'DRIFT',
      'UPDATED',
    ]);
    const web = rows.find((r) => r.startsWith('web '));
    expect(web?.split(/\s{3,}/)).toEqual([
      'web',
      'edge-deploy',
      'shop',
      'succeeded',
      '3',
      expect.stringMatching(/progressing$/),
      'unknown',
      expect.stringMatching(/ago$/),
    ]);
    expect(rows.map((r) => r.split(/\s{3,}/)[0]).sort()).toEqual(['api', 'broken', 'catalog', 'stuck', 'web']);
    const failed = JSON.parse((await niro(['deployments', 'ls', '--status', 'partial', '-o', 'json'])).stdout) as
      Deployment[] | undefined;
    expect(failed?.map((d) => d.name)).toEqual([]);
    const ready = await niro(['deployments', 'ls', '--status', 'succeeded', '-o', 'json']);
    expect((JSON.parse(ready.stdout) as Deployment[]).map((d) => d.name).sort()).toEqual([
      'api',
      'broken',
      'catalog',
      'stuck',
      'web',
    ]);

    const shown = await niro(['deployments', 'show', 'api']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^Name:\s+api$/m);
    expect(shown.stdout).toMatch(/^Cluster:\s+edge-deploy \(dev\)$/m);
    expect(shown.stdout).toMatch(/^Status:\s+succeeded$/m);
    expect(shown.stdout).toMatch(/^Revision:\s+1, applied 1$/m);
    expect(shown.stdout).toMatch(/^Rollout:\s+ready: 2\/2 ready, 2 updated \(revision 1\)$/m);
    expect(shown.stdout).toMatch(/^REVISION\s+STATUS\s+SOURCE/m);
    expect(shown.stdout).toMatch(/^1\s+succeeded\s+yaml\s+/m);
    const json = JSON.parse((await niro(['deployments', 'show', 'api', '-o', 'json'])).stdout) as Deployment & {
      revisions: DeploymentRevisionSummary[];
    };
    expect(json).toMatchObject({ name: 'api', rollout: { state: 'ready' }, revisions: [{ revision: 1 }] });
  });

  it('refuses a missing file, an empty directory, too much YAML and a bad name before asking the server', async () => {
    const missing = await niro(['deploy', 'nope.yaml', '--cluster', 'edge-deploy', '-n', 'shop']);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toBe('niro: nope.yaml: no such file or directory\n');

    await file('empty/notes.txt', 'nothing here\n');
    const empty = await niro(['deploy', 'empty', '--cluster', 'edge-deploy', '-n', 'shop']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('empty: no *.yaml or *.yml files in this directory');

    await file('huge.yaml', `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    const huge = await niro(['deploy', 'huge.yaml', '--cluster', 'edge-deploy', '-n', 'shop']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toContain("huge.yaml: over 2 MiB of manifests (a deployment's limit)");

    await file('web_app.yaml', webYaml('nginx:1.27'));
    const badName = await niro(['deploy', 'web_app.yaml', '--cluster', 'edge-deploy', '-n', 'shop']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('deployment name "web_app" (from web_app.yaml; pass --name to choose another)');

    expect((await niro(['deploy', 'web.yaml', '--cluster', 'edge-deploy'])).code).toBe(2);
    expect((await niro(['deploy', 'web.yaml', '--cluster', 'edge-deploy', '-n', 'Shop'])).code).toBe(2);
    expect((await niro(['rollback', 'web', '--to', 'first'])).code).toBe(2);
  });

  it('names an unknown cluster and an unknown deployment', async () => {
    const cluster = await niro(['deploy', 'web.yaml', '--cluster', 'edge-nowhere', '-n', 'shop']);
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toBe('niro: no cluster named "edge-nowhere"\n');
    const deployment = await niro(['deployments', 'show', 'nothing', '--namespace', 'shop']);
    expect(deployment.code).toBe(1);
    expect(deployment.stderr).toBe('niro: no deployment named "nothing" in namespace shop\n');
  });

  it('lists the candidates when a name is used in several clusters', async () => {
    const other = await niro(['deploy', 'web.yaml', '--cluster', 'edge-deploy-2', '-n', 'shop']);
    expect(other.code, other.stderr).toBe(0);
    await answerApply(edge2, succeeded(1));
    const ambiguous = await niro(['rollback', 'web', '--to', '1']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/^niro: 2 deployments are named "web": /);
    expect(ambiguous.stderr).toContain('edge-deploy/shop (');
    expect(ambiguous.stderr).toContain('edge-deploy-2/shop (');
    expect(ambiguous.stderr).toContain('narrow it with --cluster and --namespace, or use the id');

    const narrowed = await niro(['deployments', 'show', 'web', '--cluster', 'edge-deploy-2']);
    expect(narrowed.code, narrowed.stderr).toBe(0);
    expect(narrowed.stdout).toMatch(/^Cluster:\s+edge-deploy-2 \(dev\)$/m);
    const id = /^ID:\s+(\S+)$/m.exec(narrowed.stdout)?.[1] ?? '';
    const byId = await niro(['deployments', 'show', id]);
    expect(byId.stdout).toMatch(/^Cluster:\s+edge-deploy-2 \(dev\)$/m);
  });

  it("shows the server's capability_disabled message verbatim and exits 1", async () => {
    const run = await niro(['deploy', 'web.yaml', '--cluster', 'edge-no-apply', '-n', 'shop']);
    const refused = await api
      .createDeployment({
        name: 'web',
        clusterId: noApply.id,
        namespace: 'shop',
        source: { type: 'yaml', yaml: webYaml('nginx:1.27') },
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    if (!(refused instanceof NiroApiError)) throw new Error('the server accepted a deployment without apply');
    expect(refused.code).toBe('capability_disabled');
    expect(run).toEqual({ code: 1, stdout: '', stderr: `niro: ${refused.message} (capability_disabled)\n` });
    expect(run.stderr).toContain('NIRO_ENABLE_APPLY=1');
  });
});
