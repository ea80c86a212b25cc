import { SqliteAdapter, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations describe tables that the
   current Database type may no longer match, as Kysely's docs recommend. */
export async function up(db: Kysely<any>): Promise<void> {
  // A strictly increasing sequence orders commands: ids made in the same millisecond do not.
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('commands')
    .addColumn('seq', sqlite ? 'integer' : 'bigint', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedAlwaysAsIdentity(),
    )
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text')
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .addColumn('deliveries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('redeliver_at', 'bigint')
    .addColumn('acked_at', 'bigint')
    .addColumn('completed_at', 'bigint')
    .addColumn('result', 'text')
    .addColumn('error', 'text')
    .execute();
  // Delivery (open commands of one cluster in order) and listings filtered by state.
  await db.schema
    .createIndex('commands_cluster_state')
    .on('commands')
    .columns(['cluster_id', 'state', 'seq'])
    .execute();
  // Listings of one cluster, newest first.
  await db.schema.createIndex('commands_cluster_seq').on('commands').columns(['cluster_id', 'seq']).execute();
  // Two NULL keys never collide on either dialect, so commands without a key are unconstrained.
  await db.schema
    .createIndex('commands_idempotency')
    .on('commands')
    .columns(['cluster_id', 'idempotency_key'])
    .unique()
    .execute();
  // The expiry sweep.
  await db.schema.createIndex('commands_state_expiry').on('commands').columns(['state', 'expires_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('commands').ifExists().execute();
}
