import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, UsageClusterSamplesTable } from '../../db/schema.js';
import {
  BUCKET_SECONDS,
  BUCKETS_PER_HOUR,
  CLUSTER_HOUR,
  CLUSTER_MAX_FIELDS,
  decodeHour,
  decodePodSamples,
  encodeHour,
  encodePodSamples,
  hourOf,
  mergeBuckets,
  POD_HOUR,
  POD_MAX_FIELDS,
  slotOf,
  type HourLayout,
  type HourSlots,
  type PackedBucket,
  type PackedPodSample,
} from './usage.codec.js';

export { BUCKET_SECONDS } from './usage.codec.js';

export type ClusterSampleRow = UsageClusterSamplesTable;
/** A 5-minute bucket of a cluster's usage (`bucket_s` is its start). */
export type ClusterBucketRow = {
  cluster_id: string;
  bucket_s: number;
  samples: number;
  cpu_avg: number | null;
  cpu_max: number | null;
  memory_avg: number | null;
  memory_max: number | null;
  pods_avg: number | null;
  pods_max: number | null;
};
export type PodSampleRow = { series_id: number; at_s: number; cpu_milli: number; memory_bytes: number };
export type PodBucketRow = {
  series_id: number;
  bucket_s: number;
  samples: number;
  cpu_avg: number;
  memory_avg: number;
};
/** The pods' samples of one cluster in one minute: one stored row. */
export type PodMinute = { cluster_id: string; at_s: number; pods: PackedPodSample[] };

/** Rows per statement: far below SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK_ROWS = 1000;
/** A pod series is re-registered (its `seen_s` refreshed) at least this often while it reports. */
export const SERIES_REFRESH_S = 30 * 60;

export const clusterBucketToPacked = (b: ClusterBucketRow): PackedBucket => ({
  samples: b.samples,
  values: [b.cpu_avg, b.cpu_max, b.memory_avg, b.memory_max, b.pods_avg, b.pods_max],
});

const packedToClusterBucket = (clusterId: string, bucketS: number, p: PackedBucket): ClusterBucketRow => ({
  cluster_id: clusterId,
  bucket_s: bucketS,
  samples: p.samples,
  cpu_avg: p.values[0] ?? null,
  cpu_max: p.values[1] ?? null,
  memory_avg: p.values[2] ?? null,
  memory_max: p.values[3] ?? null,
  pods_avg: p.values[4] ?? null,
  pods_max: p.values[5] ?? null,
});

const packedToPodBucket = (seriesId: number, bucketS: number, p: PackedBucket): PodBucketRow => ({
  series_id: seriesId,
  bucket_s: bucketS,
  samples: p.samples,
  cpu_avg: p.values[0] ?? 0,
  memory_avg: p.values[1] ?? 0,
});

/** The buckets of stored hour rows, oldest first, from `fromS` on. */
function unpackHours<K>(
  rows: readonly { hour_s: number; data: Uint8Array }[],
  layout: HourLayout,
  fromS: number,
  toBucket: (bucketS: number, p: PackedBucket) => K,
): K[] {
  const out: K[] = [];
  const sorted = [...rows].sort((a, b) => a.hour_s - b.hour_s);
  for (const row of sorted) {
    const hourS = row.hour_s;
    decodeHour(row.data, layout).forEach((p, slot) => {
      const bucketS = hourS + slot * BUCKET_SECONDS;
      if (p !== null && bucketS >= fromS) out.push(toBucket(bucketS, p));
    });
  }
  return out;
}

/** Running sums of a bucket being built from raw samples (averages over the non-null values). */
type Sums = { samples: number; sum: number[]; n: number[]; max: number[] };

function addSample(groups: Map<number, Sums>, bucketS: number, values: readonly (number | null)[]): void {
  let g = groups.get(bucketS);
  if (g === undefined) {
    g = { samples: 0, sum: values.map(() => 0), n: values.map(() => 0), max: values.map(() => 0) };
    groups.set(bucketS, g);
  }
  g.samples++;
  values.forEach((v, f) => {
    if (v === null || g === undefined) return;
    g.sum[f] = (g.sum[f] ?? 0) + v;
    g.n[f] = (g.n[f] ?? 0) + 1;
    if ((g.n[f] ?? 0) === 1 || v > (g.max[f] ?? 0)) g.max[f] = v;
  });
}

/**
 * A bucket of raw samples. `fields` maps each stored field to the raw value it summarises and
 * whether it is that value's maximum (else its rounded average).
 */
function sumsToBucket(g: Sums, fields: readonly { of: number; max: boolean }[]): PackedBucket {
  return {
    samples: g.samples,
    values: fields.map(({ of, max }) => {
      const n = g.n[of] ?? 0;
      if (n === 0) return null;
      return max ? (g.max[of] ?? 0) : Math.round((g.sum[of] ?? 0) / n);
    }),
  };
}

const CLUSTER_FIELDS = [
  { of: 0, max: false },
  { of: 0, max: true },
  { of: 1, max: false },
  { of: 1, max: true },
  { of: 2, max: false },
  { of: 2, max: true },
] as const;
const POD_FIELDS = [
  { of: 0, max: false },
  { of: 1, max: false },
] as const;

/** Raw cluster samples of one cluster as buckets, by start. */
export function bucketClusterSamples(rows: readonly ClusterSampleRow[]): ClusterBucketRow[] {
  const groups = new Map<number, Sums>();
  for (const r of rows)
    addSample(groups, alignDown(r.at_s, BUCKET_SECONDS), [r.cpu_milli, r.memory_bytes, r.pods_running]);
  const clusterId = rows[0]?.cluster_id ?? '';
  return [...groups]
    .sort(([a], [b]) => a - b)
    .map(([bucketS, g]) => packedToClusterBucket(clusterId, bucketS, sumsToBucket(g, CLUSTER_FIELDS)));
}

/** Raw samples of one pod as buckets, by start. */
export function bucketPodSamples(rows: readonly PodSampleRow[]): PodBucketRow[] {
  const groups = new Map<number, Sums>();
  for (const r of rows) addSample(groups, alignDown(r.at_s, BUCKET_SECONDS), [r.cpu_milli, r.memory_bytes]);
  const seriesId = rows[0]?.series_id ?? 0;
  return [...groups]
    .sort(([a], [b]) => a - b)
    .map(([bucketS, g]) => packedToPodBucket(seriesId, bucketS, sumsToBucket(g, POD_FIELDS)));
}

const alignDown = (s: number, step: number): number => Math.floor(s / step) * step;

type HourTable = 'usage_cluster_hours' | 'usage_pod_hours';

/**
 * The only SQL of usage history (ADR 0010). Times are epoch seconds. Buckets are stored packed,
 * one row per series and hour (usage.codec.ts), written by the rollup only; pods' raw samples one
 * row per cluster and minute.
 */
export class UsageRepository {
  /** The hour before which this process last pruned hour rows. */
  private hoursPrunedBefore = -1;

  constructor(private readonly db: Kysely<Database>) {}

  /** Which of these clusters still exist (samples of a deleted one are dropped, not failed on). */
  async existingClusters(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('clusters').select('id').where('id', 'in', ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Stores cluster samples and pods' minutes in one transaction; a repeated (key, time) is skipped. */
  async insertSamples(clusters: readonly ClusterSampleRow[], pods: readonly PodMinute[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < clusters.length; i += CHUNK_ROWS) {
        await trx
          .insertInto('usage_cluster_samples')
          .values(clusters.slice(i, i + CHUNK_ROWS))
          .onConflict((oc) => oc.columns(['cluster_id', 'at_s']).doNothing())
          .execute();
      }
      const minutes = pods
        .filter((m) => m.pods.length > 0)
        .map((m) => ({ cluster_id: m.cluster_id, at_s: m.at_s, data: encodePodSamples(m.pods) }));
      for (let i = 0; i < minutes.length; i += CHUNK_ROWS) {
        await trx
          .insertInto('usage_pod_samples')
          .values(minutes.slice(i, i + CHUNK_ROWS))
          .onConflict((oc) => oc.columns(['cluster_id', 'at_s']).doNothing())
          .execute();
      }
    });
  }

  /**
   * Registers these pods of a cluster (creating missing series, marking all of them seen now);
   * returns every series of the cluster ("ns/name" → id and when it was last seen).
   */
  async ensureSeries(
    clusterId: string,
    pods: readonly { namespace: string; pod: string }[],
    nowS: number,
  ): Promise<Map<string, { id: number; seenS: number }>> {
    for (let i = 0; i < pods.length; i += CHUNK_ROWS) {
      const rows = pods
        .slice(i, i + CHUNK_ROWS)
        .map((p) => ({ cluster_id: clusterId, namespace: p.namespace, pod: p.pod, seen_s: nowS }));
      await this.db
        .insertInto('usage_pod_series')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['cluster_id', 'namespace', 'pod']).doUpdateSet({ seen_s: (eb) => eb.ref('excluded.seen_s') }),
        )
        .execute();
    }
    const all = await this.db
      .selectFrom('usage_pod_series')
      .select(['id', 'namespace', 'pod', 'seen_s'])
      .where('cluster_id', '=', clusterId)
      .execute();
    return new Map(all.map((r) => [`${r.namespace}/${r.pod}`, { id: Number(r.id), seenS: Number(r.seen_s) }]));
  }

  async findSeries(clusterId: string, namespace: string, pod: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('usage_pod_series')
      .select('id')
      .where('cluster_id', '=', clusterId)
      .where('namespace', '=', namespace)
      .where('pod', '=', pod)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.id);
  }

  clusterSamples(clusterId: string, fromS: number): Promise<ClusterSampleRow[]> {
    return this.db
      .selectFrom('usage_cluster_samples')
      .selectAll()
      .where('cluster_id', '=', clusterId)
      .where('at_s', '>=', fromS)
      .orderBy('at_s')
      .execute();
  }

  /** A cluster's stored buckets starting at `fromS` or later, oldest first. */
  async clusterBuckets(clusterId: string, fromS: number): Promise<ClusterBucketRow[]> {
    const rows = await this.db
      .selectFrom('usage_cluster_hours')
      .select(['hour_s', 'data'])
      .where('cluster_id', '=', clusterId)
      .where('hour_s', '>=', hourOf(fromS))
      .execute();
    return unpackHours(rows, CLUSTER_HOUR, fromS, (bucketS, p) => packedToClusterBucket(clusterId, bucketS, p));
  }

  /** One pod's raw samples from `fromS` on, oldest first (read from its cluster's minute rows). */
  async podSamples(clusterId: string, seriesId: number, fromS: number): Promise<PodSampleRow[]> {
    const rows = await this.db
      .selectFrom('usage_pod_samples')
      .select(['at_s', 'data'])
      .where('cluster_id', '=', clusterId)
      .where('at_s', '>=', fromS)
      .orderBy('at_s')
      .execute();
    const out: PodSampleRow[] = [];
    for (const row of rows) {
      const hit = decodePodSamples(row.data).find((s) => s.seriesId === seriesId);
      if (hit !== undefined)
        out.push({
          series_id: seriesId,
          at_s: Number(row.at_s),
          cpu_milli: hit.cpuMilli,
          memory_bytes: hit.memoryBytes,
        });
    }
    return out;
  }

  /** A pod's stored buckets starting at `fromS` or later, oldest first. */
  async podBuckets(seriesId: number, fromS: number): Promise<PodBucketRow[]> {
    const rows = await this.db
      .selectFrom('usage_pod_hours')
      .select(['hour_s', 'data'])
      .where('series_id', '=', seriesId)
      .where('hour_s', '>=', hourOf(fromS))
      .execute();
    return unpackHours(rows, POD_HOUR, fromS, (bucketS, p) => packedToPodBucket(seriesId, bucketS, p));
  }

  /**
   * Folds raw samples older than `boundaryS` (a bucket start) into their packed hours and
   * removes them, in one transaction: each hour row touched is read, merged (a bucket already
   * there, from a late sample, is merged weighted by its sample count) and written once.
   */
  async fold(boundaryS: number): Promise<{ clusterSamples: number; podSamples: number; hourRows: number }> {
    return this.db.transaction().execute(async (trx) => {
      // Clusters: raw rows → buckets per (cluster, bucket start).
      const raw = await trx.selectFrom('usage_cluster_samples').selectAll().where('at_s', '<', boundaryS).execute();
      const clusterGroups = new Map<string, Map<number, Sums>>();
      for (const r of raw) {
        let g = clusterGroups.get(r.cluster_id);
        if (g === undefined) clusterGroups.set(r.cluster_id, (g = new Map()));
        addSample(g, alignDown(r.at_s, BUCKET_SECONDS), [r.cpu_milli, r.memory_bytes, r.pods_running]);
      }
      const clusterFresh = new Map<string, Map<number, PackedBucket>>();
      for (const [id, groups] of clusterGroups) {
        const byBucket = new Map<number, PackedBucket>();
        for (const [bucketS, g] of groups) byBucket.set(bucketS, sumsToBucket(g, CLUSTER_FIELDS));
        clusterFresh.set(id, byBucket);
      }
      const clusterRows = await mergeIntoHours(
        trx,
        'usage_cluster_hours',
        clusterFresh,
        CLUSTER_HOUR,
        CLUSTER_MAX_FIELDS,
      );
      if (raw.length > 0) await trx.deleteFrom('usage_cluster_samples').where('at_s', '<', boundaryS).execute();

      // Pods: minute rows → buckets per (series, bucket start), for series that still exist.
      const minutes = await trx
        .selectFrom('usage_pod_samples')
        .select(['at_s', 'data'])
        .where('at_s', '<', boundaryS)
        .execute();
      const podGroups = new Map<number, Map<number, Sums>>();
      let podSamples = 0;
      for (const m of minutes) {
        const bucketS = alignDown(Number(m.at_s), BUCKET_SECONDS);
        for (const s of decodePodSamples(m.data)) {
          let g = podGroups.get(s.seriesId);
          if (g === undefined) podGroups.set(s.seriesId, (g = new Map()));
          addSample(g, bucketS, [s.cpuMilli, s.memoryBytes]);
          podSamples++;
        }
      }
      const live = await existingSeries(trx, [...podGroups.keys()]);
      const podFresh = new Map<number, Map<number, PackedBucket>>();
      for (const [id, groups] of podGroups) {
        if (!live.has(id)) continue;
        const byBucket = new Map<number, PackedBucket>();
        for (const [bucketS, g] of groups) byBucket.set(bucketS, sumsToBucket(g, POD_FIELDS));
        podFresh.set(id, byBucket);
      }
      const podRows = await mergeIntoHours(trx, 'usage_pod_hours', podFresh, POD_HOUR, POD_MAX_FIELDS);
      if (minutes.length > 0) await trx.deleteFrom('usage_pod_samples').where('at_s', '<', boundaryS).execute();
      return { clusterSamples: raw.length, podSamples, hourRows: clusterRows + podRows };
    });
  }

  /**
   * Removes hour rows wholly before `beforeS` (the first bucket of the 24-hour view), and pod
   * series last seen before `unseenBeforeS` that hold no hour any more (pods gone for a day).
   */
  async prune(beforeS: number, unseenBeforeS: number): Promise<{ hours: number; series: number }> {
    const cutoff = hourOf(beforeS);
    let hours = 0;
    // Neither hour table has an index on hour_s (about a fifth of their size; ADR 0010), so this
    // scans them: only when another hour has left the window.
    if (cutoff !== this.hoursPrunedBefore) {
      const clusters = await this.db.deleteFrom('usage_cluster_hours').where('hour_s', '<', cutoff).executeTakeFirst();
      const pods = await this.db.deleteFrom('usage_pod_hours').where('hour_s', '<', cutoff).executeTakeFirst();
      hours = Number(clusters.numDeletedRows) + Number(pods.numDeletedRows);
      this.hoursPrunedBefore = cutoff;
    }
    const series = await this.db
      .deleteFrom('usage_pod_series')
      .where('seen_s', '<', unseenBeforeS)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('usage_pod_hours')
              .select(sql`1`.as('one'))
              .whereRef('series_id', '=', 'usage_pod_series.id'),
          ),
        ),
      )
      .executeTakeFirst();
    return { hours, series: Number(series.numDeletedRows) };
  }
}

async function existingSeries(trx: Transaction<Database>, ids: readonly number[]): Promise<Set<number>> {
  const out = new Set<number>();
  for (let i = 0; i < ids.length; i += CHUNK_ROWS) {
    const rows = await trx
      .selectFrom('usage_pod_series')
      .select('id')
      .where('id', 'in', ids.slice(i, i + CHUNK_ROWS))
      .execute();
    for (const r of rows) out.add(Number(r.id));
  }
  return out;
}

/**
 * Read-modify-write of the hour rows these fresh buckets fall in: one read and one upsert per
 * chunk of series. Returns the rows written.
 */
async function mergeIntoHours<K extends string | number>(
  trx: Transaction<Database>,
  table: HourTable,
  fresh: ReadonlyMap<K, ReadonlyMap<number, PackedBucket>>,
  layout: HourLayout,
  maxFields: ReadonlySet<number>,
): Promise<number> {
  const keys = [...fresh.keys()];
  const chunk = Math.max(1, Math.floor(CHUNK_ROWS / 4));
  let written = 0;
  for (let i = 0; i < keys.length; i += chunk) {
    const part = keys.slice(i, i + chunk);
    const hours = new Set<number>();
    for (const k of part) for (const bucketS of fresh.get(k)?.keys() ?? []) hours.add(hourOf(bucketS));
    const stored = await selectHours(trx, table, part, [...hours]);
    const rows: { key: K; hour_s: number; data: Uint8Array }[] = [];
    for (const k of part) {
      const byHour = new Map<number, HourSlots>();
      for (const [bucketS, bucket] of fresh.get(k) ?? []) {
        const hourS = hourOf(bucketS);
        let slots = byHour.get(hourS);
        if (slots === undefined) {
          const old = stored.get(`${k}|${hourS}`);
          slots =
            old === undefined ? new Array<PackedBucket | null>(BUCKETS_PER_HOUR).fill(null) : decodeHour(old, layout);
          byHour.set(hourS, slots);
        }
        const slot = slotOf(bucketS);
        const there = slots[slot] ?? null;
        slots[slot] = there === null ? bucket : mergeBuckets(there, bucket, maxFields);
      }
      for (const [hourS, slots] of byHour) rows.push({ key: k, hour_s: hourS, data: encodeHour(slots, layout) });
    }
    for (let j = 0; j < rows.length; j += CHUNK_ROWS) {
      const slice = rows.slice(j, j + CHUNK_ROWS);
      if (table === 'usage_cluster_hours') {
        await trx
          .insertInto('usage_cluster_hours')
          .values(slice.map((r) => ({ cluster_id: String(r.key), hour_s: r.hour_s, data: r.data })))
          .onConflict((oc) =>
            oc.columns(['cluster_id', 'hour_s']).doUpdateSet({ data: (eb) => eb.ref('excluded.data') }),
          )
          .execute();
      } else {
        await trx
          .insertInto('usage_pod_hours')
          .values(slice.map((r) => ({ series_id: Number(r.key), hour_s: r.hour_s, data: r.data })))
          .onConflict((oc) =>
            oc.columns(['series_id', 'hour_s']).doUpdateSet({ data: (eb) => eb.ref('excluded.data') }),
          )
          .execute();
      }
    }
    written += rows.length;
  }
  return written;
}

async function selectHours<K extends string | number>(
  trx: Transaction<Database>,
  table: HourTable,
  keys: readonly K[],
  hours: readonly number[],
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (keys.length === 0 || hours.length === 0) return out;
  const rows =
    table === 'usage_cluster_hours'
      ? (
          await trx
            .selectFrom('usage_cluster_hours')
            .select(['cluster_id', 'hour_s', 'data'])
            .where('cluster_id', 'in', keys.map(String))
            .where('hour_s', 'in', hours)
            .execute()
        ).map((r) => ({ key: r.cluster_id, hour_s: r.hour_s, data: r.data }))
      : (
          await trx
            .selectFrom('usage_pod_hours')
            .select(['series_id', 'hour_s', 'data'])
            .where('series_id', 'in', keys.map(Number))
            .where('hour_s', 'in', hours)
            .execute()
        ).map((r) => ({ key: String(r.series_id), hour_s: r.hour_s, data: r.data }));
  for (const r of rows) out.set(`${String(r.key)}|${Number(r.hour_s)}`, r.data);
  return out;
}
