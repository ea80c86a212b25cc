import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // Notification channels (DESIGN 4.3): the config with its secrets is sealed by lib/secret-box.ts;
  // what the API shows lives beside it, redacted.
  await db.schema
    .createTable('notification_channels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('min_severity', 'text', (c) => c.notNull())
    .addColumn('filters', 'text', (c) => c.notNull())
    .addColumn('config_ciphertext', 'text', (c) => c.notNull())
    .addColumn('config_redacted', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'bigint')
    .addColumn('last_delivered_at', 'bigint')
    .execute();
  await db.schema.createIndex('notification_channels_org').on('notification_channels').column('org_id').execute();

  // The durable outbox: one row per event and channel, written in the transaction that changes the
  // incident; the dispatcher claims due rows with a lease, so several replicas never send one twice.
  await db.schema
    .createTable('notification_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('channel_id', 'text', (c) => c.notNull().references('notification_channels.id').onDelete('cascade'))
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_until', 'bigint')
    .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema
    .createIndex('notification_outbox_channel_event')
    .on('notification_outbox')
    .columns(['channel_id', 'event_id'])
    .unique()
    .execute();
  // The dispatcher's scan: pending rows by due time.
  await db.schema
    .createIndex('notification_outbox_due')
    .on('notification_outbox')
    .columns(['state', 'next_attempt_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notification_outbox').ifExists().execute();
  await db.schema.dropTable('notification_channels').ifExists().execute();
}
