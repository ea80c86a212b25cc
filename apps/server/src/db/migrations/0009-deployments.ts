import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // A managed workload: the source it is built from, the outcome of its latest apply, and what
  // the heartbeats and diffs say about it since. Archived rows (deleted or no longer managed)
  // keep their history.
  await db.schema
    .createTable('deployments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('source_type', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('git_credential', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('lifecycle', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('applied_revision', 'integer')
    .addColumn('rollout_state', 'text', (c) => c.notNull())
    .addColumn('rollout_revision', 'integer')
    .addColumn('rollout_started_at', 'bigint')
    .addColumn('rollout_deadline_at', 'bigint')
    .addColumn('rollout_ready_at', 'bigint')
    .addColumn('rollout_generations', 'text')
    .addColumn('drift_state', 'text', (c) => c.notNull())
    .addColumn('drift_checked_at', 'bigint')
    .addColumn('drift_objects', 'text')
    .addColumn('drift_command_id', 'text')
    .addColumn('delete_command_id', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('archived_at', 'bigint')
    .execute();
  // One managed deployment per name and namespace of a cluster; archived ones do not count.
  await db.schema
    .createIndex('deployments_cluster_namespace_name')
    .on('deployments')
    .columns(['cluster_id', 'namespace', 'name'])
    .unique()
    .where(sql.ref('archived_at'), 'is', null)
    .execute();
  await db.schema.createIndex('deployments_org').on('deployments').columns(['org_id', 'name']).execute();
  // The rollout watch reads the deployments whose rollout is under way.
  await db.schema.createIndex('deployments_rollout').on('deployments').columns(['rollout_state']).execute();

  // Every apply stores one immutable revision: what was applied, where it came from, the policy
  // findings at the time, and the agent's per-object results.
  await db.schema
    .createTable('deployment_revisions')
    .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_by_label', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('manifests', 'text', (c) => c.notNull())
    .addColumn('findings', 'text', (c) => c.notNull())
    .addColumn('manifest_errors', 'text', (c) => c.notNull())
    .addColumn('command_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('objects', 'text')
    .addColumn('error', 'text')
    .addColumn('completed_at', 'bigint')
    .addColumn('rollback_of', 'integer')
    .addColumn('prune', 'integer', (c) => c.notNull())
    .addColumn('message', 'text')
    .addPrimaryKeyConstraint('deployment_revisions_pk', ['deployment_id', 'revision'])
    .execute();
  await db.schema
    .createIndex('deployment_revisions_command')
    .on('deployment_revisions')
    .columns(['command_id'])
    .execute();

  // Manifests that must reach the agent but must not rest in the clear (registry pull Secrets):
  // sealed with the secret box, opened when the command is delivered, never shown by the API.
  await db.schema.alterTable('commands').addColumn('sealed_manifests', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('commands').dropColumn('sealed_manifests').execute();
  await db.schema.dropTable('deployment_revisions').ifExists().execute();
  await db.schema.dropTable('deployments').ifExists().execute();
}
