/**
 * Usage history (ADR 0010): what recording costs per heartbeat and what a day of history takes on
 * disk, measured on a small fleet and scaled to 1,000 clusters × 50 pods.
 *
 * The real server runs in this process (SQLite, then PostgreSQL when
 * postgres://postgres@127.0.0.1:54329/postgres answers). Phase 1 feeds the usage recorder what
 * 10 minutes of heartbeats of CLUSTERS clusters show (every 15 s, pod usage once a minute) and
 * times its writes. Phase 2 fills a full day of 5-minute buckets and an hour of raw samples for
 * the same clusters and reads the tables' sizes (SQLite: pages in use; PostgreSQL:
 * pg_total_relation_size, indexes included), then scales them.
 *
 * Prints a table; records nothing. Run: `npm run bench:usage`. `NIRO_BENCH_DB=sqlite` or
 * `postgres`: that database only.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import { sql } from 'kysely';
import { startServer, type RunningServer } from '@niro/server';

const CLUSTERS = 50;
const PODS = 50;
const TARGET_CLUSTERS = 1000;
const HEARTBEAT_S = 15;
const PG_ADMIN = 'postgres://postgres@127.0.0.1:54329/postgres';

type Observation = Parameters<RunningServer['services']['usage']['heartbeatApplied']>[0];
type Db = RunningServer['services']['database']['db'];

const TABLES = [
  'usage_cluster_samples',
  'usage_cluster_buckets',
  'usage_pod_series',
  'usage_pod_samples',
  'usage_pod_buckets',
] as const;

async function pgUrl(): Promise<{ url: string; dispose(): Promise<void> } | null> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  const name = `niro_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async dispose() {
      const a = new pg.Client({ connectionString: PG_ADMIN });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
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
    const id = `cl_bench_${i}`;
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

const podsOf = (seed: number): Record<string, [number, number]> => {
  const out: Record<string, [number, number]> = {};
  for (let p = 0; p < PODS; p++)
    out[`app-${p % 5}/pod-${p}-7d9f8c6b5-x2k4q`] = [5 + ((seed + p) % 200), 64e6 + p * 1e6];
  return out;
};

async function tableBytes(server: RunningServer): Promise<Record<string, number>> {
  const db = server.services.database.db;
  const out: Record<string, number> = {};
  if (server.services.database.dialect === 'postgres') {
    await sql`vacuum analyze`.execute(db);
    for (const t of TABLES) {
      const r = await sql<{ n: number }>`select pg_total_relation_size(${t}::regclass)::bigint as n`.execute(db);
      out[t] = Number(r.rows[0]?.n ?? 0);
    }
    return out;
  }
  // SQLite: pages in use per table and its indexes, from dbstat when compiled in, else page counts by VACUUM.
  try {
    for (const t of TABLES) {
      const r = await sql<{
        n: number;
      }>`select sum(pgsize) as n from dbstat where name = ${t} or name in (select name from sqlite_master where tbl_name = ${t} and type = 'index')`.execute(
        db,
      );
      out[t] = Number(r.rows[0]?.n ?? 0);
    }
  } catch {
    for (const t of TABLES) out[t] = Number.NaN;
  }
  return out;
}

async function run(label: string, databaseUrl: string | null): Promise<void> {
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
    const { usage } = server.services;
    const db = server.services.database.db;
    // The raw hour ends now, so the rollup job running beside the bench folds none of it.
    const start = Math.floor(Date.now() / 300_000) * 300_000 - 3_300_000;
    const ids = await insertClusters(db, start);

    // Phase 1: 10 minutes of heartbeats through the recorder.
    let rows = 0;
    let flushMs = 0;
    const beats = (10 * 60) / HEARTBEAT_S;
    for (let b = 0; b < beats; b++) {
      const at = start + 3_000_000 + b * HEARTBEAT_S * 1000;
      for (const [i, id] of ids.entries()) {
        const withPods = b % (60 / HEARTBEAT_S) === 0;
        const observation: Observation = {
          clusterId: id,
          orgId: 'bench',
          at,
          agentVersion: '0.1.0',
          logsCapability: true,
          inventory: { mode: 'same' },
          events: [],
          usage: { nodes: { n1: [1000 + i, 8e9] }, ...(withPods ? { pods: podsOf(b + i) } : {}) },
          podsRunning: () => PODS,
          held: () => undefined,
        };
        await usage.heartbeatApplied(observation);
        rows += 1 + (withPods ? PODS : 0);
      }
      const t0 = performance.now();
      await usage.flush();
      flushMs += performance.now() - t0;
    }
    const heartbeats = beats * CLUSTERS;

    // Phase 2: a full day of buckets and a full hour of raw samples.
    const series = await db.selectFrom('usage_pod_series').select('id').execute();
    const startS = start / 1000;
    for (let k = 0; k < 288; k++) {
      const bucket = startS - 86_400 + 3600 + k * 300;
      await db
        .insertInto('usage_cluster_buckets')
        .values(
          ids.map((id, i) => ({
            cluster_id: id,
            bucket_s: bucket,
            samples: 20,
            cpu_avg: 1000 + i + k,
            cpu_max: 1500 + i,
            memory_avg: 8e9 + k * 1e6,
            memory_max: 9e9,
            pods_avg: PODS,
            pods_max: PODS,
          })),
        )
        .execute();
      for (let j = 0; j < series.length; j += 1000) {
        await db
          .insertInto('usage_pod_buckets')
          .values(
            series.slice(j, j + 1000).map((s, i) => ({
              series_id: Number(s.id),
              bucket_s: bucket,
              samples: 5,
              cpu_avg: 5 + ((i + k) % 300),
              memory_avg: 64e6 + i * 1e5,
            })),
          )
          .execute();
      }
    }
    // Raw samples for the rest of the hour (phase 1 wrote 10 minutes of it).
    for (let s = 0; s < 3000; s += HEARTBEAT_S) {
      await db
        .insertInto('usage_cluster_samples')
        .values(
          ids.map((id, i) => ({
            cluster_id: id,
            at_s: startS + s,
            cpu_milli: 1000 + i,
            memory_bytes: 8e9,
            pods_running: PODS,
          })),
        )
        .execute();
      if (s % 60 !== 0) continue;
      for (let j = 0; j < series.length; j += 1000) {
        await db
          .insertInto('usage_pod_samples')
          .values(
            series
              .slice(j, j + 1000)
              .map((x, i) => ({ series_id: Number(x.id), at_s: startS + s, cpu_milli: 10 + i, memory_bytes: 64e6 })),
          )
          .execute();
      }
    }
    const bytes = await tableBytes(server);
    const counts: Record<string, number> = {};
    for (const t of TABLES) {
      const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(db);
      counts[t] = Number(r.rows[0]?.n ?? 0);
    }
    const scale = TARGET_CLUSTERS / CLUSTERS;
    let totalRows = 0;
    let totalBytes = 0;
    console.log(`\n${label}: ${CLUSTERS} clusters × ${PODS} pods, scaled ×${scale} to ${TARGET_CLUSTERS} clusters`);
    console.log(
      `  recording: ${heartbeats} heartbeats, ${rows} rows (${(rows / heartbeats).toFixed(1)} per heartbeat), ` +
        `${(flushMs / heartbeats).toFixed(3)} ms of batched writes per heartbeat`,
    );
    for (const t of TABLES) {
      const n = (counts[t] ?? 0) * scale;
      const b = (bytes[t] ?? 0) * scale;
      totalRows += n;
      totalBytes += b;
      const perRow = (bytes[t] ?? 0) / Math.max(1, counts[t] ?? 0);
      console.log(
        `  ${t.padEnd(22)} ${n.toLocaleString('en').padStart(12)} rows ${(b / 1e6).toFixed(0).padStart(7)} MB  (${perRow.toFixed(0)} B/row)`,
      );
    }
    console.log(
      `  total                  ${totalRows.toLocaleString('en').padStart(12)} rows ${(totalBytes / 1e6).toFixed(0).padStart(7)} MB`,
    );
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.env.NIRO_BENCH_DB;
if (only !== 'postgres') await run('SQLite', null);
if (only !== 'sqlite') {
  const pgDb = await pgUrl();
  if (pgDb === null) console.log('\nPostgreSQL: skipped (no server at the test URL)');
  else {
    try {
      await run('PostgreSQL', pgDb.url);
    } finally {
      await pgDb.dispose();
    }
  }
}
