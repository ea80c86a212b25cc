import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Fixed-window counters in `rate_limits`, so limits hold across restarts and replicas. */
export class RateLimitRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Adds one to the counter of `key` in one statement (starting a new window when the current
   * one has ended) and returns the window it landed in.
   */
  async hit(key: string, nowMs: number, windowMs: number): Promise<{ count: number; windowStart: number }> {
    const ended = sql<boolean>`${sql.ref('rate_limits.window_start')} <= ${nowMs - windowMs}`;
    const row = await this.db
      .insertInto('rate_limits')
      .values({ key, window_start: nowMs, count: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          count: sql<number>`case when ${ended} then 1 else ${sql.ref('rate_limits.count')} + 1 end`,
          window_start: sql<number>`case when ${ended} then ${nowMs} else ${sql.ref('rate_limits.window_start')} end`,
        }),
      )
      .returning(['count', 'window_start'])
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), windowStart: Number(row.window_start) };
  }

  /** Takes back one hit of the given window (a no-op once a new window has started). */
  async refund(key: string, windowStart: number): Promise<void> {
    await this.db
      .updateTable('rate_limits')
      .set((eb) => ({ count: eb('count', '-', 1) }))
      .where('key', '=', key)
      .where('window_start', '=', windowStart)
      .where('count', '>', 0)
      .execute();
  }

  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('rate_limits').where('key', '=', key).execute();
  }

  /** Forgets windows that ended before `beforeMs` for keys starting with `prefix`. */
  async pruneEnded(prefix: string, beforeMs: number): Promise<void> {
    await this.db
      .deleteFrom('rate_limits')
      .where('key', 'like', `${prefix}%`)
      .where('window_start', '<', beforeMs)
      .execute();
  }
}
