/**
 * Heartbeat ingest benchmark (DESIGN 8: ingest ≥ 50 % of the bare JSON.parse rate).
 *
 * Builds realistic heartbeat bodies with @niro/testkit for a 10-node/100-pod and a
 * 50-node/2,000-pod cluster, then measures, in one run on one machine, heartbeats/s of:
 *   - bare `JSON.parse` of the body strings (one core, a tight loop);
 *   - service: the ingest service without HTTP (agent-key check, JSON.parse, the route's
 *     validator, inventory apply, group-commit write to SQLite, reply serialised): our code only;
 *   - inject: the real server through `app.inject()` (Fastify routing and hooks, no sockets);
 *   - TCP: the real listening server over loopback with keep-alive connections (undici Pool in a
 *     worker thread, so the client does not share the server's event loop): what an agent sees;
 *   - floors: the same requests to a bare Fastify route that only parses the body and answers a
 *     constant, through inject and over TCP: what the HTTP stack costs before any ingest work;
 * one heartbeat in flight per cluster, in `full` mode (every heartbeat changes one pod, so the
 * document and rows are really rewritten), `delta` mode (a one-pod delta, alternately there and
 * back; the document is written at most once per 30 s per cluster, so within a phase only the
 * summary and rows are) and `same` mode (steady state: usage changes, inventory does not).
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:ingest`.
 * `NIRO_BENCH_ONLY=2000:same` (or `2000:same:service`) runs one scenario for profiling and
 * records nothing.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Fastify, { type FastifyInstance } from 'fastify';
import type { CreateClusterResponse, EnrollRequest, EnrollResponse, Heartbeat, Inventory } from '@niro/protocol';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import {
  createRng,
  generateClusterInventory,
  generateUsage,
  generateWarningEvents,
  mutateInventory,
  type ClusterInventory,
} from '@niro/testkit';
import { machineLine } from './machine.js';
import type { PhaseRequest, PhaseResult, WorkerMessage } from './tcp-load.worker.js';

const PARSE_SECONDS = 1.5;
const WARMUP_SECONDS = 0.75;
const INGEST_SECONDS = 2.5;
const FLOOR_SECONDS = 1.5;
const VARIANTS = 12;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const HEARTBEAT_PATH = '/api/agent/v1/heartbeat';

type Size = { label: string; nodes: number; pods: number; clusters: number };
const SIZES: Size[] = [
  { label: '10 nodes / 100 pods', nodes: 10, pods: 100, clusters: 64 },
  { label: '50 nodes / 2,000 pods', nodes: 50, pods: 2000, clusters: 8 },
];
const MODES = ['full', 'delta', 'same'] as const;
type Mode = (typeof MODES)[number];
type IngestPath = 'service' | 'inject' | 'tcp';

/** The bodies of one mode, where each cluster starts in them, and how it gets back to the base inventory. */
type Scenario = {
  mode: Mode;
  bodies: string[];
  start: (k: number) => number;
  /** The body that brings a cluster whose next body is `cursor` back to the base inventory, if any. */
  settle: (cursor: number) => string | undefined;
};

type Rate = { perSecond: number; p50Ms: number; p99Ms: number };
type Result = {
  size: string;
  mode: Mode;
  bodyBytes: number;
  clusters: number;
  parsePerSecond: number;
  injectFloorPerSecond: number;
  tcpFloorPerSecond: number;
  service: Rate;
  inject: Rate;
  tcp: Rate;
};

const here = path.dirname(fileURLToPath(import.meta.url));

const only = process.env.NIRO_BENCH_ONLY;
const selected = (size: Size, mode: Mode, p?: IngestPath): boolean => {
  if (only === undefined) return true;
  const [pods, m, onlyPath] = only.split(':');
  return pods === String(size.pods) && m === mode && (p === undefined || onlyPath === undefined || onlyPath === p);
};

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-'));
  const server = await startServer({
    config: { NIRO_DATA_DIR: dataDir, NIRO_PORT: '0', NIRO_HOST: '127.0.0.1', NIRO_LOG_LEVEL: 'silent' },
    logger: createLogger('silent'),
  });
  const floor = await floorServer();
  const load = new LoadWorker();
  const results: Result[] = [];
  try {
    const token = await adminToken(server);
    for (const size of SIZES) {
      const scenarios = buildScenarios(size);
      const keys = await createClusters(server, token, size);
      log(
        `${size.label}: full ${kb(scenarios.full.bodies)} KB, delta ${kb(scenarios.delta.bodies)} KB, ` +
          `same ${kb(scenarios.same.bodies)} KB, ${size.clusters} clusters`,
      );
      // Every cluster first gets the base inventory (which delta and same refer to).
      await Promise.all(keys.map((key) => injectSend(server, key, lastOf(scenarios.full.bodies))));
      for (const mode of MODES) {
        if (!selected(size, mode)) continue;
        const sc = scenarios[mode];
        const bodiesId = await load.setBodies(sc.bodies);
        const rate = async (p: IngestPath, fn: () => Promise<Rate>): Promise<Rate> =>
          selected(size, mode, p) ? fn() : { perSecond: 0, p50Ms: 0, p99Ms: 0 };
        // Profiling one path (NIRO_BENCH_ONLY=pods:mode:path) skips the reference figures.
        const reference = only?.split(':')[2] === undefined;
        const parsePerSecond = reference ? parseRate(sc.bodies) : 0;
        const injectFloorPerSecond = reference ? await injectFloorRate(floor, sc, keys.length) : 0;
        const tcpFloorPerSecond = reference
          ? (await tcpRate(load, server, floorUrl(floor), '/floor', keys, sc, bodiesId, false)).perSecond
          : 0;
        const auth = keys.map((k) => `Bearer ${k}`);
        const service = await rate('service', () => inProcessRate(server, keys, sc, serviceSender(server, auth)));
        const inject = await rate('inject', () =>
          inProcessRate(server, keys, sc, (k, payload) => injectSend(server, keys[k] ?? '', payload)),
        );
        const tcp = await rate('tcp', () =>
          tcpRate(load, server, server.url, HEARTBEAT_PATH, keys, sc, bodiesId, true),
        );
        results.push({
          size: size.label,
          mode,
          bodyBytes: avgBytes(sc.bodies),
          clusters: keys.length,
          parsePerSecond,
          injectFloorPerSecond,
          tcpFloorPerSecond,
          service,
          inject,
          tcp,
        });
        log(
          `  ${mode}: JSON.parse ${parsePerSecond.toFixed(0)}/s, service ${service.perSecond.toFixed(0)}/s, ` +
            `inject floor ${injectFloorPerSecond.toFixed(0)}/s, inject ${inject.perSecond.toFixed(0)}/s, ` +
            `TCP floor ${tcpFloorPerSecond.toFixed(0)}/s, TCP ${tcp.perSecond.toFixed(0)}/s`,
        );
      }
    }
  } finally {
    await load.close();
    await floor.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const section = report(results, (performance.now() - started) / 1000);
  log(`\n${section}`);
  if (only === undefined) {
    fs.appendFileSync(path.join(here, 'RESULTS.md'), section);
    log('appended to bench/RESULTS.md');
  }
}

/**
 * full: each variant differs from the previous by one pod's restarts, the last is the base
 * inventory; delta: base → one pod changed → base → …; same: the base inventory's hash with fresh
 * usage.
 */
function buildScenarios(size: Size): Record<Mode, Scenario> {
  const rng = createRng(`bench-${size.pods}`);
  let inv: ClusterInventory = generateClusterInventory({
    nodes: size.nodes,
    pods: size.pods,
    seed: `bench-${size.pods}`,
    crashloopRate: 0.02,
    imagePullErrorRate: 0.01,
    pendingRate: 0.01,
    now: NOW,
  });
  const base = inv;
  const full: string[] = [];
  for (let i = 0; i < VARIANTS; i++) {
    inv = mutated(inv, rng);
    full.push(body(i + 1, fullInventory(inv), inv, rng));
  }
  full.push(body(VARIANTS + 1, fullInventory(base), base, rng));

  const other = mutated(base, rng);
  const changed = other.pods.filter((p, i) => p !== base.pods[i]);
  const backPods = base.pods.filter((p, i) => p !== other.pods[i]);
  const [baseHash, otherHash] = [hashOf(base), hashOf(other)];
  const delta = Array.from({ length: VARIANTS }, (_, i) =>
    i % 2 === 0
      ? body(200 + i, { mode: 'delta', baseHash, hash: otherHash, upsert: { pods: changed }, remove: {} }, other, rng)
      : body(
          200 + i,
          { mode: 'delta', baseHash: otherHash, hash: baseHash, upsert: { pods: backPods }, remove: {} },
          base,
          rng,
        ),
  );
  const same = Array.from({ length: VARIANTS }, (_, i) => body(100 + i, { mode: 'same', hash: baseHash }, base, rng));
  return {
    full: { mode: 'full', bodies: full, start: (k) => k % full.length, settle: () => lastOf(full) },
    // Every cluster is on the base inventory, so it starts with the first delta away from it.
    delta: { mode: 'delta', bodies: delta, start: () => 0, settle: (c) => (c % 2 === 1 ? delta[c] : undefined) },
    same: { mode: 'same', bodies: same, start: (k) => k % same.length, settle: () => undefined },
  };
}

/** One pod's restarts changed. */
function mutated(inv: ClusterInventory, rng: ReturnType<typeof createRng>): ClusterInventory {
  for (let tries = 0; tries < 50; tries++) {
    const next = mutateInventory(inv, rng, { now: NOW, restartChance: 1, replaceChance: 0, crashloopRestartChance: 0 });
    if (next !== inv) return next;
  }
  throw new Error('could not mutate the inventory');
}

const lastOf = (list: string[]): string => list[list.length - 1] ?? '';

function fullInventory(inv: ClusterInventory): Inventory {
  return { mode: 'full', hash: hashOf(inv), nodes: inv.nodes, pods: inv.pods, workloads: inv.workloads };
}

function body(seq: number, inventory: Inventory, inv: ClusterInventory, rng: ReturnType<typeof createRng>): string {
  const hb: Heartbeat = {
    seq,
    sentAt: new Date(NOW + seq * 15_000).toISOString(),
    agent: { version: '0.1.0', capabilities: { pods: true, logs: true, apply: false, selfUpdate: false } },
    cluster: { kubernetesVersion: inv.nodes[0]?.kubeletVersion ?? 'v1.31.4+k3s1', distribution: 'k3s' },
    inventory,
    usage: generateUsage(inv, rng),
    events: generateWarningEvents(inv, { now: NOW }),
  };
  return JSON.stringify(hb);
}

const hashOf = (inv: ClusterInventory): string => createHash('sha256').update(JSON.stringify(inv)).digest('hex');

/** An API token of the first administrator, who owns the one org every bench cluster goes to. */
async function adminToken(server: RunningServer): Promise<string> {
  const { auth } = server.services;
  const admin = await auth.bootstrapAdmin({ email: 'bench@example.com', password: 'bench-password' });
  if (admin === null) throw new Error('the bench database already has an administrator');
  return (await auth.createApiToken(admin.id, 'bench')).token;
}

/** Creates and enrolls the clusters of one size as the dashboard and an agent would; returns their agent keys. */
async function createClusters(server: RunningServer, token: string, size: Size): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < size.clusters; i++) {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/clusters',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: `bench-${size.pods}-${i}`, environment: 'production' },
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
    keys.push(enrolled.json<EnrollResponse>().agentKey);
  }
  return keys;
}

/** Bare JSON.parse over the same body strings, one core, after a short warm-up. */
function parseRate(bodies: string[]): number {
  let sink = 0;
  const run = (seconds: number): number => {
    const end = performance.now() + seconds * 1000;
    let n = 0;
    while (performance.now() < end) {
      for (const b of bodies) {
        const v: unknown = JSON.parse(b);
        if (typeof v === 'object' && v !== null) sink++;
        n++;
      }
    }
    return n;
  };
  run(WARMUP_SECONDS / 2);
  const t0 = performance.now();
  const n = run(PARSE_SECONDS);
  const rate = n / ((performance.now() - t0) / 1000);
  if (sink === 0) throw new Error('nothing parsed');
  return rate;
}

/** A bare Fastify route that only parses the JSON body and answers a constant, listening on loopback. */
async function floorServer(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
  app.post('/floor', async () => ({ ack: 1, heartbeatIntervalSeconds: 15 }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

function floorUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('floor server has no port');
  return `http://127.0.0.1:${address.port}`;
}

/** The floor through `app.inject()`: what light-my-request plus Fastify cost before any ingest work. */
async function injectFloorRate(app: FastifyInstance, sc: Scenario, concurrency: number): Promise<number> {
  const send = async (_k: number, payload: string): Promise<void> => {
    await app.inject({
      method: 'POST',
      url: '/floor',
      headers: { authorization: 'Bearer niro_ak_floor', 'content-type': 'application/json' },
      payload,
    });
  };
  const cursors = Array.from({ length: concurrency }, (_, k) => sc.start(k));
  await drive(send, cursors, sc.bodies, WARMUP_SECONDS / 2, null);
  const t0 = performance.now();
  const n = await drive(send, cursors, sc.bodies, FLOOR_SECONDS, null);
  return n / ((performance.now() - t0) / 1000);
}

type Send = (k: number, payload: string) => Promise<void>;

async function injectSend(server: RunningServer, key: string, payload: string): Promise<void> {
  const res = await server.app.inject({
    method: 'POST',
    url: HEARTBEAT_PATH,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload,
  });
  if (res.statusCode !== 200) throw new Error(`heartbeat failed: ${res.statusCode} ${res.body.slice(0, 300)}`);
  if (res.body.includes('resendFull')) throw new Error(`unexpected resendFull: ${res.body}`);
}

/** The ingest service without HTTP: what the route's handler and hooks do, in the same order. */
function serviceSender(server: RunningServer, authorizations: string[]): Send {
  const { heartbeat } = server.services;
  return async (k, payload) => {
    const agent = await heartbeat.authenticate(authorizations[k]);
    const data: unknown = JSON.parse(payload);
    const verdict = heartbeat.validate(data);
    if (typeof verdict !== 'object' || !('value' in verdict)) throw new Error('invalid heartbeat');
    // Validated against the Heartbeat schema just above.
    const reply = await heartbeat.ingest(agent, data as Heartbeat);
    const text = JSON.stringify(reply);
    if (reply.resendFull === true) throw new Error(`unexpected resendFull: ${text}`);
  };
}

/** Every cluster sends its bodies one after another (one in flight per cluster), until the deadline. */
async function drive(
  send: Send,
  cursors: number[],
  bodies: string[],
  seconds: number,
  latencies: number[] | null,
): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    cursors.map(async (_, k) => {
      while (performance.now() < end) {
        const i = cursors[k] ?? 0;
        const t0 = performance.now();
        await send(k, bodies[i] ?? '');
        latencies?.push(performance.now() - t0);
        done++;
        cursors[k] = (i + 1) % bodies.length;
      }
    }),
  );
  return done;
}

/** Brings every cluster back to the base inventory, through inject (one heartbeat each at most). */
async function settle(server: RunningServer, keys: string[], sc: Scenario, cursors: number[]): Promise<void> {
  await Promise.all(
    keys.map(async (key, k) => {
      const payload = sc.settle(cursors[k] ?? 0);
      if (payload !== undefined) await injectSend(server, key, payload);
    }),
  );
}

async function inProcessRate(server: RunningServer, keys: string[], sc: Scenario, send: Send): Promise<Rate> {
  const cursors = keys.map((_, k) => sc.start(k));
  await drive(send, cursors, sc.bodies, WARMUP_SECONDS, null);
  const latencies: number[] = [];
  const t0 = performance.now();
  const n = await drive(send, cursors, sc.bodies, INGEST_SECONDS, latencies);
  const rate = n / Math.max((performance.now() - t0) / 1000, 1e-9);
  await settle(server, keys, sc, cursors);
  return { perSecond: rate, ...percentiles(latencies) };
}

async function tcpRate(
  load: LoadWorker,
  server: RunningServer,
  url: string,
  urlPath: string,
  keys: string[],
  sc: Scenario,
  bodiesId: number,
  isIngest: boolean,
): Promise<Rate> {
  const base = { url, path: urlPath, authorizations: keys.map((k) => `Bearer ${k}`), bodiesId };
  const warm = await load.phase({ ...base, cursors: keys.map((_, k) => sc.start(k)), seconds: WARMUP_SECONDS / 2 });
  const seconds = isIngest ? INGEST_SECONDS : FLOOR_SECONDS;
  const r = await load.phase({ ...base, cursors: warm.cursors, seconds });
  if (isIngest) await settle(server, keys, sc, r.cursors);
  return { perSecond: r.done / (r.elapsedMs / 1000), ...percentiles(r.latencies) };
}

function percentiles(latencies: number[]): { p50Ms: number; p99Ms: number } {
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

/** The TCP client, in a worker thread (bench/tcp-load.worker.ts). */
class LoadWorker {
  // Loaded through tsx's API: Node 20 does not apply the parent's `--import tsx` to a worker's entry.
  private readonly worker = new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./tcp-load.worker.ts', import.meta.url).href)}); })`,
    { eval: true },
  );
  private nextId = 0;

  private ask<T>(msg: WorkerMessage): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Each listener removes the other, so phases do not pile up listeners on the worker.
      const onError = (err: Error): void => {
        this.worker.off('message', onMessage);
        reject(err);
      };
      const onMessage = (reply: T): void => {
        this.worker.off('error', onError);
        resolve(reply);
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', onError);
      this.worker.postMessage(msg);
    });
  }

  async setBodies(bodies: string[]): Promise<number> {
    const id = this.nextId++;
    await this.ask({ kind: 'bodies', id, bodies });
    return id;
  }

  async phase(req: PhaseRequest): Promise<PhaseResult> {
    const r = await this.ask<PhaseResult>({ kind: 'phase', ...req });
    if (r.error !== undefined) throw new Error(r.error);
    return r;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

function report(results: Result[], seconds: number): string {
  const n = (x: number): string => x.toFixed(0);
  const pc = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(0)} %` : '–');
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  const lines = [
    '',
    `## ${new Date().toISOString()} — heartbeat ingest (service, inject and TCP)`,
    '',
    `- ${machineLine()}`,
    '- One heartbeat in flight per cluster; SQLite in WAL mode. `full`: every heartbeat changes one pod',
    "  (document, summary and that pod's rows rewritten). `delta`: a one-pod delta, there and back",
    "  (summary and that pod's rows written at once, the document at most once per 30 s per cluster).",
    '  `same`: inventory unchanged, fresh usage (liveness columns only).',
    '- JSON.parse: the same body strings in a loop on the same core, in the same run.',
    '- service: agent-key check, JSON.parse, validation, apply, group-commit write, reply serialised;',
    '  no HTTP. inject: the real server through `app.inject()` (no sockets). TCP: the real listening',
    '  server over loopback, keep-alive (undici Pool, one connection per cluster, client in a worker',
    '  thread): the honest HTTP figure. Floors: a bare Fastify route that only parses the body.',
    '',
    '| cluster | mode | body | clusters | JSON.parse/s | service/s | inject floor/s | inject ingest/s | TCP floor/s | TCP ingest/s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.size} | ${r.mode} | ${(r.bodyBytes / 1024).toFixed(1)} KB | ${r.clusters} | ${n(r.parsePerSecond)} | ` +
        `${n(r.service.perSecond)} | ${n(r.injectFloorPerSecond)} | ${n(r.inject.perSecond)} | ` +
        `${n(r.tcpFloorPerSecond)} | ${n(r.tcp.perSecond)} |`,
    ),
    '',
    '| cluster | mode | service / parse | inject / parse | TCP / parse | inject / inject floor | TCP / TCP floor | inject p50 / p99 | TCP p50 / p99 |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.size} | ${r.mode} | ${pc(r.service.perSecond, r.parsePerSecond)} | ${pc(r.inject.perSecond, r.parsePerSecond)} | ` +
        `${pc(r.tcp.perSecond, r.parsePerSecond)} | ${pc(r.inject.perSecond, r.injectFloorPerSecond)} | ` +
        `${pc(r.tcp.perSecond, r.tcpFloorPerSecond)} | ${ms(r.inject.p50Ms)} / ${ms(r.inject.p99Ms)} | ` +
        `${ms(r.tcp.p50Ms)} / ${ms(r.tcp.p99Ms)} |`,
    ),
    '',
    `Run time ${seconds.toFixed(0)} s.`,
    '',
  ];
  return lines.join('\n');
}

const avgBytes = (bodies: string[]): number => bodies.reduce((s, b) => s + Buffer.byteLength(b), 0) / bodies.length;
const kb = (bodies: string[]): string => (avgBytes(bodies) / 1024).toFixed(1);
const log = (line: string): void => console.log(line);

await main();
