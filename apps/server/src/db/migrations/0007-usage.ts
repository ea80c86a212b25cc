import { SqliteAdapter, sql, type Kysely } from 'kysely';

/** SQLite keeps these rows in their primary-key b-tree alone: no rowid, no second copy of the key. */
const sqlWithoutRowid = sql`without rowid`;

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // Usage history for the dashboard's charts (ADR 0010): narrow integer rows, times in epoch
  // seconds. Raw samples live an hour, 5-minute buckets a day; all of it goes with its cluster.
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;

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

  await db.schema
    .createTable('usage_cluster_buckets')
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('bucket_s', 'bigint', (c) => c.notNull())
    .addColumn('samples', 'integer', (c) => c.notNull())
    .addColumn('cpu_avg', 'bigint')
    .addColumn('cpu_max', 'bigint')
    .addColumn('memory_avg', 'bigint')
    .addColumn('memory_max', 'bigint')
    .addColumn('pods_avg', 'integer')
    .addColumn('pods_max', 'integer')
    .addPrimaryKeyConstraint('usage_cluster_buckets_pk', ['cluster_id', 'bucket_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();
  await db.schema.createIndex('usage_cluster_buckets_at').on('usage_cluster_buckets').column('bucket_s').execute();

  // One integer id per pod, so pod rows do not repeat the cluster id, namespace and name.
  await db.schema
    .createTable('usage_pod_series')
    .addColumn('id', sqlite ? 'integer' : 'bigint', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedAlwaysAsIdentity(),
    )
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('pod', 'text', (c) => c.notNull())
    .addColumn('created_s', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('usage_pod_series_key', ['cluster_id', 'namespace', 'pod'])
    .execute();

  await db.schema
    .createTable('usage_pod_samples')
    .addColumn('series_id', 'bigint', (c) => c.notNull().references('usage_pod_series.id').onDelete('cascade'))
    .addColumn('at_s', 'bigint', (c) => c.notNull())
    .addColumn('cpu_milli', 'bigint', (c) => c.notNull())
    .addColumn('memory_bytes', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_pod_samples_pk', ['series_id', 'at_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();
  await db.schema.createIndex('usage_pod_samples_at').on('usage_pod_samples').column('at_s').execute();

  await db.schema
    .createTable('usage_pod_buckets')
    .addColumn('series_id', 'bigint', (c) => c.notNull().references('usage_pod_series.id').onDelete('cascade'))
    .addColumn('bucket_s', 'bigint', (c) => c.notNull())
    .addColumn('samples', 'integer', (c) => c.notNull())
    .addColumn('cpu_avg', 'bigint', (c) => c.notNull())
    .addColumn('memory_avg', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_pod_buckets_pk', ['series_id', 'bucket_s'])
    .$call((b) => (sqlite ? b.modifyEnd(sqlWithoutRowid) : b))
    .execute();
  await db.schema.createIndex('usage_pod_buckets_at').on('usage_pod_buckets').column('bucket_s').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('usage_pod_buckets').ifExists().execute();
  await db.schema.dropTable('usage_pod_samples').ifExists().execute();
  await db.schema.dropTable('usage_pod_series').ifExists().execute();
  await db.schema.dropTable('usage_cluster_buckets').ifExists().execute();
  await db.schema.dropTable('usage_cluster_samples').ifExists().execute();
}
