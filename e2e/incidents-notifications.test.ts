import { describe, inject, it, type ExpectStatic } from 'vitest';
import {
  ApiClient,
  type CreatedNotificationChannel,
  type CreateNotificationChannelRequest,
  type Environment,
  type IncidentDetail,
  type IncidentPage,
  type NotificationChannel,
} from '@niro/protocol';
import {
  CRASH_LOOPING as CRASH,
  DEFAULT_CAPABILITIES,
  IMAGE_PULL_FAILING as PULL,
  SimulatedAgent,
  createAgentDispatcher,
  testNode as node,
  testPod as pod,
  type ClusterInventory,
} from '@niro/testkit';
import type { Dispatcher } from 'undici';
import { createEmptyPostgresDatabase, type Dialect } from '../apps/server/src/test-support/databases.js';
import { FakeAgent } from '../apps/server/src/modules/logs/test-support/fake-agent.js';
import {
  startSmtpReceiver,
  verifyStandardWebhook,
  type SmtpReceiver,
} from '../apps/server/src/modules/notifications/test-support/receivers.js';
import { startNotificationReceiver, type NotificationRequest } from './support/notification-receiver.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'operator@example.test';
const password = 'incident e2e passphrase 42';
const pgInfo = inject('postgres');

// ---------------------------------------------------------------------------------------------
// What the simulated agents report

const healthy = (): ClusterInventory => ({
  nodes: [node('node-1', true), node('node-2', true)],
  pods: [pod('api-1', 'api'), pod('api-2', 'api'), pod('api-3', 'api'), pod('web-1', 'web')],
  workloads: [],
});
/** Three pods of one Deployment in CrashLoopBackOff: one incident for the Deployment. */
const crashLooping = (): ClusterInventory => ({
  ...healthy(),
  pods: [pod('api-1', 'api', CRASH), pod('api-2', 'api', CRASH), pod('api-3', 'api', CRASH), pod('web-1', 'web')],
});
/** The fixed rollout: new pods replace the crashing ones. */
const rolledOut = (): ClusterInventory => ({
  ...healthy(),
  pods: [pod('api-4', 'api'), pod('api-5', 'api'), pod('api-6', 'api'), pod('web-1', 'web')],
});
const unreadyNode = (): ClusterInventory => ({ ...healthy(), nodes: [node('node-1', true), node('node-2', false)] });
const pullError = (): ClusterInventory => ({
  ...healthy(),
  pods: [pod('api-1', 'api'), pod('web-1', 'web', PULL), pod('web-2', 'web', PULL)],
});

// ---------------------------------------------------------------------------------------------
// A real server process on a fresh database, clusters enrolled over the API, simulated agents

type Harness = {
  server: ServerProcess;
  api: ApiClient;
  dispatcher: Dispatcher;
  addCluster(name: string, environment: Environment, capabilities?: SimCluster['capabilities']): Promise<SimCluster>;
  /** One heartbeat of the cluster's agent now seeing `inventory` (a new agent, full inventory, when it changed). */
  heartbeat(cluster: SimCluster, inventory: ClusterInventory): Promise<void>;
  createChannel(req: CreateNotificationChannelRequest): Promise<CreatedNotificationChannel>;
  incidents(query: Record<string, string>): Promise<IncidentPage['items']>;
  incident(id: string): Promise<IncidentDetail>;
  channel(id: string): Promise<NotificationChannel>;
  dispose(): Promise<void>;
};

type SimCluster = {
  id: string;
  name: string;
  agentKey: string;
  capabilities: typeof DEFAULT_CAPABILITIES;
  agent: SimulatedAgent | null;
};

async function startHarness(dialect: Dialect, env: Record<string, string> = {}): Promise<Harness> {
  const fullEnv: Record<string, string> = { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password, ...env };
  let disposeDb: () => Promise<void> = async () => undefined;
  if (dialect === 'postgres') {
    const db = await createEmptyPostgresDatabase();
    fullEnv.NIRO_DATABASE_URL = db.url;
    disposeDb = db.dispose;
  }
  let server: ServerProcess;
  try {
    // info: the "notification delivered" lines tell which answers the server recorded.
    server = await startServerProcess({ env: fullEnv, logLevel: 'info' });
  } catch (err) {
    await disposeDb();
    throw err;
  }
  const anonymous = new ApiClient({ baseUrl: server.url });
  const { token } = await anonymous.createToken(email, password, 'incidents-e2e');
  const api = new ApiClient({ baseUrl: server.url, token });
  const dispatcher = createAgentDispatcher({ connections: 8 });
  const clusters: SimCluster[] = [];

  return {
    server,
    api,
    dispatcher,
    async addCluster(name, environment, capabilities = DEFAULT_CAPABILITIES) {
      const created = await api.createCluster({ name, environment });
      const enrolled = await anonymous.enroll({
        token: created.enrollment.token,
        agent: { version: '0.1.0' },
        cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `uid-${created.cluster.id}` },
      });
      const cluster: SimCluster = {
        id: enrolled.clusterId,
        name,
        agentKey: enrolled.agentKey,
        capabilities,
        agent: null,
      };
      clusters.push(cluster);
      return cluster;
    },
    async heartbeat(cluster, inventory) {
      if (cluster.agent?.inventory !== inventory) {
        await cluster.agent?.stop();
        cluster.agent = new SimulatedAgent({
          url: server.url,
          dispatcher,
          inventory,
          seed: cluster.name,
          credentials: { clusterId: cluster.id, agentKey: cluster.agentKey },
          capabilities: cluster.capabilities,
          churn: false,
        });
      }
      await cluster.agent.heartbeatOnce();
    },
    createChannel: (req) => api.request('POST', '/api/v1/notification-channels', req),
    incidents: async (query) =>
      (await api.request<IncidentPage>('GET', '/api/v1/incidents', undefined, { limit: 500, ...query })).items,
    incident: (id) => api.request('GET', `/api/v1/incidents/${encodeURIComponent(id)}`),
    channel: (id) => api.request('GET', `/api/v1/notification-channels/${encodeURIComponent(id)}`),
    async dispose() {
      for (const c of clusters) await c.agent?.stop();
      await dispatcher.close();
      await server.stop();
      await disposeDb();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading what the receivers got: "<incident id> opened|resolved" per message

type Kind = 'opened' | 'resolved';

function webhookKey(r: NotificationRequest): string | null {
  const json = r.json;
  if (typeof json !== 'object' || json === null || !('type' in json) || !('data' in json)) return null;
  const data = json.data;
  if (typeof data !== 'object' || data === null || !('id' in data) || typeof data.id !== 'string') return null;
  const kind = json.type === 'incident.opened' ? 'opened' : json.type === 'incident.resolved' ? 'resolved' : null;
  return kind === null ? null : `${data.id} ${kind}`;
}

function slackKey(r: NotificationRequest): string | null {
  const json = r.json;
  if (typeof json !== 'object' || json === null || !('text' in json) || typeof json.text !== 'string') return null;
  const id = /\/incidents\/([^|>]+)\|/.exec(json.text)?.[1];
  if (id === undefined) return null;
  return `${id} ${json.text.startsWith(':white_check_mark:') ? 'resolved' : 'opened'}`;
}

function mailKey(raw: string): string | null {
  const m = /^X-Niro-Event-Id:\s*evt_(\S+)_(opened|resolved)\s*$/im.exec(raw);
  return m === null ? null : `${m[1] ?? ''} ${m[2] ?? ''}`;
}

function countBy(values: Iterable<string | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v ?? '(unreadable)'] = (out[v ?? '(unreadable)'] ?? 0) + 1;
  return out;
}

/** One opened and one resolved message per incident, nothing else. */
function onceEach(ids: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) for (const kind of ['opened', 'resolved'] satisfies Kind[]) out[`${id} ${kind}`] = 1;
  return out;
}

async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function report(figure: string): void {
  // eslint-disable-next-line no-console -- the figures this end-to-end test exists to print
  console.log(figure);
}

// ---------------------------------------------------------------------------------------------

/**
 * Issue 6, "done when", against real `niro server` processes: a simulated fleet turns into
 * exactly the expected incidents and cluster statuses; real receivers on loopback (a Standard
 * Webhooks verifier, a Slack-style endpoint, smtp-server, a channel no incident matches) get one
 * open and one resolve message per matching incident; a server SIGKILLed mid-delivery loses and
 * duplicates nothing; and evidence carries the last log lines from the agent.
 *
 * The tests run concurrently: most of their time is waiting on the server's own clocks (a 30 s
 * offline window, a 60 s delivery lease), each has its own server process and database.
 */
describe.concurrent('incidents and notifications end to end', () => {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const skip = dialect === 'postgres' && pgInfo.url === null;
    const suffix = skip ? ` (skipped: ${pgInfo.reason})` : '';
    describe.skipIf(skip)(`${dialect}${suffix}`, () => {
      it(
        'turns a simulated fleet into exactly the expected incidents, statuses and notifications, and resolves them when it heals',
        { timeout: 180_000 },
        async ({ expect, annotate }) => fleetScenario(dialect, expect, annotate),
      );
      it(
        'loses and duplicates no notification when the server is SIGKILLed mid-delivery',
        { timeout: 180_000 },
        async ({ expect, annotate }) => restartScenario(dialect, expect, annotate),
      );
      it(
        'adds the last log lines of the crashing pod to the evidence when the cluster has the logs capability',
        { timeout: 120_000 },
        async ({ expect }) => evidenceScenario(dialect, expect),
      );
    });
  }
});

type Annotate = (message: string) => Promise<unknown>;

async function fleetScenario(dialect: Dialect, expect: ExpectStatic, annotate: Annotate): Promise<void> {
  const smtp: SmtpReceiver = await startSmtpReceiver();
  const webhook = await startNotificationReceiver();
  const slack = await startNotificationReceiver();
  const discord = await startNotificationReceiver();
  const h = await startHarness(dialect, {
    // The shortest offline window the server accepts.
    NIRO_OFFLINE_AFTER: '30s',
    NIRO_SMTP_URL: smtp.url,
    NIRO_SMTP_FROM: 'Niro <niro@example.test>',
  });
  try {
    // Channels over the API: every incident, high only, production only, and one nothing matches.
    const hook = await h.createChannel({
      name: 'all incidents hook',
      type: 'webhook',
      minSeverity: 'low',
      config: { url: `${webhook.origin}/hooks/niro?token=t0k3n` },
    });
    const secret = hook.signingSecret;
    expect(secret).toMatch(/^whsec_/);
    const onCall = await h.createChannel({
      name: 'on-call (high only)',
      type: 'slack',
      minSeverity: 'high',
      config: { url: `${slack.origin}/services/T000/B000/slacktoken` },
    });
    const team = await h.createChannel({
      name: 'production mail',
      type: 'email',
      minSeverity: 'low',
      filters: { environments: ['production'] },
      config: { to: ['shop-team@example.test'] },
    });
    const devOnly = await h.createChannel({
      name: 'dev clusters',
      type: 'discord',
      minSeverity: 'low',
      filters: { environments: ['dev'] },
      config: { url: `${discord.origin}/api/webhooks/1/discordtoken` },
    });

    const crash = await h.addCluster(`shop-prod-eu-${dialect}`, 'production');
    const unready = await h.addCluster(`edge-staging-1-${dialect}`, 'staging');
    const pull = await h.addCluster(`shop-prod-us-${dialect}`, 'production');
    const silent = await h.addCluster(`edge-staging-2-${dialect}`, 'staging');
    const fine1 = await h.addCluster(`shop-prod-ap-${dialect}`, 'production');
    const fine2 = await h.addCluster(`edge-staging-3-${dialect}`, 'staging');
    const all = [crash, unready, pull, silent, fine1, fine2];
    const healthyInv = new Map(all.map((c) => [c.id, healthy()]));
    for (const c of all) await h.heartbeat(c, healthyInv.get(c.id) ?? healthy());
    // The silent cluster never reports again from here.
    const silentLastHeartbeat = Date.now();

    // The conditions appear and stay for several heartbeats: still one incident each.
    const crashInv = crashLooping();
    const unreadyInv = unreadyNode();
    const pullInv = pullError();
    const reporting: Array<[SimCluster, ClusterInventory]> = [
      [crash, crashInv],
      [unready, unreadyInv],
      [pull, pullInv],
      [fine1, healthyInv.get(fine1.id) ?? healthy()],
      [fine2, healthyInv.get(fine2.id) ?? healthy()],
    ];
    const beat = async (): Promise<void> => {
      for (const [c, inv] of reporting) await h.heartbeat(c, inv);
    };
    for (let i = 0; i < 3; i++) await beat();
    // Opened before the heartbeat's reply: already there.
    const early = await h.incidents({ state: 'open' });
    expect(early.map((i) => i.type).sort()).toEqual(['image_pull_error', 'node_not_ready', 'pod_crash_looping']);

    // The others keep reporting (every 3 s) through the offline window until the status job
    // opens cluster_offline for the silent one.
    const offline = await waitFor(
      async () => {
        await beat();
        const found = (await h.incidents({ state: 'open', type: 'cluster_offline' }))[0];
        if (found === undefined) await new Promise((r) => setTimeout(r, 2_750));
        return found;
      },
      90_000,
      'the silent cluster to go offline',
    );
    // Two more rounds with the conditions still present.
    await beat();
    await beat();

    const open = await h.incidents({ state: 'open' });
    const byId = new Map(all.map((c) => [c.id, c.name]));
    expect(open.map((i) => `${byId.get(i.clusterId ?? '') ?? '?'} ${i.type} ${i.severity} ${i.scope}`).sort()).toEqual(
      [
        `${crash.name} pod_crash_looping high shop/Deployment/api`,
        `${silent.name} cluster_offline high cluster`,
        `${unready.name} node_not_ready high node-2`,
        `${pull.name} image_pull_error medium shop/Deployment/web`,
      ].sort(),
    );
    // Nothing else was ever opened (no duplicates resolved meanwhile either).
    expect(await h.incidents({})).toHaveLength(4);

    const fleet = new Map((await h.api.fleet()).clusters.map((c) => [c.id, c]));
    const statusOf = (c: SimCluster): string => fleet.get(c.id)?.status ?? 'missing';
    expect(all.map((c) => `${c.name} ${statusOf(c)}`)).toEqual([
      `${crash.name} critical`,
      `${unready.name} critical`,
      `${pull.name} warning`,
      `${silent.name} offline`,
      `${fine1.name} healthy`,
      `${fine2.name} healthy`,
    ]);
    expect(fleet.get(crash.id)?.openIncidents).toEqual({ high: 1, medium: 0, low: 0 });
    expect(fleet.get(pull.id)?.openIncidents).toEqual({ high: 0, medium: 1, low: 0 });
    expect(fleet.get(silent.id)?.openIncidents).toEqual({ high: 1, medium: 0, low: 0 });
    expect(fleet.get(fine1.id)?.openIncidents).toEqual({ high: 0, medium: 0, low: 0 });

    // Heal: a fixed rollout, the node back, the image pulled, the silent cluster reports again.
    // The first clean heartbeat keeps the heartbeat incidents open; the second resolves them.
    const healed: Array<[SimCluster, ClusterInventory]> = [
      [crash, rolledOut()],
      [unready, healthy()],
      [pull, healthy()],
    ];
    for (const [c, inv] of healed) await h.heartbeat(c, inv);
    await h.heartbeat(silent, healthyInv.get(silent.id) ?? healthy());
    expect((await h.incidents({ state: 'open' })).map((i) => i.type).sort()).toEqual([
      'image_pull_error',
      'node_not_ready',
      'pod_crash_looping',
    ]);
    for (const [c, inv] of healed) await h.heartbeat(c, inv);
    expect(await h.incidents({ state: 'open' })).toEqual([]);
    const resolved = await h.incidents({ state: 'resolved' });
    expect(resolved).toHaveLength(4);
    const after = new Map((await h.api.fleet()).clusters.map((c) => [c.id, c.status]));
    expect(all.map((c) => after.get(c.id))).toEqual(all.map(() => 'healthy'));
    // cluster_offline's resolution is written by the ingest and handed to the outbox by the
    // status job's next pass (within 5 s): wait for every timeline to show it queued.
    await waitFor(
      async () => {
        for (const i of resolved) {
          const kinds = (await h.incident(i.id)).timeline.map((e) => e.kind);
          if (!kinds.includes('resolved')) return false;
        }
        return true;
      },
      30_000,
      'every resolution in the timelines',
    );
    for (const i of resolved) {
      const kinds = (await h.incident(i.id)).timeline.map((e) => e.kind);
      expect(kinds.filter((k) => k !== 'evidence_added')).toEqual(['opened', 'notified', 'resolved', 'notified']);
    }

    // Delivery: wait until every channel's outbox is empty, then count what each receiver got.
    const channelIds = [hook.id, onCall.id, team.id, devOnly.id];
    const drained = await waitFor(
      async () => {
        const statuses = await Promise.all(channelIds.map((id) => h.channel(id)));
        return statuses.every((s) => s.status.pending === 0) && statuses;
      },
      60_000,
      'every channel to have nothing pending',
    );
    for (const s of drained)
      expect({ name: s.name, failed: s.status.failed, error: s.status.lastError }).toEqual({
        name: s.name,
        failed: 0,
        error: null,
      });

    const idOf = new Map(resolved.map((i) => [i.type, i.id]));
    const ids = (...types: string[]): string[] => types.map((t) => idOf.get(t) ?? `missing ${t}`);
    // Webhook: everything, each message signed with the secret from the create reply, one webhook-id per event.
    expect(countBy(webhook.requests.map(webhookKey))).toEqual(
      onceEach(ids('pod_crash_looping', 'node_not_ready', 'image_pull_error', 'cluster_offline')),
    );
    expect(webhook.requests.map((r) => verifyStandardWebhook(secret ?? '', r))).toEqual(
      webhook.requests.map(() => true),
    );
    const webhookIds = webhook.requests.map((r) => String(r.headers['webhook-id']));
    expect(new Set(webhookIds).size).toBe(webhookIds.length);
    expect(webhookIds.sort()).toEqual(
      webhook.requests.map((r) => `evt_${(webhookKey(r) ?? '').replace(' ', '_')}`).sort(),
    );
    // Slack, minimum severity high: not the medium pull error.
    expect(countBy(slack.requests.map(slackKey))).toEqual(
      onceEach(ids('pod_crash_looping', 'node_not_ready', 'cluster_offline')),
    );
    // Email, production clusters only: the crash loop and the pull error.
    expect(countBy(smtp.mails.map((m) => mailKey(m.raw)))).toEqual(
      onceEach(ids('pod_crash_looping', 'image_pull_error')),
    );
    expect(smtp.mails.every((m) => m.to.join(',') === 'shop-team@example.test')).toBe(true);
    // Discord, dev clusters only: none here.
    expect(discord.requests).toEqual([]);

    const openedAt = Date.parse(offline.openedAt);
    const latencies = webhook.requests.map((r) => {
      const key = webhookKey(r) ?? '';
      const incident = resolved.find((i) => key.startsWith(i.id));
      const at = key.endsWith('opened') ? incident?.openedAt : incident?.resolvedAt;
      return at === undefined || at === null ? 0 : r.receivedAt - Date.parse(at);
    });
    const figure =
      `incidents e2e (${dialect}): 6 clusters → 4 incidents; cluster_offline opened ` +
      `${((openedAt - silentLastHeartbeat) / 1000).toFixed(1)} s after the last heartbeat (NIRO_OFFLINE_AFTER 30s, ` +
      `status job every 5 s); webhook ${webhook.requests.length} messages, slack ${slack.requests.length}, ` +
      `email ${smtp.mails.length}, discord ${discord.requests.length}; incident change → webhook received ` +
      `max ${Math.max(...latencies)} ms, median ${median(latencies)} ms`;
    report(figure);
    await annotate(figure);
  } finally {
    await h.dispose();
    await Promise.all([smtp.close(), webhook.close(), slack.close(), discord.close()]);
  }
}

async function restartScenario(dialect: Dialect, expect: ExpectStatic, annotate: Annotate): Promise<void> {
  // The first two requests are answered at once; the rest are held back until release().
  const receiver = await startNotificationReceiver({ hold: (_r, index) => index >= 2 });
  const h = await startHarness(dialect);
  try {
    const hook = await h.createChannel({
      name: 'crash hook',
      type: 'webhook',
      minSeverity: 'low',
      config: { url: `${receiver.origin}/hooks/crash` },
    });
    const secret = hook.signingSecret ?? '';
    const clusters: SimCluster[] = [];
    for (let i = 0; i < 5; i++) clusters.push(await h.addCluster(`crash-${dialect}-${i}`, 'production'));
    for (const c of clusters) await h.heartbeat(c, healthy());
    const first = clusters.slice(0, 4);
    const last = clusters[4];
    if (last === undefined) throw new Error('no cluster');

    // Four incidents open; their four events go out: two answered 2xx, two held (in flight).
    for (const c of first) await h.heartbeat(c, unreadyNode());
    await waitFor(() => receiver.requests.length >= 4, 30_000, 'four webhook requests');
    const answeredBeforeKill = receiver.answered2xx().map((r) => String(r.headers['webhook-id']));
    expect(answeredBeforeKill).toHaveLength(2);
    // The server has recorded those two as delivered; a kill before that would rightly resend them.
    for (const id of answeredBeforeKill) {
      await h.server.waitForLog((l) => l.msg === 'notification delivered' && l.eventId === id, 20_000);
    }
    // A fifth incident, and the kill right after its heartbeat's reply: its event is enqueued and
    // either not sent yet or in flight.
    await h.heartbeat(last, unreadyNode());
    await h.server.kill('SIGKILL');
    const killedAt = Date.now();
    const atKill = {
      answered: receiver.answered2xx().length,
      inFlight: receiver.requests.filter((r) => r.outcome !== 'answered').length,
    };
    // The dead process's connections close; only then may the receiver answer, to no one.
    await waitFor(
      () => receiver.requests.every((r) => r.outcome !== 'held'),
      10_000,
      'the held connections to close with the killed server',
    );
    receiver.release();

    await h.server.restart();
    const readyAt = Date.now();
    // Heal all five: two clean heartbeats each resolve them (five more events).
    for (const c of clusters) await h.heartbeat(c, healthy());
    for (const c of clusters) await h.heartbeat(c, healthy());
    const incidents = await h.incidents({});
    expect(incidents.map((i) => `${i.type} ${i.state}`)).toEqual(clusters.map(() => 'node_not_ready resolved'));
    const expected = incidents.flatMap((i) => [`evt_${i.id}_opened`, `evt_${i.id}_resolved`]).sort();
    const answeredIds = (): string[] => receiver.answered2xx().map((r) => String(r.headers['webhook-id']));
    await waitFor(
      () => expected.every((id) => answeredIds().includes(id)),
      120_000,
      'every event answered 2xx after the restart (a lease of the killed server runs out after 60 s)',
    );
    const drainedAt = Date.now();
    const status = await waitFor(
      async () => {
        const s = await h.channel(hook.id);
        return s.status.pending === 0 && s;
      },
      30_000,
      'the outbox to be empty',
    );

    // Every event answered 2xx exactly once; none sent again after a 2xx; every attempt signed.
    expect(countBy(answeredIds())).toEqual(Object.fromEntries(expected.map((id) => [id, 1])));
    for (const id of expected) {
      const attempts = receiver.requests.filter((r) => r.headers['webhook-id'] === id);
      const firstOk = attempts.findIndex((r) => r.outcome === 'answered');
      expect({ id, afterTwoHundred: attempts.length - 1 - firstOk }).toEqual({ id, afterTwoHundred: 0 });
    }
    for (const id of answeredBeforeKill) {
      expect(receiver.requests.filter((r) => r.headers['webhook-id'] === id)).toHaveLength(1);
    }
    expect(receiver.requests.every((r) => verifyStandardWebhook(secret, r))).toBe(true);
    expect(receiver.requests.every((r) => expected.includes(String(r.headers['webhook-id'])))).toBe(true);
    expect(status.status.failed).toBe(0);

    const resent = receiver.requests.length - expected.length;
    const figure =
      `restart mid-delivery (${dialect}): at SIGKILL ${atKill.answered} events answered 2xx, ${atKill.inFlight} held ` +
      `in flight, ${5 - atKill.answered - atKill.inFlight} enqueued but not sent; after restart all ` +
      `${expected.length} events answered 2xx once each (${receiver.requests.length} requests, ${resent} resends of ` +
      `unanswered attempts, 0 after a 2xx); restart took ${((readyAt - killedAt) / 1000).toFixed(1)} s, ` +
      `drained ${((drainedAt - readyAt) / 1000).toFixed(1)} s after the new server was ready`;
    report(figure);
    await annotate(figure);
  } finally {
    await h.dispose();
    await receiver.close();
  }
}

async function evidenceScenario(dialect: Dialect, expect: ExpectStatic): Promise<void> {
  const h = await startHarness(dialect);
  let agent: FakeAgent | null = null;
  try {
    const c = await h.addCluster(`logs-${dialect}`, 'production', { ...DEFAULT_CAPABILITIES, logs: true });
    await h.heartbeat(c, healthy());
    // The command channel of the agent, which answers the server's `logs` command.
    agent = await FakeAgent.connect(h.server.url, c.agentKey);
    await h.heartbeat(c, crashLooping());
    const [incident] = await h.incidents({ cluster: c.id, state: 'open' });
    expect(incident?.type).toBe('pod_crash_looping');

    const command = await agent.command('logs');
    expect(command.payload).toMatchObject({ namespace: 'shop', pod: 'api-1', tailLines: 100 });
    expect(command.payload.follow === undefined || command.payload.follow === false).toBe(true);
    const streamId = String(command.payload.streamId);
    agent.result(command.id, { status: 'succeeded', result: {} });
    const lines = Array.from(
      { length: 100 },
      (_, i) => `2026-03-01T12:00:${String(i % 60).padStart(2, '0')}Z panic ${i}`,
    );
    agent.log(streamId, 0, lines.slice(0, 60));
    agent.log(streamId, 1, lines.slice(60));
    agent.logEnd(streamId, 'eof');

    const detail = await waitFor(
      async () => {
        const d = await h.incident(incident?.id ?? '');
        return d.timeline.some((e) => e.kind === 'evidence_added') && d;
      },
      30_000,
      'the log lines in the evidence',
    );
    expect(detail.evidence?.logs).toEqual({ state: 'captured', pod: 'shop/api-1', lines });
    expect(detail.timeline.find((e) => e.kind === 'evidence_added')?.message).toBe(
      '100 log lines of shop/api-1 captured',
    );
  } finally {
    agent?.close();
    await h.dispose();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
