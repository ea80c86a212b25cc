/**
 * Incident detection latency for 1,000 clusters (issue 6; goal: an incident is open < 1 s after
 * the heartbeat that first shows its condition lands).
 *
 * The real server runs in this process (SQLite, then PostgreSQL when
 * postgres://postgres@127.0.0.1:54329/postgres answers); 1,000 simulated agents run in a worker
 * thread (bench/incidents-fleet.ts) and heartbeat at the server's interval, spread over it as a
 * running fleet is. One webhook channel (minimum severity low) points at a local receiver, so
 * every opening and resolution also goes through the outbox. Then, in three waves a third of an
 * interval apart, some clusters get a condition: a pod in CrashLoopBackOff, a node not ready, a
 * new pod in ImagePullBackOff; as many get a harmless change (a Deployment pod replaced by a
 * healthy one: the control). The first wave carries its conditions for two heartbeats, the others
 * for one; then the agents heal them.
 *
 * Per incident: detection latency = send of the first heartbeat carrying the condition (client
 * side, just before the request) → the incident's transaction committed, seen in process through
 * the server's logger (the service logs `incident opened` right after the commit; a pino hook
 * takes the call before anything is serialized). Baseline from the same run: the round trip of
 * the control heartbeats (a delta of the same size without a condition) and of plain `same`
 * heartbeats. Checks: every condition opened exactly one incident of the right type and scope
 * (no duplicates, nothing else opened), each resolved on the second clean heartbeat, the webhook
 * got one opening and one resolution per incident, every cluster is healthy at the end.
 *
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:incidents`.
 * `NIRO_BENCH_QUICK=1`: 200 clusters, a 5 s interval, SQLite only, nothing recorded.
 * `NIRO_BENCH_DB=sqlite` or `postgres`: that database only, nothing recorded.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import type { CreateClusterResponse, EnrollRequest, EnrollResponse } from '@niro/protocol';
import { startServer, type Logger, type RunningServer } from '@niro/server';
import type { Change, ChangeOrder, FleetAgent, FleetStats, FromFleet, Timed, ToFleet } from './incidents-fleet.js';
import { formatLoad, machineLine } from './machine.js';
import { BENCH_POSTGRES_ADMIN_URL, benchPostgresDatabase } from './postgres-database.js';

const QUICK = process.env.NIRO_BENCH_QUICK === '1';
const CLUSTERS = QUICK ? 200 : 1000;
const NODES = 3;
const PODS = 60;
const WAVES = 3;
/** Clusters per wave and per change (crash loop, node, pull error, control). */
const PER_CHANGE = QUICK ? 10 : 50;
const GOAL_MS = 1000;
const CHANGES: readonly Change[] = ['crashloop', 'node', 'pull', 'control'];
const INCIDENT_TYPE: Record<Exclude<Change, 'control'>, string> = {
  crashloop: 'pod_crash_looping',
  node: 'node_not_ready',
  pull: 'image_pull_error',
};
const LABEL: Record<Change, string> = {
  crashloop: 'pod in CrashLoopBackOff',
  node: 'node not ready',
  pull: 'image pull error',
  control: 'control (healthy pod replaced)',
};

const here = path.dirname(fileURLToPath(import.meta.url));
const startLoad = os.loadavg();
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const log = (line: string): void => console.log(line);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Dialect = 'sqlite' | 'postgres';

/** One condition the bench made appear, and what became of it. */
type Expected = {
  clusterId: string;
  change: Change;
  type: string | null;
  wave: number;
  scope: string | null;
  carried: Timed | null;
  opened: { at: number; incidentId: string }[];
  clean: Timed[] | null;
  resolvedAt: number | null;
};

type Percentiles = { n: number; p50: number; p95: number; p99: number; max: number };

type DbResult = {
  dialect: Dialect;
  intervalSeconds: number;
  setupSeconds: number;
  detection: Record<string, Percentiles>;
  rtt: Record<string, Percentiles>;
  resolution: Percentiles;
  expected: number;
  opened: number;
  missed: string[];
  duplicates: string[];
  unexpected: string[];
  wrongScope: string[];
  resolvedOnSecond: number;
  resolvedEarly: string[];
  unresolved: string[];
  webhook: { opened: number; resolved: number; repeated: number; missing: number };
  statuses: Record<string, number>;
  heartbeatsPerSecond: number;
  fleet: FleetStats;
  warnings: string[];
  seconds: number;
};

function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)] ?? 0;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? 0 };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Takes the incidents service's `incident opened` / `incident resolved` calls; passes on warnings and errors. */
type LogSink = {
  incident(msg: 'incident opened' | 'incident resolved', fields: Record<string, unknown>, at: number): void;
  warnings: string[];
};

function benchLogger(sink: LogSink): Logger {
  return pino(
    {
      level: 'info',
      base: null,
      hooks: {
        logMethod(args, method, level) {
          const [first, second] = args;
          if ((second === 'incident opened' || second === 'incident resolved') && isRecord(first)) {
            sink.incident(second, first, nowMs());
            return;
          }
          // Request logs and the like are dropped before serialisation; warnings and errors are kept.
          if (level >= 40) method.apply(this, args);
        },
      },
    },
    {
      write(line: string) {
        if (sink.warnings.length < 20) sink.warnings.push(line.trim().slice(0, 400));
      },
    },
  );
}

/** A webhook receiver that answers 204 and counts deliveries per incident and event type. */
async function webhookReceiver(): Promise<{
  url: string;
  seen: Map<string, { opened: number; resolved: number }>;
  close(): Promise<void>;
}> {
  const seen = new Map<string, { opened: number; resolved: number }>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (isRecord(body) && isRecord(body.data) && typeof body.data.id === 'string') {
          const entry = seen.get(body.data.id) ?? { opened: 0, resolved: 0 };
          if (body.type === 'incident.opened') entry.opened++;
          if (body.type === 'incident.resolved') entry.resolved++;
          seen.set(body.data.id, entry);
        }
      } catch {
        // Not a delivery of ours; answered all the same.
      }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function adminToken(server: RunningServer): Promise<string> {
  const { auth } = server.services;
  const admin = await auth.bootstrapAdmin({ email: 'bench@example.com', password: 'bench-password' });
  if (admin === null) throw new Error('the bench database already has an administrator');
  return (await auth.createApiToken(admin.id, 'bench')).token;
}

/** Creates and enrolls the clusters as the dashboard and an agent would (a few at a time). */
async function createClusters(server: RunningServer, token: string, count: number): Promise<FleetAgent[]> {
  const agents: FleetAgent[] = new Array<FleetAgent>(count);
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/clusters',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: `bench-${i}`, environment: 'production' },
    });
    if (created.statusCode !== 201) throw new Error(`creating a cluster failed: ${created.statusCode} ${created.body}`);
    const { cluster, enrollment } = created.json<CreateClusterResponse>();
    const request: EnrollRequest = {
      token: enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `uid-${cluster.id}` },
    };
    const enrolled = await server.app.inject({ method: 'POST', url: '/api/agent/v1/enroll', payload: request });
    if (enrolled.statusCode !== 200) throw new Error(`enrollment failed: ${enrolled.statusCode} ${enrolled.body}`);
    agents[i] = { clusterId: cluster.id, agentKey: enrolled.json<EnrollResponse>().agentKey };
  };
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return agents;
}

/** The simulated fleet in its worker thread. */
class FleetWorker {
  // Loaded through tsx's API: Node 20 does not apply the parent's `--import tsx` to a worker's entry.
  private readonly worker = new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./incidents-fleet.ts', import.meta.url).href)}); })`,
    { eval: true },
  );
  private failure: Error | null = null;

  constructor(onMessage: (msg: FromFleet) => void) {
    this.worker.on('message', (msg: FromFleet) => {
      if (msg.kind === 'error') this.failure = new Error(`fleet: ${msg.message}`);
      else onMessage(msg);
    });
    this.worker.on('error', (err) => {
      this.failure = err;
    });
  }

  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  post(msg: ToFleet): void {
    this.worker.postMessage(msg);
  }

  async stop(): Promise<FleetStats> {
    const stats = new Promise<FleetStats>((resolve) => {
      this.worker.on('message', (msg: FromFleet) => {
        if (msg.kind === 'stopped') resolve(msg.stats);
      });
    });
    this.post({ kind: 'stop' });
    const result = await stats;
    await this.worker.terminate();
    return result;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

async function runOn(dialect: Dialect, pgDb: { url: string } | null): Promise<DbResult> {
  const started = performance.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-incidents-'));
  const expected = new Map<string, Expected>();
  const unexpected: string[] = [];
  const sink: LogSink = {
    warnings: [],
    incident(msg, fields, at) {
      const clusterId = typeof fields.clusterId === 'string' ? fields.clusterId : '?';
      const type = typeof fields.type === 'string' ? fields.type : '?';
      const incidentId = typeof fields.incidentId === 'string' ? fields.incidentId : '?';
      const e = expected.get(`${clusterId}|${type}`);
      if (e === undefined) {
        unexpected.push(`${msg} ${type} in ${clusterId}`);
        return;
      }
      if (msg === 'incident opened') e.opened.push({ at, incidentId });
      else if (e.resolvedAt === null) e.resolvedAt = at;
      else unexpected.push(`resolved twice: ${type} in ${clusterId}`);
    },
  };
  const config: Record<string, string> = {
    NIRO_DATA_DIR: dataDir,
    NIRO_PORT: '0',
    NIRO_HOST: '127.0.0.1',
    NIRO_LOG_LEVEL: 'info',
  };
  if (QUICK) config.NIRO_HEARTBEAT_INTERVAL = '5s';
  if (pgDb !== null) {
    config.NIRO_DATABASE_URL = pgDb.url;
    config.NIRO_SECRET_KEY = randomBytes(32).toString('base64');
  }
  const server = await startServer({ config, logger: benchLogger(sink) });
  const receiver = await webhookReceiver();
  let fleet: FleetWorker | null = null;
  try {
    const intervalMs = server.config.heartbeatIntervalSeconds * 1000;
    const token = await adminToken(server);
    const channel = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notification-channels',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: 'bench hook', type: 'webhook', minSeverity: 'low', config: { url: receiver.url } },
    });
    if (channel.statusCode !== 201)
      throw new Error(`creating the channel failed: ${channel.statusCode} ${channel.body}`);
    const agents = await createClusters(server, token, CLUSTERS);
    const setupSeconds = (performance.now() - started) / 1000;
    log(`[${dialect}] ${CLUSTERS} clusters created and enrolled in ${setupSeconds.toFixed(1)} s`);

    let readyAt: number | null = null;
    const onMessage = (msg: FromFleet): void => {
      if (msg.kind === 'ready') readyAt = msg.at;
      else if (msg.kind === 'injected') {
        for (const s of msg.scopes) {
          const e = expected.get(`${s.clusterId}|${s.change === 'control' ? 'control' : INCIDENT_TYPE[s.change]}`);
          if (e !== undefined) e.scope = s.scope;
        }
      } else if (msg.kind === 'carried') {
        const e = expected.get(`${msg.clusterId}|${msg.change === 'control' ? 'control' : INCIDENT_TYPE[msg.change]}`);
        if (e !== undefined) e.carried = { sentAt: msg.sentAt, repliedAt: msg.repliedAt };
      } else if (msg.kind === 'clean') {
        for (const e of expected.values()) if (e.clusterId === msg.clusterId && e.type !== null) e.clean = msg.sends;
      }
    };
    const worker = new FleetWorker(onMessage);
    fleet = worker;
    const fleetStarted = nowMs();
    worker.post({
      kind: 'start',
      url: server.url,
      agents,
      nodes: NODES,
      pods: PODS,
      intervalMs,
      seed: `bench-incidents-${dialect}`,
    });
    const waitFor = async (done: () => boolean, deadlineMs: number): Promise<boolean> => {
      const end = nowMs() + deadlineMs;
      while (!done()) {
        worker.check();
        if (nowMs() > end) return false;
        await sleep(100);
      }
      return true;
    };
    if (!(await waitFor(() => readyAt !== null, intervalMs * 3))) throw new Error('the fleet never got going');
    log(`[${dialect}] every agent heartbeating after ${((nowMs() - fleetStarted) / 1000).toFixed(1)} s`);

    // Waves: each takes the next 4 × PER_CHANGE clusters.
    for (let w = 0; w < WAVES; w++) {
      if (w > 0) await sleep(intervalMs / 3);
      const orders: ChangeOrder[] = [];
      for (let j = 0; j < CHANGES.length * PER_CHANGE; j++) {
        const agent = agents[w * CHANGES.length * PER_CHANGE + j];
        const change = CHANGES[j % CHANGES.length];
        if (agent === undefined || change === undefined) throw new Error('not enough clusters for the waves');
        const type = change === 'control' ? null : INCIDENT_TYPE[change];
        expected.set(`${agent.clusterId}|${type ?? 'control'}`, {
          clusterId: agent.clusterId,
          change,
          type,
          wave: w,
          scope: null,
          carried: null,
          opened: [],
          clean: null,
          resolvedAt: null,
        });
        orders.push({ clusterId: agent.clusterId, change, heartbeats: w === 0 ? 2 : 1 });
      }
      worker.post({ kind: 'inject', wave: w, orders });
      log(`[${dialect}] wave ${w + 1}: ${orders.length} clusters changed`);
    }
    const conditions = [...expected.values()].filter((e) => e.type !== null);
    const settled = await waitFor(
      () =>
        [...expected.values()].every((e) => e.carried !== null) &&
        conditions.every((e) => e.clean !== null && e.resolvedAt !== null),
      intervalMs * 6,
    );
    log(`[${dialect}] ${settled ? 'every condition opened and resolved' : 'gave up waiting'}`);
    // The outbox sends right after each commit; give the last deliveries a moment.
    const ids = (): string[] => conditions.flatMap((e) => e.opened.map((o) => o.incidentId));
    await waitFor(
      () => ids().every((id) => (receiver.seen.get(id)?.resolved ?? 0) > 0 && (receiver.seen.get(id)?.opened ?? 0) > 0),
      10_000,
    );
    const fleetSeconds = (nowMs() - fleetStarted) / 1000;
    const stats = await worker.stop();
    fleet = null;
    if (stats.slow.length > 0) {
      // When the slow heartbeats were sent (seconds since the fleet started), for a look at what stalls.
      const buckets = new Map<number, number>();
      for (const s of stats.slow) {
        const b = Math.floor((s.sentAt - fleetStarted) / 5000) * 5;
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
      }
      log(
        `[${dialect}] ${stats.slow.length} heartbeats over 500 ms, by send time (s since start): ` +
          [...buckets].map(([b, n]) => `${b}s:${n}`).join(' '),
      );
    }

    // What the database holds.
    const db = server.services.database.db;
    const rows = await db
      .selectFrom('incidents')
      .select(['id', 'cluster_id', 'type', 'scope', 'fingerprint', 'state'])
      .execute();
    const byFingerprint = new Map<string, number>();
    for (const r of rows) byFingerprint.set(r.fingerprint, (byFingerprint.get(r.fingerprint) ?? 0) + 1);
    const duplicates = [...byFingerprint].filter(([, n]) => n > 1).map(([f, n]) => `${f} ×${n}`);
    const wanted = new Set(conditions.map((e) => `${e.clusterId}|${e.type ?? ''}|${e.scope ?? ''}`));
    const wrongScope = rows
      .filter((r) => !wanted.has(`${r.cluster_id ?? ''}|${r.type}|${r.scope}`))
      .map((r) => `${r.type} ${r.scope} in ${r.cluster_id ?? 'fleet'} (${r.state})`);
    const unresolvedRows = rows.filter((r) => r.state !== 'resolved').map((r) => `${r.type} ${r.scope} (${r.state})`);
    const statusRows = await db.selectFrom('clusters').select(['status']).execute();
    const statuses: Record<string, number> = {};
    for (const r of statusRows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;

    const detectionOf = (list: Expected[]): number[] =>
      list.flatMap((e) => {
        const first = e.opened[0];
        return first !== undefined && e.carried !== null ? [first.at - e.carried.sentAt] : [];
      });
    const detection: Record<string, Percentiles> = { all: percentiles(detectionOf(conditions)) };
    for (const change of ['crashloop', 'node', 'pull'] as const) {
      detection[change] = percentiles(detectionOf(conditions.filter((e) => e.change === change)));
    }
    const rtt: Record<string, Percentiles> = {};
    for (const [kind, values] of Object.entries(stats.rtt)) rtt[kind] = percentiles(values);
    let resolvedOnSecond = 0;
    const resolvedEarly: string[] = [];
    const resolution: number[] = [];
    for (const e of conditions) {
      const second = e.clean?.[1];
      if (e.resolvedAt === null || second === undefined) continue;
      if (e.resolvedAt > second.sentAt && e.resolvedAt <= second.repliedAt) resolvedOnSecond++;
      else resolvedEarly.push(`${e.type ?? ''} in ${e.clusterId}`);
      resolution.push(e.resolvedAt - second.sentAt);
    }
    let repeated = 0;
    let missing = 0;
    let hookOpened = 0;
    let hookResolved = 0;
    for (const id of ids()) {
      const seen = receiver.seen.get(id) ?? { opened: 0, resolved: 0 };
      hookOpened += seen.opened;
      hookResolved += seen.resolved;
      if (seen.opened > 1 || seen.resolved > 1) repeated++;
      if (seen.opened === 0 || seen.resolved === 0) missing++;
    }
    return {
      dialect,
      intervalSeconds: intervalMs / 1000,
      setupSeconds,
      detection,
      rtt,
      resolution: percentiles(resolution),
      expected: conditions.length,
      opened: rows.length,
      missed: conditions.filter((e) => e.opened.length === 0).map((e) => `${e.type ?? ''} in ${e.clusterId}`),
      duplicates: [
        ...duplicates,
        ...conditions
          .filter((e) => e.opened.length > 1)
          .map((e) => `${e.type ?? ''} in ${e.clusterId} opened ×${e.opened.length}`),
      ],
      unexpected,
      wrongScope,
      resolvedOnSecond,
      resolvedEarly,
      unresolved: unresolvedRows,
      webhook: { opened: hookOpened, resolved: hookResolved, repeated, missing },
      statuses,
      heartbeatsPerSecond: stats.sent / fleetSeconds,
      fleet: stats,
      warnings: sink.warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await fleet?.terminate();
    await server.close();
    await receiver.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const results: DbResult[] = [];
  const only = process.env.NIRO_BENCH_DB;
  if (only !== 'postgres') {
    results.push(await runOn('sqlite', null));
    log(summary(results[0]));
  }
  let pgNote = '';
  if (only === 'sqlite' || (QUICK && only !== 'postgres')) {
    pgNote = 'PostgreSQL skipped (NIRO_BENCH_QUICK or NIRO_BENCH_DB=sqlite).';
  } else {
    const pgDb = await benchPostgresDatabase();
    if (pgDb === null) {
      pgNote = `PostgreSQL skipped: ${BENCH_POSTGRES_ADMIN_URL} did not answer (scripts/postgres-test-server.sh start).`;
    } else {
      try {
        results.push(await runOn('postgres', pgDb));
        log(summary(results[results.length - 1]));
      } finally {
        await pgDb.dispose();
      }
    }
  }
  const section = report(results, pgNote, (performance.now() - started) / 1000);
  log(`\n${section}`);
  if (QUICK || only !== undefined) {
    log('NIRO_BENCH_QUICK or NIRO_BENCH_DB: not recorded');
    return;
  }
  fs.appendFileSync(path.join(here, 'RESULTS.md'), section);
  log('appended to bench/RESULTS.md');
}

const ms = (x: number): string => (x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);

function summary(r: DbResult | undefined): string {
  if (r === undefined) return '';
  const d = r.detection.all ?? percentiles([]);
  return (
    `[${r.dialect}] detection p50 ${ms(d.p50)}, p95 ${ms(d.p95)}, p99 ${ms(d.p99)}, max ${ms(d.max)} ` +
    `(${d.n} incidents); missed ${r.missed.length}, duplicates ${r.duplicates.length}, unexpected ${r.unexpected.length + r.wrongScope.length}`
  );
}

function report(results: DbResult[], pgNote: string, seconds: number): string {
  const first = results[0];
  const interval = first?.intervalSeconds ?? 15;
  const pct = (p: Percentiles | undefined): string =>
    p === undefined || p.n === 0 ? '– | – | – | –' : `${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} | ${ms(p.max)}`;
  const rttRow = (r: DbResult, kind: string, label: string): string[] => {
    const p = r.rtt[kind];
    return p === undefined || p.n === 0 ? [] : [`| ${r.dialect} | ${label} | ${p.n} | ${pct(p)} |`];
  };
  const list = (items: string[]): string =>
    items.length === 0 ? '0' : `**${items.length}** (${items.slice(0, 3).join('; ')}${items.length > 3 ? '; …' : ''})`;
  const lines = [
    '',
    `## ${new Date().toISOString()} — incident detection latency, ${CLUSTERS.toLocaleString('en')} clusters (\`npm run bench:incidents\`)`,
    '',
    `- ${machineLine()}`,
    `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; at the end: ${formatLoad(os.loadavg())}.`,
    `- Fleet: ${CLUSTERS} simulated clusters (${NODES} nodes / ${PODS} pods each, @niro/testkit k3s inventories) heartbeating`,
    `  every ${interval} s ±10 % (the server's interval), first heartbeats spread over one interval; gzip, keep-alive.`,
    '  Agents in a worker thread, the server in this process, one webhook channel (min severity low) to a',
    '  local receiver, so each opening and resolution is also queued and sent through the outbox.',
    `- ${WAVES} waves ${(interval / 3).toFixed(0)} s apart, each on ${CHANGES.length * PER_CHANGE} other clusters: ${PER_CHANGE} get a pod in`,
    `  CrashLoopBackOff, ${PER_CHANGE} a node not ready, ${PER_CHANGE} a new pod in ImagePullBackOff, ${PER_CHANGE} a healthy pod replacement`,
    '  (the control: a delta of the same size, no condition). Wave 1 keeps its conditions for two heartbeats,',
    '  waves 2–3 for one; then the agents heal them.',
    '- Detection latency: send of the first heartbeat carrying the condition (client, just before the',
    "  request) → the incident's transaction committed (the `incident opened` log call that follows the",
    '  commit, taken in process by a pino hook). Round trips: send → reply read, client side, counted',
    "  once every agent's first heartbeat was accepted (first heartbeats: from the start).",
    pgNote === '' ? '' : `- ${pgNote}`,
    '',
    '| database | condition | incidents | detection p50 | p95 | p99 | max | goal < 1 s |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...results.flatMap((r) =>
      (['all', 'crashloop', 'node', 'pull'] as const).map((k) => {
        const p = r.detection[k] ?? percentiles([]);
        const goal = p.n === 0 ? '–' : p.max < GOAL_MS ? 'met (max)' : p.p99 < GOAL_MS ? 'met (p99)' : '**missed**';
        return `| ${r.dialect} | ${k === 'all' ? 'all' : LABEL[k]} | ${p.n} | ${pct(p)} | ${goal} |`;
      }),
    ),
    '',
    '| database | heartbeat round trip | heartbeats | p50 | p95 | p99 | max |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...results.flatMap((r) => [
      ...rttRow(r, 'same', '`same`, no change (baseline)'),
      ...rttRow(r, 'control', 'control delta, no condition (baseline)'),
      ...rttRow(r, 'condition', 'delta carrying a condition'),
      ...rttRow(r, 'clean', 'clean heartbeats after healing'),
      ...rttRow(r, 'delta', 'other deltas'),
      ...rttRow(r, 'full', 'first heartbeat (full inventory)'),
    ]),
    '',
    '| database | detection p50 / control round trip p50 | detection p50 / `same` round trip p50 | heartbeats/s | failures | resendFull |',
    '|---|---:|---:|---:|---:|---:|',
    ...results.map((r) => {
      const d = r.detection.all?.p50 ?? 0;
      const c = r.rtt.control?.p50 ?? 0;
      const s = r.rtt.same?.p50 ?? 0;
      const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
      return `| ${r.dialect} | ${ratio(d, c)} | ${ratio(d, s)} | ${r.heartbeatsPerSecond.toFixed(1)} | ${r.fleet.failures} | ${r.fleet.resendFull} |`;
    }),
    '',
    '| database | conditions | incident rows | missed | duplicates | unexpected | resolved on the 2nd clean heartbeat | resolution (2nd clean send → commit) p50 / max | webhook opened / resolved (missing, repeated) | cluster statuses at the end |',
    '|---|---:|---:|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.dialect} | ${r.expected} | ${r.opened} | ${list(r.missed)} | ${list(r.duplicates)} | ${list([...r.unexpected, ...r.wrongScope])} | ` +
        `${r.resolvedOnSecond} / ${r.expected}${r.resolvedEarly.length > 0 ? ` (other: ${list(r.resolvedEarly)})` : ''}${r.unresolved.length > 0 ? `; unresolved ${list(r.unresolved)}` : ''} | ` +
        `${ms(r.resolution.p50)} / ${ms(r.resolution.max)} | ${r.webhook.opened} / ${r.webhook.resolved} (${r.webhook.missing}, ${r.webhook.repeated}) | ` +
        `${Object.entries(r.statuses)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')} |`,
    ),
    '',
    ...results.flatMap((r) =>
      r.warnings.length === 0
        ? []
        : [
            `- ${r.dialect}: the server logged ${r.warnings.length} warning(s)/error(s), first: \`${r.warnings[0] ?? ''}\``,
          ],
    ),
    `Run time ${seconds.toFixed(0)} s (${results.map((r) => `${r.dialect} ${r.seconds.toFixed(0)} s, setup ${r.setupSeconds.toFixed(0)} s`).join('; ')}).`,
    '',
  ];
  return lines.filter((l, i) => !(l === '' && lines[i - 1] === '')).join('\n');
}

await main();
