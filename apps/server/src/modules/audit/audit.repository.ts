import type { Kysely } from 'kysely';
import type { AuditLogTable, Database } from '../../db/schema.js';

export type AuditRow = AuditLogTable;

export type AuditFilter = {
  /** Orgs whose entries the caller may read. */
  orgIds: string[];
  /** Entries without an org are visible to the user they concern (as actor, target, or via their tokens). */
  userId: string;
  /** A user id, an email, or an actor id/label. */
  actor?: string;
  action?: string;
  limit: number;
  /** Only entries older than this entry id (ids are time-ordered). */
  before?: string;
};

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: AuditRow): Promise<void> {
    await this.db.insertInto('audit_log').values(row).execute();
  }

  list(filter: AuditFilter): Promise<AuditRow[]> {
    const tokensOf = (userId: string) =>
      this.db.selectFrom('api_tokens').select('api_tokens.id').where('api_tokens.user_id', '=', userId);
    let q = this.db.selectFrom('audit_log').selectAll();
    q = q.where((eb) =>
      eb.or([
        ...(filter.orgIds.length > 0 ? [eb('org_id', 'in', filter.orgIds)] : []),
        eb.and([
          eb('org_id', 'is', null),
          eb.or([
            eb('actor_id', '=', filter.userId),
            eb('target_id', '=', filter.userId),
            eb('actor_id', 'in', tokensOf(filter.userId)),
            eb('target_id', 'in', tokensOf(filter.userId)),
          ]),
        ]),
      ]),
    );
    const actor = filter.actor;
    if (actor !== undefined) {
      // One user's actions whichever way they signed in: by user id or email, directly or by token.
      const tokensOfActor = this.db
        .selectFrom('api_tokens')
        .innerJoin('users', 'users.id', 'api_tokens.user_id')
        .select('api_tokens.id')
        .where((eb) => eb.or([eb('users.id', '=', actor), eb('users.email', '=', actor.toLowerCase())]));
      q = q.where((eb) =>
        eb.or([eb('actor_id', '=', actor), eb('actor_label', '=', actor), eb('actor_id', 'in', tokensOfActor)]),
      );
    }
    if (filter.action !== undefined) q = q.where('action', '=', filter.action);
    if (filter.before !== undefined) q = q.where('id', '<', filter.before);
    return q.orderBy('id', 'desc').limit(filter.limit).execute();
  }
}
