/**
 * Command round-trip benchmark (DESIGN 8: command round trip p99 < 100 ms with 1,000 agents
 * connected to one server process).
 *
 * Starts a real server (SQLite), creates and enrolls 1,000 clusters through the API, sends one
 * heartbeat per cluster over TCP (timed: the HTTP baseline), connects 1,000 simulated agents to
 * the WebSocket gateway (`GET /api/agent/v1/connect`, hello), then creates pings through
 * `POST /api/v1/clusters/{id}/commands` over TCP with a fixed number in flight. Each simulated
 * agent answers a command with `ack` and `result` at once; the client-side round trip runs from
 * just before the create request to the agent receiving the server's `result-ack` (the result is
 * recorded). The server's own `roundTripMs` (completed − created) is read back afterwards.
 * Baselines in the same run: the heartbeat POST above and a bare `ws` echo server (same process,
 * same concurrency). Agents, API client and server share one process and event loop, like the
 * echo baseline. Appends a dated section to bench/RESULTS.md. Run: `npm run bench:commands`.
 * `NIRO_BENCH_AGENTS=50 NIRO_BENCH_PINGS=200` is a quick trial that records nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ApiClient, type CreateClusterResponse, type EnrollRequest, type EnrollResponse } from '@niro/protocol';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import { buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import {
  connectFleet,
  echoBaseline,
  percentiles,
  pool,
  type Percentiles,
  type SimulatedFleet,
} from './commands-fleet.js';
import { formatLoad, machineLine } from './machine.js';

const AGENTS = Number(process.env.NIRO_BENCH_AGENTS ?? 1000);
const PINGS = Number(process.env.NIRO_BENCH_PINGS ?? 2000);
const WARMUP_PINGS = 200;
const IN_FLIGHT = 20;
const CONNECT_CONCURRENCY = 50;
const SETUP_CONCURRENCY = 16;

type ClusterAgent = { clusterId: string; agentKey: string };

type Figures = {
  setupSeconds: number;
  connect: { seconds: number; perConnection: Percentiles };
  heartbeat: Percentiles;
  echo: Percentiles;
  create: Percentiles;
  roundTrip: Percentiles;
  serverRoundTrip: Percentiles;
  pingsPerSecond: number;
  redelivered: number;
};

const here = path.dirname(fileURLToPath(import.meta.url));
const startLoad = os.loadavg();

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-commands-'));
  const server = await startServer({
    config: { NIRO_DATA_DIR: dataDir, NIRO_PORT: '0', NIRO_HOST: '127.0.0.1', NIRO_LOG_LEVEL: 'silent' },
    logger: createLogger('silent'),
  });
  let fleet: SimulatedFleet | null = null;
  let figures: Figures;
  try {
    const token = await adminToken(server);
    const api = new ApiClient({ baseUrl: server.url, token });

    const t0 = performance.now();
    const clusters = await createClusters(server, token);
    const setupSeconds = (performance.now() - t0) / 1000;
    log(`created and enrolled ${clusters.length} clusters in ${setupSeconds.toFixed(1)} s`);

    const heartbeat = await heartbeats(server, clusters);
    log(`heartbeat POST (TCP, ${IN_FLIGHT} in flight): ${fmt(heartbeat)}`);

    const c0 = performance.now();
    fleet = await connectFleet(
      server.url,
      clusters.map((c) => c.agentKey),
      CONNECT_CONCURRENCY,
      (n) => log(`  ${n} agents connected`),
    );
    const connectSeconds = (performance.now() - c0) / 1000;
    log(`connected ${AGENTS} agents in ${connectSeconds.toFixed(2)} s: ${fmt(percentiles(fleet.connectLatencies))}`);

    const echo = await echoBaseline(PINGS, IN_FLIGHT);
    log(`bare WebSocket echo (${IN_FLIGHT} in flight): ${fmt(echo)}`);

    log(`warm-up: ${WARMUP_PINGS} pings`);
    await pings(api, clusters, fleet, WARMUP_PINGS);
    log(`measuring: ${PINGS} pings, ${IN_FLIGHT} in flight`);
    const m0 = performance.now();
    const run = await pings(api, clusters, fleet, PINGS, (n) => log(`  ${n} pings done`));
    const pingsPerSecond = PINGS / ((performance.now() - m0) / 1000);

    const readBack = await serverRoundTrips(api, run.ids);
    figures = {
      setupSeconds,
      connect: { seconds: connectSeconds, perConnection: percentiles(fleet.connectLatencies) },
      heartbeat,
      echo,
      create: percentiles(run.create),
      roundTrip: percentiles(run.roundTrip),
      serverRoundTrip: percentiles(readBack.roundTrips),
      pingsPerSecond,
      redelivered: readBack.redelivered,
    };
    log(`create (POST answered): ${fmt(figures.create)}`);
    log(`round trip (create → result-ack at the agent): ${fmt(figures.roundTrip)}`);
    log(`server roundTripMs (completed − created): ${fmt(figures.serverRoundTrip)}`);
  } finally {
    await fleet?.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const section = report(figures, (performance.now() - started) / 1000);
  log(`\n${section}`);
  // A smaller fleet (NIRO_BENCH_AGENTS, NIRO_BENCH_PINGS) is a trial run and records nothing.
  if (AGENTS !== 1000 || PINGS !== 2000) return;
  fs.appendFileSync(path.join(here, 'RESULTS.md'), section);
  log('appended to bench/RESULTS.md');
}

/** An API token of the first administrator, who owns the one org every bench cluster goes to. */
async function adminToken(server: RunningServer): Promise<string> {
  const { auth } = server.services;
  const admin = await auth.bootstrapAdmin({ email: 'bench@example.com', password: 'bench-password' });
  if (admin === null) throw new Error('the bench database already has an administrator');
  return (await auth.createApiToken(admin.id, 'bench')).token;
}

/** Creates and enrolls the clusters as the dashboard and an agent would, a few at a time. */
async function createClusters(server: RunningServer, token: string): Promise<ClusterAgent[]> {
  const out: ClusterAgent[] = new Array<ClusterAgent>(AGENTS);
  let done = 0;
  await pool(AGENTS, SETUP_CONCURRENCY, async (i) => {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/clusters',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: `bench-commands-${i}`, environment: 'production' },
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
    out[i] = { clusterId: cluster.id, agentKey: enrolled.json<EnrollResponse>().agentKey };
    if (++done % 250 === 0) log(`  ${done} clusters enrolled`);
  });
  return out;
}

/** One small full heartbeat per cluster over TCP, so every cluster reports; the latencies are a baseline. */
async function heartbeats(server: RunningServer, clusters: ClusterAgent[]): Promise<Percentiles> {
  const inv = generateClusterInventory({ nodes: 1, pods: 10, seed: 'bench-commands' });
  const body = JSON.stringify(
    buildFullHeartbeat(inv, { seq: 1, capabilities: { pods: true, logs: true, apply: false, selfUpdate: false } }),
  );
  const latencies: number[] = [];
  await pool(clusters.length, IN_FLIGHT, async (i) => {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/api/agent/v1/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clusters[i]?.agentKey ?? ''}`, 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    latencies.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`heartbeat failed: ${res.status} ${text.slice(0, 300)}`);
  });
  return percentiles(latencies);
}

type PingRun = { ids: string[]; create: number[]; roundTrip: number[] };

/** `count` pings to clusters in turn, IN_FLIGHT at a time; each ends when its agent gets the result-ack. */
async function pings(
  api: ApiClient,
  clusters: ClusterAgent[],
  fleet: SimulatedFleet,
  count: number,
  progress?: (n: number) => void,
): Promise<PingRun> {
  const run: PingRun = { ids: [], create: [], roundTrip: [] };
  let done = 0;
  await pool(count, IN_FLIGHT, async (i) => {
    const cluster = clusters[(i * 7919) % clusters.length];
    if (cluster === undefined) throw new Error('no cluster');
    const t0 = performance.now();
    const command = await api.createCommand(cluster.clusterId, { kind: 'ping' });
    run.create.push(performance.now() - t0);
    const recordedAt = await fleet.resultAcked(command.id);
    run.roundTrip.push(recordedAt - t0);
    run.ids.push(command.id);
    if (++done % 500 === 0) progress?.(done);
  });
  return run;
}

/** Reads every measured command back: its state, deliveries and the server's roundTripMs. */
async function serverRoundTrips(api: ApiClient, ids: string[]): Promise<{ roundTrips: number[]; redelivered: number }> {
  const roundTrips: number[] = [];
  let redelivered = 0;
  await pool(ids.length, IN_FLIGHT, async (i) => {
    const command = await api.getCommand(ids[i] ?? '');
    if (command.state !== 'succeeded' || command.roundTripMs === null) {
      throw new Error(`command ${command.id} ended ${command.state}`);
    }
    if (command.deliveries > 1) redelivered++;
    roundTrips.push(command.roundTripMs);
  });
  return { roundTrips, redelivered };
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const fmt = (p: Percentiles): string =>
  `p50 ${ms(p.p50)}, p90 ${ms(p.p90)}, p99 ${ms(p.p99)}, max ${ms(p.max)} (n=${p.count})`;

function report(f: Figures, seconds: number): string {
  const row = (label: string, p: Percentiles): string =>
    `| ${label} | ${p.count} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} |`;
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');
  const goal = f.roundTrip.p99 < 100 ? 'met' : 'missed';
  const lines = [
    '',
    `## ${new Date().toISOString()} — command round trip, ${AGENTS} agents connected (\`npm run bench:commands\`)`,
    '',
    `- ${machineLine()}`,
    `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; other work on the`,
    '  machine slows every row alike, so compare the rows of one section rather than sections.',
    `- One server process, SQLite in WAL mode; ${AGENTS} simulated agents on the WebSocket gateway, all in`,
    '  the same process as the server and the API client (one event loop; the baselines likewise).',
    `- ${PINGS} pings (after ${WARMUP_PINGS} warm-up), ${IN_FLIGHT} in flight, spread over the clusters, created with`,
    '  `POST /api/v1/clusters/{id}/commands` over loopback TCP. Each agent answers `ack` + `result` at once.',
    '  round trip: from just before the create request to the agent receiving `result-ack` (result',
    '  recorded). server roundTripMs: completed − created, as `GET /api/v1/commands/{id}` reports it.',
    '- Baselines (same run): heartbeat POST, one small full heartbeat (1 node, 10 pods) per cluster over',
    `  TCP, ${IN_FLIGHT} in flight; bare WebSocket echo, a \`ws\` server that sends each text frame back,`,
    `  ${IN_FLIGHT} clients with one frame in flight each.`,
    '',
    '| measure | n | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|---:|',
    row('**command round trip** (create → result-ack)', f.roundTrip),
    row('server roundTripMs (completed − created)', f.serverRoundTrip),
    row('create request answered (POST)', f.create),
    row('baseline: heartbeat POST', f.heartbeat),
    row('baseline: bare WebSocket echo', f.echo),
    row('agent connect (upgrade → open)', f.connect.perConnection),
    '',
    `- Goal p99 < 100 ms: **${goal}** (p99 ${ms(f.roundTrip.p99)}). Throughput ${f.pingsPerSecond.toFixed(0)} pings/s;`,
    `  ${f.redelivered} of ${PINGS} delivered more than once.`,
    `- Ratios (p50): round trip / heartbeat POST ${ratio(f.roundTrip.p50, f.heartbeat.p50)}, round trip / bare echo`,
    `  ${ratio(f.roundTrip.p50, f.echo.p50)}; p99: round trip / heartbeat POST ${ratio(f.roundTrip.p99, f.heartbeat.p99)}.`,
    `- Fleet: ${AGENTS} clusters created and enrolled through the API in ${f.setupSeconds.toFixed(1)} s; ${AGENTS}`,
    `  WebSockets opened (${CONNECT_CONCURRENCY} at a time) in ${f.connect.seconds.toFixed(2)} s.`,
    '',
    `Run time ${seconds.toFixed(0)} s.`,
    '',
  ];
  return lines.join('\n');
}

const log = (line: string): void => console.log(line);

await main();
