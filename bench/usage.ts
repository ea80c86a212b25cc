/**
 * Usage history (ADR 0010): what recording costs per heartbeat, what a rollup run costs, and what
 * a day of history takes on disk, measured on a small fleet and scaled to 1,000 clusters × 50 pods;
 * against the earlier row-per-bucket layout filled with the same figures in the same run.
 *
 * The real server runs in this process (SQLite, then PostgreSQL when
 * postgres://postgres@127.0.0.1:54329/postgres answers), its own rollup job stopped. Phase 1 feeds
 * the usage recorder what 10 minutes of heartbeats of CLUSTERS clusters show (every 15 s, pod
 * usage once a minute) and times its writes. Phase 2 writes the 24 hours before through the same
 * repository (raw samples, then a fold every simulated 5 minutes, timed) and an hour of raw
 * samples, then copies the same figures into the old layout's tables (baseline_*: one row per
 * bucket and per pod sample) and reads every table's size, both compacted (SQLite: VACUUM, pages in
 * use from dbstat; PostgreSQL: VACUUM FULL, pg_total_relation_size; indexes included), then scales them.
 *
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:usage`. `NIRO_BENCH_DB=sqlite`
 * or `postgres`: that database only. `NIRO_BENCH_QUICK=1`: nothing recorded.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { sql } from 'kysely';
import { startServer, type RunningServer } from '@niro/server';
import { CLUSTER_HOUR, decodeHour, decodePodSamples, POD_HOUR } from '../apps/server/src/modules/usage/usage.codec.js';
import { UsageRepository, type PodMinute } from '../apps/server/src/modules/usage/usage.repository.js';
import { formatLoad, machineLine } from './machine.js';
import { runOnSqliteThenPostgres } from './postgres-database.js';

const CLUSTERS = 50;
const PODS = 50;
const TARGET_CLUSTERS = 1000;
const HEARTBEAT_S = 15;
const QUICK = process.env.NIRO_BENCH_QUICK === '1';

type Observation = Parameters<RunningServer['services']['usage']['heartbeatApplied']>[0];
type Db = RunningServer['services']['database']['db'];

/** Tables of the current layout, and what each is compared with in the old one. */
const TABLES = [
  { table: 'usage_cluster_samples', baseline: 'usage_cluster_samples', label: 'cluster samples (1 h)' },
  { table: 'usage_cluster_hours', baseline: 'baseline_usage_cluster_buckets', label: 'cluster buckets (24 h)' },
  { table: 'usage_pod_series', baseline: 'usage_pod_series', label: 'pod series' },
  { table: 'usage_pod_samples', baseline: 'baseline_usage_pod_samples', label: 'pod samples (1 h, every minute)' },
  { table: 'usage_pod_hours', baseline: 'baseline_usage_pod_buckets', label: 'pod buckets (24 h)' },
] as const;

/** mulberry32: the same figures in every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function insertClusters(db: Db, now: number): Promise<string[]> {
  const org = `org_bench_${randomBytes(4).toString('hex')}`;
  await db
    .insertInto('orgs')
    .values({ id: org, parent_id: null, path: `/${org}/`, name: org, created_at: now })
    .execute();
  const ids: string[] = [];
  for (let i = 0; i < CLUSTERS; i++) {
    // Cluster ids are UUIDs (lib/ids.ts): 36 characters in every cluster row.
    const id = randomUUID();
    ids.push(id);
    await db
      .insertInto('clusters')
      .values({
        id,
        org_id: org,
        name: `bench-${i}`,
        environment: 'unspecified',
        labels: '{}',
        status: 'healthy',
        status_changed_at: now,
        created_at: now,
        updated_at: now,
        agent_key_hash: null,
        enrolled_at: null,
        cluster_uid: null,
        last_heartbeat_at: null,
        last_seq: null,
        agent_version: null,
        kubernetes_version: null,
        distribution: null,
        capabilities: null,
        nodes_total: 3,
        nodes_ready: 3,
        pods_total: PODS,
        pods_running: PODS,
        pods_pending: 0,
        pods_failed: 0,
        cpu_capacity_milli: 12_000,
        memory_capacity_bytes: 48 * 1024 ** 3,
        cpu_requests_milli: 0,
        memory_requests_bytes: 0,
        cpu_usage_milli: null,
        memory_usage_bytes: null,
      })
      .execute();
  }
  return ids;
}

const podKey = (p: number): string => `app-${p % 5}/pod-${p}-7d9f8c6b5-x2k4q`;

/** Figures that move like real ones: CPU jitters, memory drifts by kilobytes to megabytes. */
class Fleet {
  private readonly rnd = random(7);
  private readonly podMemory: number[][];
  private readonly clusterMemory: number[];

  constructor(clusters: number) {
    this.podMemory = Array.from({ length: clusters }, () =>
      Array.from({ length: PODS }, (_, p) => 64e6 + p * 3e6 + Math.floor(this.rnd() * 1e6)),
    );
    this.clusterMemory = Array.from({ length: clusters }, () => 8e9 + Math.floor(this.rnd() * 1e9));
  }

  cluster(i: number): [number, number] {
    const m = (this.clusterMemory[i] ?? 0) + Math.floor((this.rnd() - 0.5) * 8e6);
    this.clusterMemory[i] = m;
    return [900 + i * 10 + Math.floor(this.rnd() * 400), m];
  }

  pod(i: number, p: number): [number, number] {
    const row = this.podMemory[i] ?? [];
    const m = (row[p] ?? 0) + Math.floor((this.rnd() - 0.5) * 2e6);
    row[p] = m;
    return [2 + Math.floor(this.rnd() * (20 + p * 4)), m];
  }
}

async function tableBytes(server: RunningServer, tables: readonly string[]): Promise<Record<string, number>> {
  const db = server.services.database.db;
  const out: Record<string, number> = {};
  // Both layouts compacted, so the bench's burst of deletes and updates (a day of folds within
  // minutes, no autovacuum in between) does not count.
  if (server.services.database.dialect === 'postgres') {
    await sql`vacuum full analyze`.execute(db);
    for (const t of tables) {
      const r = await sql<{ n: number }>`select pg_total_relation_size(${t}::regclass)::bigint as n`.execute(db);
      out[t] = Number(r.rows[0]?.n ?? 0);
    }
    return out;
  }
  // SQLite: pages in use per table and its indexes, from dbstat (compiled into better-sqlite3).
  await sql`vacuum`.execute(db);
  for (const t of tables) {
    const r = await sql<{
      n: number;
    }>`select sum(pgsize) as n from dbstat where name = ${t} or name in (select name from sqlite_master where tbl_name = ${t} and type = 'index')`.execute(
      db,
    );
    out[t] = Number(r.rows[0]?.n ?? 0);
  }
  return out;
}

/** The old layout (row per bucket, row per pod sample), as migration 0007 first had it. */
async function createBaseline(db: Db, sqlite: boolean): Promise<void> {
  const end = sqlite ? sql.raw(' without rowid') : sql.raw('');
  await sql`create table baseline_usage_cluster_buckets (cluster_id text not null, bucket_s bigint not null,
    samples integer not null, cpu_avg bigint, cpu_max bigint, memory_avg bigint, memory_max bigint,
    pods_avg integer, pods_max integer, primary key (cluster_id, bucket_s))${end}`.execute(db);
  await sql`create index baseline_usage_cluster_buckets_at on baseline_usage_cluster_buckets (bucket_s)`.execute(db);
  await sql`create table baseline_usage_pod_samples (series_id bigint not null, at_s bigint not null,
    cpu_milli bigint not null, memory_bytes bigint not null, primary key (series_id, at_s))${end}`.execute(db);
  await sql`create index baseline_usage_pod_samples_at on baseline_usage_pod_samples (at_s)`.execute(db);
  await sql`create table baseline_usage_pod_buckets (series_id bigint not null, bucket_s bigint not null,
    samples integer not null, cpu_avg bigint not null, memory_avg bigint not null,
    primary key (series_id, bucket_s))${end}`.execute(db);
  await sql`create index baseline_usage_pod_buckets_at on baseline_usage_pod_buckets (bucket_s)`.execute(db);
}

type Row = Record<string, number | string | null>;

async function insertRows(db: Db, table: string, rows: readonly Row[]): Promise<void> {
  const first = rows[0];
  if (first === undefined) return;
  const columns = Object.keys(first);
  const per = Math.floor(5000 / columns.length);
  for (let i = 0; i < rows.length; i += per) {
    const values = rows.slice(i, i + per).map((r) => sql`(${sql.join(columns.map((c) => sql`${r[c] ?? null}`))})`);
    await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))}) values ${sql.join(values)}`.execute(
      db,
    );
  }
}

/** Copies the packed figures into the old layout, row for row. */
async function fillBaseline(db: Db): Promise<void> {
  const clusterHours = await db.selectFrom('usage_cluster_hours').selectAll().execute();
  const clusterRows: Row[] = [];
  for (const h of clusterHours) {
    decodeHour(h.data, CLUSTER_HOUR).forEach((b, slot) => {
      if (b === null) return;
      const [cpuAvg, cpuMax, memoryAvg, memoryMax, podsAvg, podsMax] = b.values;
      clusterRows.push({
        cluster_id: h.cluster_id,
        bucket_s: h.hour_s + slot * 300,
        samples: b.samples,
        cpu_avg: cpuAvg ?? null,
        cpu_max: cpuMax ?? null,
        memory_avg: memoryAvg ?? null,
        memory_max: memoryMax ?? null,
        pods_avg: podsAvg ?? null,
        pods_max: podsMax ?? null,
      });
    });
  }
  await insertRows(db, 'baseline_usage_cluster_buckets', clusterRows);
  const podHours = await db.selectFrom('usage_pod_hours').selectAll().orderBy('hour_s').execute();
  let podRows: Row[] = [];
  for (const h of podHours) {
    decodeHour(h.data, POD_HOUR).forEach((b, slot) => {
      if (b === null) return;
      podRows.push({
        series_id: h.series_id,
        bucket_s: h.hour_s + slot * 300,
        samples: b.samples,
        cpu_avg: b.values[0] ?? 0,
        memory_avg: b.values[1] ?? 0,
      });
    });
    if (podRows.length >= 50_000) {
      await insertRows(db, 'baseline_usage_pod_buckets', podRows);
      podRows = [];
    }
  }
  await insertRows(db, 'baseline_usage_pod_buckets', podRows);
  const minutes = await db.selectFrom('usage_pod_samples').selectAll().orderBy('at_s').execute();
  const sampleRows: Row[] = [];
  for (const m of minutes)
    for (const s of decodePodSamples(m.data))
      sampleRows.push({ series_id: s.seriesId, at_s: m.at_s, cpu_milli: s.cpuMilli, memory_bytes: s.memoryBytes });
  await insertRows(db, 'baseline_usage_pod_samples', sampleRows);
}

type TableFigures = { rows: number; bytes: number; baselineRows: number; baselineBytes: number };
type RunFigures = {
  label: string;
  heartbeats: number;
  recordedRows: number;
  flushMsPerHeartbeat: number;
  folds: number;
  foldMs: number[];
  hourRowsPerFold: number;
  samplesPerFold: number;
  pruneMs: number;
  tables: Record<string, TableFigures>;
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

async function run(label: string, databaseUrl: string | null): Promise<RunFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-usage-'));
  const server = await startServer({
    config: {
      NIRO_PORT: '0',
      NIRO_HOST: '127.0.0.1',
      NIRO_DATA_DIR: dir,
      NIRO_LOG_LEVEL: 'warn',
      ...(databaseUrl === null ? {} : { NIRO_DATABASE_URL: databaseUrl }),
    },
    logger: pino({ level: 'warn' }),
  });
  try {
    // The bench folds itself, on its own clock.
    await server.jobs.usageRollup.stop();
    const { usage } = server.services;
    const db = server.services.database.db;
    const repo = new UsageRepository(db);
    const fleet = new Fleet(CLUSTERS);
    // The raw hour is [rawS, rawS + 3600); the day of buckets before it starts mid-hour, so each
    // series holds 25 hour rows, as it does most of the time.
    const rawS = Math.floor(Date.now() / 3_600_000) * 3600 - 1800;
    const ids = await insertClusters(db, rawS * 1000);

    // Phase 1: the last 10 minutes of the raw hour, through the recorder.
    let recordedRows = 0;
    let flushMs = 0;
    const beats = (10 * 60) / HEARTBEAT_S;
    for (let b = 0; b < beats; b++) {
      const at = (rawS + 3000 + b * HEARTBEAT_S) * 1000;
      const withPods = b % (60 / HEARTBEAT_S) === 0;
      for (const [i, id] of ids.entries()) {
        const pods: Record<string, [number, number]> = {};
        if (withPods) for (let p = 0; p < PODS; p++) pods[podKey(p)] = fleet.pod(i, p);
        const observation: Observation = {
          clusterId: id,
          orgId: 'bench',
          at,
          agentVersion: '0.1.0',
          logsCapability: true,
          inventory: { mode: 'same' },
          events: [],
          usage: { nodes: { n1: fleet.cluster(i) }, ...(withPods ? { pods } : {}) },
          podsRunning: () => PODS,
          held: () => undefined,
        };
        await usage.heartbeatApplied(observation);
        recordedRows += 1 + (withPods ? 1 : 0);
      }
      const t0 = performance.now();
      await usage.flush();
      flushMs += performance.now() - t0;
    }
    const heartbeats = beats * CLUSTERS;
    const series = await db.selectFrom('usage_pod_series').select(['id', 'cluster_id', 'namespace', 'pod']).execute();
    const seriesOf = new Map(series.map((s) => [`${s.cluster_id}|${s.namespace}/${s.pod}`, Number(s.id)]));

    /** Raw samples for [fromS, toS): a cluster sample per heartbeat, pods every minute. */
    async function writeRaw(fromS: number, toS: number): Promise<number> {
      const clusterRows = [];
      const minutes: PodMinute[] = [];
      for (let s = fromS; s < toS; s += HEARTBEAT_S) {
        for (const [i, id] of ids.entries()) {
          const [cpu, memory] = fleet.cluster(i);
          clusterRows.push({ cluster_id: id, at_s: s, cpu_milli: cpu, memory_bytes: memory, pods_running: PODS });
          if (s % 60 !== 0) continue;
          const minute: PodMinute = { cluster_id: id, at_s: s, pods: [] };
          for (let p = 0; p < PODS; p++) {
            const [c, m] = fleet.pod(i, p);
            minute.pods.push({ seriesId: seriesOf.get(`${id}|${podKey(p)}`) ?? 0, cpuMilli: c, memoryBytes: m });
          }
          minutes.push(minute);
        }
      }
      await repo.insertSamples(clusterRows, minutes);
      return clusterRows.length + minutes.length * PODS;
    }

    // Phase 2: the day before the raw hour, folded every 5 simulated minutes as the job does.
    const foldMs: number[] = [];
    let hourRows = 0;
    let samples = 0;
    const folds = QUICK ? 24 : 288;
    for (let k = folds; k > 0; k--) {
      const bucket = rawS - k * 300;
      samples += await writeRaw(bucket, bucket + 300);
      const t0 = performance.now();
      const folded = await repo.fold(bucket + 300);
      foldMs.push(performance.now() - t0);
      hourRows += folded.hourRows;
    }
    await writeRaw(rawS, rawS + 3000);

    await createBaseline(db, server.services.database.dialect === 'sqlite');
    await fillBaseline(db);

    const names = [...new Set(TABLES.flatMap((t) => [t.table, t.baseline]))];
    const bytes = await tableBytes(server, names);
    const counts: Record<string, number> = {};
    for (const t of names) {
      const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(db);
      counts[t] = Number(r.rows[0]?.n ?? 0);
    }
    // Pruning the oldest hour: a scan of the hour tables (they have no index on hour_s).
    const p0 = performance.now();
    await repo.prune(rawS - folds * 300 + 3600, 0);
    const pruneMs = performance.now() - p0;

    const scale = TARGET_CLUSTERS / CLUSTERS;
    const tables: Record<string, TableFigures> = {};
    for (const t of TABLES) {
      tables[t.table] = {
        rows: (counts[t.table] ?? 0) * scale,
        bytes: (bytes[t.table] ?? 0) * scale,
        baselineRows: (counts[t.baseline] ?? 0) * scale,
        baselineBytes: (bytes[t.baseline] ?? 0) * scale,
      };
    }
    return {
      label,
      heartbeats,
      recordedRows,
      flushMsPerHeartbeat: flushMs / heartbeats,
      folds,
      foldMs,
      hourRowsPerFold: hourRows / folds,
      samplesPerFold: samples / folds,
      pruneMs,
      tables,
    };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);
const count = (n: number): string => Math.round(n).toLocaleString('en');

function table(r: RunFigures): string[] {
  const lines = [
    `**${r.label}** (${CLUSTERS} clusters measured, figures ×${TARGET_CLUSTERS / CLUSTERS} for ${TARGET_CLUSTERS.toLocaleString('en')} clusters × ${PODS} pods)`,
    '',
    '| table | rows | size | old layout rows | old layout size | old / new |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  let rows = 0;
  let bytes = 0;
  let oldRows = 0;
  let oldBytes = 0;
  for (const t of TABLES) {
    const f = r.tables[t.table];
    if (f === undefined) continue;
    rows += f.rows;
    bytes += f.bytes;
    oldRows += f.baselineRows;
    oldBytes += f.baselineBytes;
    lines.push(
      `| ${t.label} (\`${t.table}\`) | ${count(f.rows)} | ${mb(f.bytes)} | ${count(f.baselineRows)} | ${mb(f.baselineBytes)} | ${(f.baselineBytes / f.bytes).toFixed(1)}× |`,
    );
  }
  lines.push(
    `| **total** | **${count(rows)}** | **${mb(bytes)}** | **${count(oldRows)}** | **${mb(oldBytes)}** | **${(oldBytes / bytes).toFixed(1)}×** |`,
  );
  const scale = TARGET_CLUSTERS / CLUSTERS;
  const fold = median(r.foldMs);
  lines.push(
    '',
    `- Recording: ${count(r.heartbeats)} heartbeats, ${(r.recordedRows / r.heartbeats).toFixed(2)} rows per heartbeat ` +
      `(a cluster sample each, a packed pod minute once a minute), ${r.flushMsPerHeartbeat.toFixed(3)} ms of batched writes per heartbeat.`,
    `- Rollup: ${r.folds} folds of 5 minutes each: ${count(r.samplesPerFold)} samples read and ${count(r.hourRowsPerFold)} hour rows ` +
      `read and rewritten per fold; median ${fold.toFixed(0)} ms, max ${Math.max(...r.foldMs).toFixed(0)} ms ` +
      `(≈ ${((fold * scale) / 1000).toFixed(1)} s per 5 minutes for ${TARGET_CLUSTERS.toLocaleString('en')} clusters, ` +
      `${count(r.hourRowsPerFold * scale)} hour rows).`,
    `- Pruning the oldest hour (a scan of both hour tables, once an hour): ${r.pruneMs.toFixed(0)} ms ` +
      `(≈ ${((r.pruneMs * scale) / 1000).toFixed(1)} s at ${TARGET_CLUSTERS.toLocaleString('en')} clusters).`,
  );
  return lines;
}

const started = performance.now();
const startLoad = os.loadavg();
const results = await runOnSqliteThenPostgres(run, () =>
  console.log('\nPostgreSQL: skipped (no server at the test URL)'),
);

const section = [
  '',
  `## ${new Date().toISOString()} — usage history storage, ${TARGET_CLUSTERS.toLocaleString('en')} clusters × ${PODS} pods × 24 h (\`npm run bench:usage\`)`,
  '',
  `- ${machineLine()}`,
  `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; at the end: ${formatLoad(os.loadavg())}.`,
  '- Server in this process, rollup job stopped. 10 minutes of heartbeats (15 s, pod usage every minute: the',
  '  worst case) through the recorder, then a simulated day written as raw samples and folded every 5 minutes',
  '  by the repository, then the last hour raw. Old layout: the same figures copied into the row-per-bucket',
  '  and row-per-sample tables that migration 0007 first had (baseline_*), in the same database.',
  '  Sizes after VACUUM (SQLite: pages in use, dbstat) and VACUUM FULL (PostgreSQL: pg_total_relation_size); indexes included.',
  '',
  ...results.flatMap((r) => [...table(r), '']),
  `Run time ${((performance.now() - started) / 1000).toFixed(0)} s.`,
];
console.log(section.join('\n'));
if (!QUICK && results.length > 0) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  fs.appendFileSync(path.join(here, 'RESULTS.md'), `${section.join('\n')}\n`);
  console.log('appended to bench/RESULTS.md');
}
