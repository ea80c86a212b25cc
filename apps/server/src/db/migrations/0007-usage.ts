import { SqliteAdapter, sql, type Kysely } from 'kysely';

/** SQLite keeps these rows in their primary-key b-tree alone: no rowid, no second copy of the key. */
const sqlWithoutRowid = sql`without rowid`;

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // Usage history for the dashboard's charts (ADR 0010), times in epoch seconds. Raw cluster
  // samples are narrow rows kept an hour; pods' raw samples one packed row per cluster and minute;
  // 5-minute buckets one packed row per series and hour (modules/usage/usage.codec.ts), kept a
  // day. All of it goes with its cluster.
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  const bytes = sqlite ? 'blob' : 'bytea';

  await db.schema
    .createTable('usage_cluster_samples')
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('at_s', 'bigint', (c) => c.notNull())
    .addColumn('cpu_milli', 'bigint')
    .addColumn('memory_bytes', 'bigint')
    .addColumn('pods_running', 'integer')
    .addPrimaryKeyConstraint('usage_cluster_samples_pk', ['cluster_id', 'at_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();
  await db.schema.createIndex('usage_cluster_samples_at').on('usage_cluster_samples').column('at_s').execute();

  // No index on hour_s: the rollup prunes whole hours once an hour, a scan of a small table.
  await db.schema
    .createTable('usage_cluster_hours')
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('hour_s', 'bigint', (c) => c.notNull())
    .addColumn('data', bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_cluster_hours_pk', ['cluster_id', 'hour_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();

  // One integer id per pod, so pod rows do not repeat the cluster id, namespace and name.
  await db.schema
    .createTable('usage_pod_series')
    .addColumn('id', sqlite ? 'integer' : 'bigint', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedAlwaysAsIdentity(),
    )
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('pod', 'text', (c) => c.notNull())
    .addColumn('seen_s', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('usage_pod_series_key', ['cluster_id', 'namespace', 'pod'])
    .execute();

  await db.schema
    .createTable('usage_pod_samples')
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('at_s', 'bigint', (c) => c.notNull())
    .addColumn('data', bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_pod_samples_pk', ['cluster_id', 'at_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();
  await db.schema.createIndex('usage_pod_samples_at').on('usage_pod_samples').column('at_s').execute();

  // The key starts with the series: a pod's day is one range, and deleting a series (its cluster)
  // cascades through the primary key. No index on hour_s (see usage_cluster_hours).
  await db.schema
    .createTable('usage_pod_hours')
    .addColumn('series_id', 'bigint', (c) => c.notNull().references('usage_pod_series.id').onDelete('cascade'))
    .addColumn('hour_s', 'bigint', (c) => c.notNull())
    .addColumn('data', bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_pod_hours_pk', ['series_id', 'hour_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('usage_pod_hours').ifExists().execute();
  await db.schema.dropTable('usage_pod_samples').ifExists().execute();
  await db.schema.dropTable('usage_pod_series').ifExists().execute();
  await db.schema.dropTable('usage_cluster_hours').ifExists().execute();
  await db.schema.dropTable('usage_cluster_samples').ifExists().execute();
}
