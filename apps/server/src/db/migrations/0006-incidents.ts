import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // The evidence bundle captured when an incident opens (JSON), and when its opening and its
  // resolution were handed to the notifications outbox: a transition whose notification was not
  // enqueued in its own transaction (the heartbeat ingest resolves cluster_offline on its own) is
  // found by the status job's sweep and notified once.
  await db.schema.alterTable('incidents').addColumn('evidence', 'text').execute();
  await db.schema.alterTable('incidents').addColumn('open_notified_at', 'bigint').execute();
  await db.schema.alterTable('incidents').addColumn('resolve_notified_at', 'bigint').execute();
  // Incidents from before this migration are not notified again.
  await sql`update incidents set open_notified_at = opened_at`.execute(db);
  await sql`update incidents set resolve_notified_at = resolved_at where resolved_at is not null`.execute(db);
  await db.schema.createIndex('incidents_open_notified').on('incidents').column('open_notified_at').execute();
  await db.schema.createIndex('incidents_resolve_notified').on('incidents').column('resolve_notified_at').execute();
  // Listings: newest first, per org.
  await db.schema.createIndex('incidents_org_opened').on('incidents').columns(['org_id', 'opened_at', 'id']).execute();

  // Each incident's timeline: opened, acknowledged, evidence added, notified, resolved.
  await db.schema
    .createTable('incident_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('details', 'text')
    .execute();
  await db.schema
    .createIndex('incident_events_incident')
    .on('incident_events')
    .columns(['incident_id', 'at'])
    .execute();

  // Detection thresholds per org (JSON); defaults apply where an org has no row or omits a field.
  await db.schema
    .createTable('org_incident_settings')
    .addColumn('org_id', 'text', (c) => c.primaryKey().references('orgs.id').onDelete('cascade'))
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('org_incident_settings').ifExists().execute();
  await db.schema.dropTable('incident_events').ifExists().execute();
  await db.schema.dropIndex('incidents_org_opened').ifExists().execute();
  await db.schema.dropIndex('incidents_resolve_notified').ifExists().execute();
  await db.schema.dropIndex('incidents_open_notified').ifExists().execute();
  await db.schema.alterTable('incidents').dropColumn('resolve_notified_at').execute();
  await db.schema.alterTable('incidents').dropColumn('open_notified_at').execute();
  await db.schema.alterTable('incidents').dropColumn('evidence').execute();
}
