import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('orgs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('parent_id', 'text', (c) => c.references('orgs.id'))
    .addColumn('path', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('password_changed_at', 'bigint', (c) => c.notNull())
    .addColumn('disabled_at', 'bigint')
    .execute();

  await db.schema
    .createTable('memberships')
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['org_id', 'user_id'])
    .execute();
  await db.schema.createIndex('memberships_user').on('memberships').column('user_id').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_label', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('org_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('details', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
  await db.schema.createIndex('audit_log_org').on('audit_log').columns(['org_id', 'at']).execute();

  await db.schema
    .createTable('clusters')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_changed_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('agent_key_hash', 'text', (c) => c.unique())
    .addColumn('enrolled_at', 'bigint')
    .addColumn('cluster_uid', 'text')
    .addColumn('last_heartbeat_at', 'bigint')
    .addColumn('last_seq', 'bigint')
    .addColumn('agent_version', 'text')
    .addColumn('kubernetes_version', 'text')
    .addColumn('distribution', 'text')
    .addColumn('capabilities', 'text')
    .addColumn('nodes_total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('nodes_ready', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pods_total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pods_running', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pods_pending', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pods_failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cpu_capacity_milli', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('memory_capacity_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('cpu_requests_milli', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('memory_requests_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('cpu_usage_milli', 'bigint')
    .addColumn('memory_usage_bytes', 'bigint')
    .execute();
  await db.schema.createIndex('clusters_org').on('clusters').columns(['org_id', 'name']).unique().execute();

  await db.schema
    .createTable('cluster_snapshots')
    .addColumn('cluster_id', 'text', (c) => c.primaryKey().references('clusters.id').onDelete('cascade'))
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('cluster_pods')
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('node_name', 'text')
    .addColumn('restarts', 'integer', (c) => c.notNull())
    .addColumn('ready_containers', 'integer', (c) => c.notNull())
    .addColumn('total_containers', 'integer', (c) => c.notNull())
    .addColumn('images', 'text', (c) => c.notNull())
    .addColumn('owner_kind', 'text')
    .addColumn('owner_name', 'text')
    .addColumn('started_at', 'text')
    .addPrimaryKeyConstraint('cluster_pods_pk', ['cluster_id', 'namespace', 'name'])
    .execute();
  // Covers status-filtered fleet pod listings in key order (keyset pagination without a sort).
  await db.schema
    .createIndex('cluster_pods_status')
    .on('cluster_pods')
    .columns(['status', 'cluster_id', 'namespace', 'name'])
    .execute();

  await db.schema
    .createTable('cluster_images')
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('pods', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('cluster_images_pk', ['cluster_id', 'image'])
    .execute();
  await db.schema.createIndex('cluster_images_image').on('cluster_images').column('image').execute();

  await db.schema
    .createTable('enrollment_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('created_by', 'text')
    .execute();

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text')
    .addColumn('cluster_id', 'text', (c) => c.references('clusters.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('details', 'text')
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('acknowledged_at', 'bigint')
    .addColumn('acknowledged_by', 'text')
    .addColumn('resolved_at', 'bigint')
    .addColumn('open_fingerprint', 'text', (c) => c.unique())
    .execute();
  await db.schema.createIndex('incidents_cluster').on('incidents').columns(['cluster_id', 'state']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'incidents',
    'enrollment_tokens',
    'cluster_images',
    'cluster_pods',
    'cluster_snapshots',
    'clusters',
    'audit_log',
    'rate_limits',
    'api_tokens',
    'sessions',
    'memberships',
    'users',
    'orgs',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
