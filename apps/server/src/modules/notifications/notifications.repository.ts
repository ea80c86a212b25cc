import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import type { Database, NotificationChannelsTable, NotificationOutboxTable } from '../../db/schema.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { AuditService } from '../audit/audit.service.js';

export type ChannelRow = NotificationChannelsTable;
export type OutboxRow = NotificationOutboxTable;

export type ChannelPatch = Partial<
  Pick<ChannelRow, 'name' | 'min_severity' | 'filters' | 'config_ciphertext' | 'config_redacted' | 'updated_at'>
>;

/** Per channel: what waits in the outbox. */
export type OutboxCounts = { pending: number; failed: number; nextAttemptAt: number | null };

/** Writes that must commit together, inside one transaction. */
export type NotificationsUnitOfWork = { notifications: NotificationsRepository; audit: AuditService };

/** The only SQL of notifications. Works on the database or inside a caller's transaction. */
export class NotificationsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  transaction<T>(fn: (tx: NotificationsUnitOfWork) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) =>
      fn({
        notifications: new NotificationsRepository(trx, this.clock),
        audit: new AuditService(new AuditRepository(trx), this.clock),
      }),
    );
  }

  /** The same queries on another connection or transaction (the enqueue caller's). */
  on(db: Kysely<Database>): NotificationsRepository {
    return new NotificationsRepository(db, this.clock);
  }

  // --- channels ---------------------------------------------------------------------------

  async insertChannel(row: ChannelRow): Promise<void> {
    await this.db.insertInto('notification_channels').values(row).execute();
  }

  findChannel(id: string): Promise<ChannelRow | undefined> {
    return this.db.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listChannels(orgIds: readonly string[]): Promise<ChannelRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('notification_channels')
      .selectAll()
      .where('org_id', 'in', orgIds)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async updateChannel(id: string, patch: ChannelPatch): Promise<boolean> {
    const r = await this.db.updateTable('notification_channels').set(patch).where('id', '=', id).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async deleteChannel(id: string): Promise<boolean> {
    // The outbox rows go with it (ON DELETE CASCADE needs foreign keys on in SQLite, which they are).
    await this.db.deleteFrom('notification_outbox').where('channel_id', '=', id).execute();
    const r = await this.db.deleteFrom('notification_channels').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async recordChannelError(id: string, error: string, at: number): Promise<void> {
    await this.db
      .updateTable('notification_channels')
      .set({ last_error: error, last_error_at: at })
      .where('id', '=', id)
      .execute();
  }

  async recordChannelDelivered(id: string, at: number): Promise<void> {
    await this.db.updateTable('notification_channels').set({ last_delivered_at: at }).where('id', '=', id).execute();
  }

  /** Channels of these orgs; every channel when `orgIds` is null (fleet-wide incidents). */
  channelsOf(orgIds: readonly string[] | null): Promise<ChannelRow[]> {
    let q = this.db.selectFrom('notification_channels').selectAll();
    if (orgIds !== null) {
      if (orgIds.length === 0) return Promise.resolve([]);
      q = q.where('org_id', 'in', orgIds);
    }
    return q.orderBy('id').execute();
  }

  /** The org and its ancestors, from its materialized path (`/root/child/`). */
  async orgLineage(orgId: string): Promise<string[]> {
    const org = await this.db.selectFrom('orgs').select('path').where('id', '=', orgId).executeTakeFirst();
    if (org === undefined) return [];
    const ids = org.path.split('/').filter((s) => s !== '');
    return ids.includes(orgId) ? ids : [...ids, orgId];
  }

  async outboxCounts(channelIds: readonly string[]): Promise<Map<string, OutboxCounts>> {
    const out = new Map<string, OutboxCounts>();
    if (channelIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('notification_outbox')
      .select((eb) => [
        'channel_id',
        'state',
        eb.fn.countAll<number | string>().as('n'),
        eb.fn.min<number | null>('next_attempt_at').as('next'),
      ])
      .where('channel_id', 'in', channelIds)
      .where('state', 'in', ['pending', 'failed'])
      .groupBy(['channel_id', 'state'])
      .execute();
    const retryRows = await this.db
      .selectFrom('notification_outbox')
      .select((eb) => ['channel_id', eb.fn.min<number | null>('next_attempt_at').as('next')])
      .where('channel_id', 'in', channelIds)
      .where('state', '=', 'pending')
      .where('attempts', '>', 0)
      .groupBy('channel_id')
      .execute();
    for (const r of rows) {
      const c = out.get(r.channel_id) ?? { pending: 0, failed: 0, nextAttemptAt: null };
      if (r.state === 'pending') c.pending = Number(r.n);
      else c.failed = Number(r.n);
      out.set(r.channel_id, c);
    }
    for (const r of retryRows) {
      const c = out.get(r.channel_id);
      if (c !== undefined && r.next !== null) c.nextAttemptAt = Number(r.next);
    }
    return out;
  }

  // --- outbox -----------------------------------------------------------------------------

  /** Inserts the row unless the channel already has this event; true when inserted. */
  async enqueue(row: OutboxRow): Promise<boolean> {
    const r = await this.db
      .insertInto('notification_outbox')
      .values(row)
      .onConflict((oc) => oc.columns(['channel_id', 'event_id']).doNothing())
      .executeTakeFirst();
    return (r.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Pending rows that are due and not leased, oldest due first. */
  async dueIds(now: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('notification_outbox')
      .select('id')
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Takes the row for `leaseMs` and counts the attempt. A conditional UPDATE: of several
   * dispatchers (replicas) racing for one row exactly one changes it.
   */
  async claim(id: string, now: number, leaseMs: number): Promise<OutboxRow | undefined> {
    const r = await this.db
      .updateTable('notification_outbox')
      .set((eb) => ({ lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) return undefined;
    return this.db.selectFrom('notification_outbox').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async markDelivered(id: string, now: number): Promise<void> {
    await this.db
      .updateTable('notification_outbox')
      .set({ state: 'delivered', delivered_at: now, lease_until: null, last_error: null })
      .where('id', '=', id)
      .execute();
  }

  async markRetry(id: string, nextAttemptAt: number, error: string): Promise<void> {
    await this.db
      .updateTable('notification_outbox')
      .set({ next_attempt_at: nextAttemptAt, lease_until: null, last_error: error })
      .where('id', '=', id)
      .execute();
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.db
      .updateTable('notification_outbox')
      .set({ state: 'failed', lease_until: null, last_error: error })
      .where('id', '=', id)
      .execute();
  }

  findOutbox(channelId: string): Promise<OutboxRow[]> {
    return this.db
      .selectFrom('notification_outbox')
      .selectAll()
      .where('channel_id', '=', channelId)
      .orderBy('enqueued_at')
      .orderBy('id')
      .execute();
  }
}
