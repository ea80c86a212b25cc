import type { Kysely } from 'kysely';
import type { Database, SessionsTable } from '../../db/schema.js';

export type SessionRow = SessionsTable;

export class SessionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: SessionRow): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute();
  }

  /** A session with its user's email and state, by the SHA-256 of the cookie value. */
  findWithUser(id: string): Promise<(SessionRow & { email: string; disabled_at: number | null }) | undefined> {
    return this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('sessions')
      .select(['users.email', 'users.disabled_at'])
      .where('sessions.id', '=', id)
      .executeTakeFirst();
  }

  async touch(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: nowMs }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('sessions').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async deleteExpiredOf(userId: string, nowMs: number): Promise<void> {
    await this.db.deleteFrom('sessions').where('user_id', '=', userId).where('expires_at', '<=', nowMs).execute();
  }
}
