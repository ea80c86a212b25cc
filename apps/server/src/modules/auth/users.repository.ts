import { sql, type Kysely } from 'kysely';
import type { DatabaseHandle } from '../../db/database.js';
import type { ApiTokensTable, Database, OrgsTable, UsersTable } from '../../db/schema.js';

export type UserRow = UsersTable;
export type ApiTokenRow = ApiTokensTable;

export class UsersRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DatabaseHandle['dialect'],
  ) {}

  async insert(row: UserRow): Promise<void> {
    await this.db.insertInto('users').values(row).execute();
  }

  findByEmail(email: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
  }

  findById(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  countUsers(): Promise<number> {
    return this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  /**
   * Inserts the first user, a root org and the user's owner membership, only while there is no
   * user at all. Atomic: of concurrent calls exactly one returns true.
   */
  createFirstUser(user: UserRow, org: OrgsTable): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // SQLite runs one transaction at a time on our single connection; PostgreSQL needs a lock
      // that makes a second setup wait and then see the first one's user.
      if (this.dialect === 'postgres') await sql`lock table users in share row exclusive mode`.execute(trx);
      const existing = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
      if (existing !== undefined) return false;
      await trx.insertInto('users').values(user).execute();
      await trx.insertInto('orgs').values(org).execute();
      await trx
        .insertInto('memberships')
        .values({ org_id: org.id, user_id: user.id, role: 'owner', created_at: user.created_at })
        .execute();
      return true;
    });
  }

  async insertToken(row: ApiTokenRow): Promise<void> {
    await this.db.insertInto('api_tokens').values(row).execute();
  }

  /** An active token with its user, by the SHA-256 of the presented secret. */
  findActiveToken(tokenHash: string, nowMs: number): Promise<(ApiTokenRow & { email: string }) | undefined> {
    return this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select('users.email')
      .where('api_tokens.token_hash', '=', tokenHash)
      .where('api_tokens.revoked_at', 'is', null)
      .where('users.disabled_at', 'is', null)
      .where((eb) => eb.or([eb('api_tokens.expires_at', 'is', null), eb('api_tokens.expires_at', '>', nowMs)]))
      .executeTakeFirst();
  }

  async touchToken(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: nowMs }).where('id', '=', id).execute();
  }

  listTokens(userId: string): Promise<ApiTokenRow[]> {
    return this.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
  }

  /** Revokes one of the user's active tokens; undefined when there is no such token. */
  revokeToken(userId: string, id: string, nowMs: number): Promise<{ id: string; name: string } | undefined> {
    return this.db
      .updateTable('api_tokens')
      .set({ revoked_at: nowMs })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .returning(['id', 'name'])
      .executeTakeFirst();
  }
}
