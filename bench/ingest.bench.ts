/**
 * Heartbeat ingest benchmark (DESIGN 8: ingest ≥ 50 % of the bare JSON.parse rate).
 *
 * Builds realistic heartbeat bodies with @niro/testkit for a 10-node/100-pod and a
 * 50-node/2,000-pod cluster, then measures, in one run on one machine:
 *   - bare `JSON.parse` of the body strings (one core, a tight loop), and
 *   - heartbeats/s through the real ingest path of a real server on SQLite: `app.inject()`
 *     (Fastify routing, agent-key check, body parse, schema validation, inventory apply,
 *     group-commit write, reply serialisation; no TCP), one heartbeat in flight per cluster,
 * in `full` mode (every heartbeat changes one pod, so the document and rows are really
 * rewritten) and `same` mode (steady state: usage changes, inventory does not).
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:ingest`.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { AGENT_KEY_PREFIX, type Heartbeat, type Inventory } from '@niro/protocol';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import {
  createRng,
  generateClusterInventory,
  generateUsage,
  generateWarningEvents,
  mutateInventory,
  type ClusterInventory,
} from '@niro/testkit';

const PARSE_SECONDS = 2;
const WARMUP_SECONDS = 1;
const INGEST_SECONDS = 5;
const FLOOR_SECONDS = 2;
const VARIANTS = 12;
const NOW = Date.parse('2026-03-01T12:00:00Z');

type Size = { label: string; nodes: number; pods: number; clusters: number };
const SIZES: Size[] = [
  { label: '10 nodes / 100 pods', nodes: 10, pods: 100, clusters: 64 },
  { label: '50 nodes / 2,000 pods', nodes: 50, pods: 2000, clusters: 8 },
];

type Result = {
  size: string;
  mode: 'full' | 'same';
  bodyBytes: number;
  clusters: number;
  parsePerSecond: number;
  floorPerSecond: number;
  ingestPerSecond: number;
  p50Ms: number;
  p99Ms: number;
};

const here = path.dirname(fileURLToPath(import.meta.url));

/** `NIRO_BENCH_ONLY=2000:full` runs one scenario (pods:mode), for profiling; nothing is recorded then. */
const only = process.env.NIRO_BENCH_ONLY;
const selected = (size: Size, mode: string): boolean => only === undefined || only === `${size.pods}:${mode}`;

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-'));
  const server = await startServer({
    config: { NIRO_DATA_DIR: dataDir, NIRO_PORT: '0', NIRO_LOG_LEVEL: 'silent' },
    logger: createLogger('silent'),
  });
  const results: Result[] = [];
  try {
    for (const size of SIZES) {
      const bodies = buildBodies(size);
      const keys = await createClusters(server, size);
      log(`${size.label}: full ${kb(bodies.full)} KB, same ${kb(bodies.same)} KB, ${size.clusters} clusters`);

      // `same` runs second: the full run leaves every cluster on the inventory it refers to.
      for (const mode of ['full', 'same'] as const) {
        if (!selected(size, mode)) {
          if (mode === 'full') await ingestRate(server, keys, bodies.full, 0);
          continue;
        }
        const list = bodies[mode];
        const parsePerSecond = parseRate(list);
        const floorPerSecond = await httpFloorRate(list, keys.length);
        const ingest = await ingestRate(server, keys, list, INGEST_SECONDS);
        results.push({
          size: size.label,
          mode,
          bodyBytes: avgBytes(list),
          clusters: keys.length,
          parsePerSecond,
          floorPerSecond,
          ...ingest,
        });
        log(
          `  ${mode}: JSON.parse ${parsePerSecond.toFixed(0)}/s, HTTP floor ${floorPerSecond.toFixed(0)}/s, ` +
            `ingest ${ingest.ingestPerSecond.toFixed(0)}/s`,
        );
      }
    }
  } finally {
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

/** Full bodies: each variant differs from the previous by one pod's restart; same bodies: fresh usage. */
function buildBodies(size: Size): { full: string[]; same: string[] } {
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
    for (let tries = 0; tries < 50; tries++) {
      const next = mutateInventory(inv, rng, {
        now: NOW,
        restartChance: 1,
        replaceChance: 0,
        crashloopRestartChance: 0,
      });
      if (next !== inv) {
        inv = next;
        break;
      }
    }
    full.push(body(i + 1, fullInventory(inv), inv, rng));
  }
  const sameHash = hashOf(base);
  const same = Array.from({ length: VARIANTS }, (_, i) => body(100 + i, { mode: 'same', hash: sameHash }, base, rng));
  // The same run starts from `base`: make the last full heartbeat carry it.
  full.push(body(VARIANTS + 1, fullInventory(base), base, rng));
  return { full, same };
}

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

async function createClusters(server: RunningServer, size: Size): Promise<string[]> {
  const db = server.services.database.db;
  const now = Date.now();
  const orgId = `bench-org-${size.pods}`;
  await db
    .insertInto('orgs')
    .values({ id: orgId, parent_id: null, path: `/${orgId}/`, name: orgId, created_at: now })
    .execute();
  const keys: string[] = [];
  for (let i = 0; i < size.clusters; i++) {
    const key = `${AGENT_KEY_PREFIX}bench-${size.pods}-${i}-${createHash('sha256').update(String(Math.random())).digest('hex')}`;
    keys.push(key);
    await db
      .insertInto('clusters')
      .values({
        id: `bench-${size.pods}-${i}`,
        org_id: orgId,
        name: `bench-${size.pods}-${i}`,
        environment: 'production',
        labels: '{}',
        status: 'pending',
        status_changed_at: now,
        created_at: now,
        updated_at: now,
        agent_key_hash: createHash('sha256').update(key).digest('hex'),
        enrolled_at: now,
        cluster_uid: null,
        last_heartbeat_at: null,
        last_seq: null,
        agent_version: null,
        kubernetes_version: null,
        distribution: null,
        capabilities: null,
        nodes_total: 0,
        nodes_ready: 0,
        pods_total: 0,
        pods_running: 0,
        pods_pending: 0,
        pods_failed: 0,
        cpu_capacity_milli: 0,
        memory_capacity_bytes: 0,
        cpu_requests_milli: 0,
        memory_requests_bytes: 0,
        cpu_usage_milli: null,
        memory_usage_bytes: null,
      })
      .execute();
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

/**
 * The same requests against a bare Fastify route that only parses the JSON body and answers a
 * constant: what `app.inject()` plus Fastify cost before any ingest work, for context.
 */
async function httpFloorRate(bodies: string[], concurrency: number): Promise<number> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
  app.post('/floor', async () => ({ ack: 1, heartbeatIntervalSeconds: 15 }));
  await app.ready();
  const phase = async (seconds: number): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let done = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, k) => {
        let i = k % bodies.length;
        while (performance.now() < end) {
          await app.inject({
            method: 'POST',
            url: '/floor',
            headers: { authorization: 'Bearer niro_ak_floor', 'content-type': 'application/json' },
            payload: bodies[i] ?? '',
          });
          done++;
          i = (i + 1) % bodies.length;
        }
      }),
    );
    return done;
  };
  await phase(WARMUP_SECONDS / 2);
  const t0 = performance.now();
  const n = await phase(FLOOR_SECONDS);
  const rate = n / ((performance.now() - t0) / 1000);
  await app.close();
  return rate;
}

/** Every cluster sends its bodies one after another (one in flight per cluster), until the deadline. */
async function ingestRate(
  server: RunningServer,
  keys: string[],
  bodies: string[],
  seconds: number,
): Promise<{ ingestPerSecond: number; p50Ms: number; p99Ms: number }> {
  const send = async (key: string, payload: string): Promise<void> => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/agent/v1/heartbeat',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload,
    });
    if (res.statusCode !== 200) throw new Error(`heartbeat failed: ${res.statusCode} ${res.body.slice(0, 300)}`);
    if (res.body.includes('resendFull')) throw new Error(`unexpected resendFull: ${res.body}`);
  };
  const phase = async (seconds: number, latencies: number[] | null): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let done = 0;
    await Promise.all(
      keys.map(async (key, k) => {
        let i = k % bodies.length;
        while (performance.now() < end) {
          const t0 = performance.now();
          await send(key, bodies[i] ?? '');
          latencies?.push(performance.now() - t0);
          done++;
          i = (i + 1) % bodies.length;
        }
      }),
    );
    return done;
  };
  // Warm-up (and, in full mode, each cluster's first inventory); ends on the base inventory.
  await phase(WARMUP_SECONDS, null);
  await Promise.all(keys.map((key) => send(key, bodies[bodies.length - 1] ?? '')));
  const latencies: number[] = [];
  const t0 = performance.now();
  const n = await phase(seconds, latencies);
  const rate = n / Math.max((performance.now() - t0) / 1000, 1e-9);
  // Leave every cluster on the base inventory, which the `same` bodies refer to.
  await Promise.all(keys.map((key) => send(key, bodies[bodies.length - 1] ?? '')));
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { ingestPerSecond: rate, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

function report(results: Result[], seconds: number): string {
  const cpus = os.cpus();
  const cpu = `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical cores)`;
  const lines = [
    '',
    `## ${new Date().toISOString()} — heartbeat ingest`,
    '',
    `- CPU: ${cpu}; Node ${process.version}; ${os.platform()} ${os.arch()}; ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    '- Path: `app.inject()` into a real server (routing, agent-key check, JSON parse, schema validation,',
    '  inventory apply, group-commit write to SQLite in WAL mode, reply), no TCP; one heartbeat in',
    "  flight per cluster. `full`: every heartbeat changes one pod (document, summary and that pod's",
    '  rows rewritten). `same`: inventory unchanged, fresh usage (liveness columns only).',
    '- JSON.parse: the same body strings in a loop on the same core, in the same run.',
    '- HTTP floor: the same requests, same concurrency, to a bare Fastify route that only parses the',
    '  body and answers a constant (no auth, validation or storage): the ceiling `app.inject()` allows.',
    '',
    '| cluster | mode | body | clusters | JSON.parse/s | HTTP floor/s | ingest/s | ingest / parse | ingest / floor | p50 | p99 |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.size} | ${r.mode} | ${(r.bodyBytes / 1024).toFixed(1)} KB | ${r.clusters} | ${r.parsePerSecond.toFixed(0)} | ` +
        `${r.floorPerSecond.toFixed(0)} | ${r.ingestPerSecond.toFixed(0)} | ` +
        `${((100 * r.ingestPerSecond) / r.parsePerSecond).toFixed(0)} % | ` +
        `${((100 * r.ingestPerSecond) / r.floorPerSecond).toFixed(0)} % | ${r.p50Ms.toFixed(1)} ms | ${r.p99Ms.toFixed(1)} ms |`,
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
