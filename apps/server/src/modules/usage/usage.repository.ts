import { sql, type Kysely, type RawBuilder } from 'kysely';
import type {
  Database,
  UsageClusterBucketsTable,
  UsageClusterSamplesTable,
  UsagePodBucketsTable,
  UsagePodSamplesTable,
} from '../../db/schema.js';

export type ClusterSampleRow = UsageClusterSamplesTable;
export type ClusterBucketRow = UsageClusterBucketsTable;
export type PodSampleRow = UsagePodSamplesTable;
export type PodBucketRow = UsagePodBucketsTable;

/** Seconds per bucket of the 24-hour view. */
export const BUCKET_SECONDS = 300;

/** Rows per INSERT: far below SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK_ROWS = 1000;

/** Averages of the raw rows being folded into one bucket, merged with a bucket already there. */
function mergedAverage(table: string, column: string): RawBuilder<unknown> {
  const t = `${table}.${column}`;
  const e = `excluded.${column}`;
  return sql.raw(
    `case when ${e} is null then ${t} when ${t} is null then ${e} ` +
      `else round((${t} * ${table}.samples + ${e} * excluded.samples) * 1.0 / (${table}.samples + excluded.samples)) end`,
  );
}

function mergedMax(table: string, column: string): RawBuilder<unknown> {
  const t = `${table}.${column}`;
  const e = `excluded.${column}`;
  return sql.raw(`case when ${e} is null then ${t} when ${t} is null or ${e} > ${t} then ${e} else ${t} end`);
}

const bucketOf = sql.raw(`(at_s / ${BUCKET_SECONDS}) * ${BUCKET_SECONDS}`);

/** The only SQL of usage history (ADR 0010). Times are epoch seconds. */
export class UsageRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Which of these clusters still exist (samples of a deleted one are dropped, not failed on). */
  async existingClusters(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('clusters').select('id').where('id', 'in', ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Stores cluster samples and pod samples in one transaction; a repeated (key, time) is skipped. */
  async insertSamples(clusters: readonly ClusterSampleRow[], pods: readonly PodSampleRow[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < clusters.length; i += INSERT_CHUNK_ROWS) {
        await trx
          .insertInto('usage_cluster_samples')
          .values(clusters.slice(i, i + INSERT_CHUNK_ROWS))
          .onConflict((oc) => oc.columns(['cluster_id', 'at_s']).doNothing())
          .execute();
      }
      for (let i = 0; i < pods.length; i += INSERT_CHUNK_ROWS) {
        await trx
          .insertInto('usage_pod_samples')
          .values(pods.slice(i, i + INSERT_CHUNK_ROWS))
          .onConflict((oc) => oc.columns(['series_id', 'at_s']).doNothing())
          .execute();
      }
    });
  }

  /**
   * The series ids of a cluster's pods, creating those missing; returns every series of the
   * cluster ("ns/name" → id).
   */
  async ensureSeries(
    clusterId: string,
    pods: readonly { namespace: string; pod: string }[],
    nowS: number,
  ): Promise<Map<string, number>> {
    for (let i = 0; i < pods.length; i += INSERT_CHUNK_ROWS) {
      const rows = pods
        .slice(i, i + INSERT_CHUNK_ROWS)
        .map((p) => ({ cluster_id: clusterId, namespace: p.namespace, pod: p.pod, created_s: nowS }));
      await this.db
        .insertInto('usage_pod_series')
        .values(rows)
        .onConflict((oc) => oc.columns(['cluster_id', 'namespace', 'pod']).doNothing())
        .execute();
    }
    const all = await this.db
      .selectFrom('usage_pod_series')
      .select(['id', 'namespace', 'pod'])
      .where('cluster_id', '=', clusterId)
      .execute();
    return new Map(all.map((r) => [`${r.namespace}/${r.pod}`, Number(r.id)]));
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

  clusterBuckets(clusterId: string, fromS: number): Promise<ClusterBucketRow[]> {
    return this.db
      .selectFrom('usage_cluster_buckets')
      .selectAll()
      .where('cluster_id', '=', clusterId)
      .where('bucket_s', '>=', fromS)
      .orderBy('bucket_s')
      .execute();
  }

  podSamples(seriesId: number, fromS: number): Promise<PodSampleRow[]> {
    return this.db
      .selectFrom('usage_pod_samples')
      .selectAll()
      .where('series_id', '=', seriesId)
      .where('at_s', '>=', fromS)
      .orderBy('at_s')
      .execute();
  }

  podBuckets(seriesId: number, fromS: number): Promise<PodBucketRow[]> {
    return this.db
      .selectFrom('usage_pod_buckets')
      .selectAll()
      .where('series_id', '=', seriesId)
      .where('bucket_s', '>=', fromS)
      .orderBy('bucket_s')
      .execute();
  }

  /**
   * Folds raw samples older than `boundaryS` (a bucket start) into 5-minute buckets and removes
   * them, in one transaction. Buckets never straddle the boundary; a bucket already there (a late
   * sample) is merged, weighted by its sample count.
   */
  async fold(boundaryS: number): Promise<{ clusterSamples: number; podSamples: number }> {
    return this.db.transaction().execute(async (trx) => {
      const cb = 'usage_cluster_buckets';
      await sql`
        insert into usage_cluster_buckets
          (cluster_id, bucket_s, samples, cpu_avg, cpu_max, memory_avg, memory_max, pods_avg, pods_max)
        select cluster_id, ${bucketOf}, count(*),
          round(avg(cpu_milli)), max(cpu_milli), round(avg(memory_bytes)), max(memory_bytes),
          round(avg(pods_running)), max(pods_running)
        from usage_cluster_samples
        where at_s < ${boundaryS}
        group by cluster_id, ${bucketOf}
        on conflict (cluster_id, bucket_s) do update set
          cpu_avg = ${mergedAverage(cb, 'cpu_avg')},
          cpu_max = ${mergedMax(cb, 'cpu_max')},
          memory_avg = ${mergedAverage(cb, 'memory_avg')},
          memory_max = ${mergedMax(cb, 'memory_max')},
          pods_avg = ${mergedAverage(cb, 'pods_avg')},
          pods_max = ${mergedMax(cb, 'pods_max')},
          samples = usage_cluster_buckets.samples + excluded.samples
      `.execute(trx);
      const clusters = await trx.deleteFrom('usage_cluster_samples').where('at_s', '<', boundaryS).executeTakeFirst();
      const pb = 'usage_pod_buckets';
      await sql`
        insert into usage_pod_buckets (series_id, bucket_s, samples, cpu_avg, memory_avg)
        select series_id, ${bucketOf}, count(*), round(avg(cpu_milli)), round(avg(memory_bytes))
        from usage_pod_samples
        where at_s < ${boundaryS}
        group by series_id, ${bucketOf}
        on conflict (series_id, bucket_s) do update set
          cpu_avg = ${mergedAverage(pb, 'cpu_avg')},
          memory_avg = ${mergedAverage(pb, 'memory_avg')},
          samples = usage_pod_buckets.samples + excluded.samples
      `.execute(trx);
      const pods = await trx.deleteFrom('usage_pod_samples').where('at_s', '<', boundaryS).executeTakeFirst();
      return { clusterSamples: Number(clusters.numDeletedRows), podSamples: Number(pods.numDeletedRows) };
    });
  }

  /**
   * Removes buckets that start before `beforeS`, and pod series created before `orphanBeforeS`
   * that hold no row any more (pods gone for a day).
   */
  async prune(beforeS: number, orphanBeforeS: number): Promise<{ buckets: number; series: number }> {
    const clusters = await this.db
      .deleteFrom('usage_cluster_buckets')
      .where('bucket_s', '<', beforeS)
      .executeTakeFirst();
    const pods = await this.db.deleteFrom('usage_pod_buckets').where('bucket_s', '<', beforeS).executeTakeFirst();
    const series = await this.db
      .deleteFrom('usage_pod_series')
      .where('created_s', '<', orphanBeforeS)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('usage_pod_samples')
              .select(sql`1`.as('one'))
              .whereRef('series_id', '=', 'usage_pod_series.id'),
          ),
        ),
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('usage_pod_buckets')
              .select(sql`1`.as('one'))
              .whereRef('series_id', '=', 'usage_pod_series.id'),
          ),
        ),
      )
      .executeTakeFirst();
    return {
      buckets: Number(clusters.numDeletedRows) + Number(pods.numDeletedRows),
      series: Number(series.numDeletedRows),
    };
  }
}
