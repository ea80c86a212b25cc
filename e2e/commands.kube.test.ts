import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient, type Cluster, type Command, type ObjectResult } from '@niro/protocol';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { systemClock } from '../apps/server/src/clock.js';
import { startAgentProcess, type AgentProcess } from './support/agent-process.js';
import { eventually, runInstallScript } from './support/install-script.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

/**
 * Commands from the API to a real cluster and back: ping, apply of a multi-document manifest (its
 * pods then show in the heartbeat, and runtime policy judges it), re-apply, prune, diff of a hand-edited object, delete, and a
 * pod's log streamed to a server-sent events client (over WebSocket, then over long-poll).
 */
const DEPLOYMENT_ID = 'dep-e2e-shop';

const manifests = (withConfigMap: boolean) => `
apiVersion: v1
kind: Namespace
metadata: { name: shop2 }
---
${
  withConfigMap
    ? `apiVersion: v1
kind: ConfigMap
metadata: { name: api-config, namespace: shop2 }
data: { mode: production }
---`
    : ''
}
apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: shop2 }
spec:
  replicas: 2
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: registry.example.test/shop/api:2.0.0
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop2 }
spec:
  selector: { app: api }
  ports: [{ port: 80, targetPort: 8080 }]
`;

describeWithKube('commands on a real Kubernetes API server', (kube) => {
  const email = 'ops@example.test';
  const password = 'commands e2e passphrase 42';
  let niro: LoggedServer;
  let api: ApiClient;
  let cluster: Cluster;
  let agent: AgentProcess | undefined;
  let agentEnv: Record<string, string> = {};
  let userToken = '';

  const until = <T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 45_000) =>
    eventually(what, read, (v) => expect(check(v), JSON.stringify(v).slice(0, 600)).toBe(true), timeoutMs);

  const FINAL = new Set(['succeeded', 'failed', 'partial', 'expired', 'cancelled']);
  async function run(kind: Command['kind'], payload: Record<string, unknown> = {}): Promise<Command> {
    const created = await api.createCommand(cluster.id, { kind, payload });
    expect(created.state).toBe('queued');
    return until(
      `${kind} finished`,
      () => api.getCommand(created.id),
      (c) => FINAL.has(c.state),
    );
  }

  async function niroGet<T>(path: string): Promise<T> {
    const res = await fetch(`${niro.server.url}${path}`, { headers: { authorization: `Bearer ${userToken}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }
  const incidents = async (query: string) =>
    (
      await niroGet<{ items: { id: string; severity: string; scope: string }[] }>(
        `/api/v1/incidents?cluster=${cluster.id}&${query}`,
      )
    ).items;

  const actions = (c: Command): Record<string, string> => {
    const objects = (c.result?.objects ?? []) as ObjectResult[];
    return Object.fromEntries(objects.map((o) => [`${o.kind}/${o.name}`, o.action]));
  };

  beforeAll(async () => {
    niro = await startLoggedServer('sqlite', systemClock, {
      NIRO_ADMIN_EMAIL: email,
      NIRO_ADMIN_PASSWORD: password,
      NIRO_HEARTBEAT_INTERVAL: '1s',
    });
    const { token } = await new ApiClient({ baseUrl: niro.server.url }).createToken(email, password, 'e2e');
    userToken = token;
    api = new ApiClient({ baseUrl: niro.server.url, token });
    const created = await api.createCluster({ name: 'edge-porto', environment: 'staging' });
    cluster = created.cluster;
    const installed = await runInstallScript(kube(), niro.server.url, {
      NIRO_TOKEN: created.enrollment.token,
      NIRO_ENABLE_APPLY: '1',
    });
    expect(installed.code, installed.output).toBe(0);
    agentEnv = {
      NIRO_URL: niro.server.url,
      NIRO_TOKEN: created.enrollment.token,
      KUBECONFIG: await kube().serviceAccountKubeconfig('niro-system', 'niro-agent'),
      NIRO_LOG_LEVEL: 'debug',
    };
    agent = startAgentProcess(agentEnv);
    await until(
      'the agent reports the apply capability',
      () => api.getCluster(cluster.id),
      (c) => c.capabilities?.apply === true,
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await niro?.dispose();
  });

  it('pings the agent and reports the round trip', async () => {
    const ping = await run('ping');
    expect(ping.state).toBe('succeeded');
    expect(typeof ping.result?.agentTime).toBe('string');
    expect(ping.roundTripMs).toBeGreaterThanOrEqual(0);
    expect(ping.deliveries).toBe(1);
  }, 60_000);

  it('applies a multi-document manifest; its pods show in the next heartbeats; a re-apply changes nothing', async () => {
    const applied = await run('apply', { manifests: manifests(true), deploymentId: DEPLOYMENT_ID });
    expect(applied.state, JSON.stringify(applied.error)).toBe('succeeded');
    expect(actions(applied)).toEqual({
      'Namespace/shop2': 'created',
      'ConfigMap/api-config': 'created',
      'Deployment/api': 'created',
      'Service/api': 'created',
    });
    const pods = await until(
      'the Deployment pods in Niro',
      () => api.clusterPods(cluster.id, { namespace: 'shop2' }),
      (page) => page.items.filter((p) => p.ownerName === 'api' && p.phase === 'Running').length === 2,
    );
    expect(pods.items.every((p) => p.ownerKind === 'Deployment')).toBe(true);

    const again = await run('apply', { manifests: manifests(true), deploymentId: DEPLOYMENT_ID });
    expect(Object.values(actions(again))).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  }, 90_000);

  it("finds policy issues in the running workloads, judged with the namespace's objects; a new PDB closes missing-pdb", async () => {
    const findings = await until(
      'runtime findings for the Deployment',
      () => api.findings({ cluster: cluster.id }),
      (page) => page.items.some((f) => f.object.name === 'api' && f.ruleId === 'missing-pdb'),
    );
    const onApi = findings.items.filter((f) => f.object.kind === 'Deployment' && f.object.name === 'api');
    // The agent reports the namespace's Services, PDBs, HPAs, NetworkPolicies and ServiceAccounts,
    // so the rules that need a second object run too.
    expect(onApi.map((f) => f.ruleId)).toEqual(
      expect.arrayContaining(['missing-pdb', 'no-network-policy', 'default-service-account', 'missing-probes']),
    );
    // staging: one step below production (medium) but never below non-production (low).
    expect(onApi.find((f) => f.ruleId === 'missing-pdb')?.severity).toBe('low');

    await kube().apply(`
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: api, namespace: shop2 }
spec:
  maxUnavailable: 1
  selector: { matchLabels: { app: api } }
`);
    const closed = await until(
      'missing-pdb closed',
      () => api.findings({ cluster: cluster.id, state: 'closed' }),
      (page) => page.items.some((f) => f.object.name === 'api' && f.ruleId === 'missing-pdb'),
    );
    expect(closed.items.find((f) => f.ruleId === 'missing-pdb')?.closedAt).toEqual(expect.any(String));
    const open = await api.findings({ cluster: cluster.id });
    expect(open.items.filter((f) => f.object.name === 'api').map((f) => f.ruleId)).not.toContain('missing-pdb');
  }, 90_000);

  it('prunes what left the set, reports hand edits as drift, and deletes the rest', async () => {
    const pruned = await run('apply', { manifests: manifests(false), deploymentId: DEPLOYMENT_ID, prune: true });
    expect(pruned.state).toBe('succeeded');
    expect(actions(pruned)['ConfigMap/api-config']).toBe('pruned');
    const gone = await kube().kubectl(['-n', 'shop2', 'get', 'configmap', 'api-config'], { allowFailure: true });
    expect(gone.code).not.toBe(0);

    await kube().kubectl(['-n', 'shop2', 'scale', 'deployment/api', '--replicas=5']);
    const diff = await run('diff', { manifests: manifests(false), deploymentId: DEPLOYMENT_ID });
    expect(diff.state).toBe('succeeded');
    const deployment = ((diff.result?.objects ?? []) as ObjectResult[]).find((o) => o.kind === 'Deployment');
    expect(deployment?.action).toBe('drifted');
    expect(deployment?.fields).toContain('spec.replicas');
    // The drift is an incident (DESIGN 4.2: medium), scoped to the deployment.
    const drift = await incidents(`type=drift_detected&state=open`);
    expect(drift.map((i) => `${i.severity} ${i.scope}`)).toEqual([`medium ${DEPLOYMENT_ID}`]);

    const deleted = await run('delete', { deploymentId: DEPLOYMENT_ID });
    expect(deleted.state).toBe('succeeded');
    expect(actions(deleted)).toMatchObject({ 'Deployment/api': 'deleted', 'Service/api': 'deleted' });
    const left = await kube().kubectl(['-n', 'shop2', 'get', 'deployment,service', '-o', 'name'], {
      allowFailure: true,
    });
    expect(left.stdout.trim()).toBe('');
  }, 120_000);

  it('opens deployment_failed when an apply for a deployment partly fails, and resolves it with a successful apply', async () => {
    const good = `apiVersion: v1
kind: ConfigMap
metadata: { name: settings, namespace: default }
data: { mode: production }
`;
    const bad = `apiVersion: v1
kind: ConfigMap
metadata: { name: broken, namespace: default }
data: { replicas: { nested: true } }
`;
    const partial = await run('apply', { manifests: `${good}---\n${bad}`, deploymentId: 'dep-e2e-broken' });
    expect(partial.state).toBe('partial');
    const failed = await incidents('type=deployment_failed&state=open');
    expect(failed.map((i) => `${i.severity} ${i.scope}`)).toEqual(['high dep-e2e-broken']);
    const detail = await niroGet<{ evidence: { failed?: { name: string; message: string | null }[] } }>(
      `/api/v1/incidents/${failed[0]?.id}`,
    );
    expect(detail.evidence.failed?.map((f) => f.name)).toEqual(['broken']);
    expect(detail.evidence.failed?.[0]?.message).toEqual(expect.any(String));

    const fixed = await run('apply', { manifests: good, deploymentId: 'dep-e2e-broken', prune: true });
    expect(fixed.state).toBe('succeeded');
    expect(await incidents('type=deployment_failed&state=open')).toEqual([]);
    expect((await run('delete', { deploymentId: 'dep-e2e-broken' })).state).toBe('succeeded');
  }, 90_000);

  it("streams a pod's logs to a server-sent events client, following new lines, and stops in the agent when the client goes away", async ({
    annotate,
  }) => {
    await kube().apply(`
apiVersion: v1
kind: Namespace
metadata: { name: logs-e2e }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: logs-e2e }
spec:
  containers: [{ name: web, image: registry.example.test/shop/web:1.4.0 }]
`);
    await until(
      'the pod Running',
      async () =>
        (await kube().kubectl(['-n', 'logs-e2e', 'get', 'pod', 'web', '-o', 'jsonpath={.status.phase}'])).stdout,
      (phase) => phase === 'Running',
    );

    const followAndLeave = async (transport: string): Promise<void> => {
      const running = agent;
      if (running === undefined) throw new Error('no agent');
      const first = [
        `${transport}: booting web 1.4.0`,
        `${transport}: listening on :8080`,
        `${transport}: GET /healthz 200 — ok ✓`,
      ];
      await kube().appendPodLog(first);
      const started = Date.now();
      const reader = new AbortController();
      const sse = await openEventStream(
        `${niro.server.url}/api/v1/clusters/${cluster.id}/pods/logs-e2e/web/logs?follow=1&tailLines=${first.length}`,
        userToken,
        reader.signal,
      );
      expect(sse.status).toBe(200);
      const open = await sse.waitFor('the open event', () => sse.events.find((e) => e.event === 'open'));
      const streamId = isRecord(open.data) ? String(open.data.streamId) : '';
      expect(streamId).not.toBe('');
      await sse.waitFor('the last lines', () => (sse.lines().length >= first.length ? true : undefined));
      expect(sse.lines()).toEqual(first);
      const firstLinesMs = Date.now() - started;

      const more = [`${transport}: POST /orders 201`, `${transport}: POST /orders 201 (again)`];
      const appended = Date.now();
      await kube().appendPodLog(more);
      await sse.waitFor('the appended lines', () =>
        sse.lines().length >= first.length + more.length ? true : undefined,
      );
      expect(sse.lines()).toEqual([...first, ...more]);
      const followMs = Date.now() - appended;
      expect(sse.events.some((e) => e.event === 'end' || e.event === 'error')).toBe(false);

      // The client goes away; the agent stops reading the pod's log.
      reader.abort();
      const ended = await running.waitForLog((l) => l.msg === 'log stream ended' && l.streamId === streamId, 30_000);
      expect(ended.reason).toBe('stopped');
      // The agent logs the stream, never its lines.
      expect(running.output.some((line) => line.includes('POST /orders'))).toBe(false);
      await annotate(
        `logs over ${transport}: first lines after ${firstLinesMs} ms, an appended line after ${followMs} ms, ` +
          `stopped in the agent ${Date.now() - appended - followMs} ms after the client left`,
      );
    };

    await followAndLeave('websocket');

    // The same over long-poll: an agent that never tries WebSocket (it reuses the stored key).
    await agent?.stop();
    agent = startAgentProcess({ ...agentEnv, NIRO_COMMAND_CHANNEL: 'long-poll' });
    await agent.waitForLog((l) => l.msg === 'command channel: using long-poll', 60_000);
    await followAndLeave('long-poll');
  }, 150_000);
});

type SseEvent = { event: string; data: unknown };

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

/** A server-sent events client over fetch, as a browser's EventSource would read the stream. */
async function openEventStream(url: string, token: string, signal: AbortSignal) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let closed = false;
  const body = res.body;
  if (res.ok && body !== null) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of body) {
          buffer += decoder.decode(chunk, { stream: true });
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) as unknown });
            for (const w of waiters) w();
          }
        }
      } catch {
        // Aborted by the test: the client went away.
      } finally {
        closed = true;
        for (const w of waiters) w();
      }
    })();
  }
  return {
    status: res.status,
    events,
    /** Every line of the `lines` events so far, in order. */
    lines: (): string[] =>
      events.filter((e) => e.event === 'lines').flatMap((e) => (Array.isArray(e.data) ? e.data.map(String) : [])),
    /** Resolves with what `read` finds once it finds something, as events arrive. */
    waitFor<T>(what: string, read: () => T | undefined, timeoutMs = 30_000): Promise<T> {
      return new Promise((resolve, reject) => {
        const fail = (why: string): void => {
          done();
          reject(new Error(`${what}: ${why}; events: ${JSON.stringify(events).slice(0, 800)}`));
        };
        const check = (): void => {
          const found = read();
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (closed) fail('the event stream closed first');
        };
        const timer = setTimeout(() => fail(`not within ${timeoutMs} ms`), timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
