import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // Runtime policy findings (DESIGN 6): one row per finding and lifetime; a finding that
  // disappears is closed, and one that comes back later is a new row.
  await db.schema
    .createTable('findings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('object_kind', 'text', (c) => c.notNull())
    .addColumn('object_namespace', 'text', (c) => c.notNull())
    .addColumn('object_name', 'text', (c) => c.notNull())
    .addColumn('object_key', 'text', (c) => c.notNull())
    .addColumn('container', 'text')
    .addColumn('path', 'text')
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('severity_rank', 'integer', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    // Equals fingerprint while open, null once closed: the unique index keeps one open finding
    // per fingerprint (NULLs never collide on either dialect), as incidents do.
    .addColumn('open_fingerprint', 'text', (c) => c.unique())
    .addColumn('deployment_id', 'text')
    .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('closed_at', 'bigint')
    .execute();
  // Re-evaluating one workload reads its open findings.
  await db.schema.createIndex('findings_cluster_object').on('findings').columns(['cluster_id', 'object_key']).execute();
  // Listings of one cluster, most severe first (keyset on rank and id).
  await db.schema
    .createIndex('findings_cluster_rank')
    .on('findings')
    .columns(['cluster_id', 'severity_rank', 'id'])
    .execute();
  await db.schema.createIndex('findings_deployment').on('findings').column('deployment_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('findings').ifExists().execute();
}
