import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // Suppressed runtime findings (DESIGN 6): per rule and object, for one cluster or (cluster_id
  // null) every cluster of the org. Applied when findings are listed, never when they are stored.
  await db.schema
    .createTable('suppressions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.references('clusters.id').onDelete('cascade'))
    // cluster_id, or '' for the whole org: NULLs never collide in a unique index on either dialect.
    .addColumn('cluster_key', 'text', (c) => c.notNull())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('object_kind', 'text', (c) => c.notNull())
    .addColumn('object_namespace', 'text', (c) => c.notNull())
    .addColumn('object_name', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('suppressions_unique')
    .on('suppressions')
    .columns(['org_id', 'cluster_key', 'rule_id', 'object_kind', 'object_namespace', 'object_name'])
    .unique()
    .execute();
  // Listing findings looks up, per finding, the suppressions of its rule and object.
  await db.schema
    .createIndex('suppressions_rule_object')
    .on('suppressions')
    .columns(['rule_id', 'object_name', 'object_namespace'])
    .execute();
  await db.schema.createIndex('suppressions_cluster').on('suppressions').column('cluster_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('suppressions').ifExists().execute();
}
