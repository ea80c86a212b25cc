import type { Kysely } from 'kysely';
import type { DatabaseHandle } from '../../db/database.js';
import type { Database, MembershipsTable, OrgsTable } from '../../db/schema.js';

export type OrgRow = OrgsTable;
export type RoleName = MembershipsTable['role'];
export type MembershipRow = { org_id: string; role: RoleName; path: string };
export type MemberRow = { user_id: string; email: string; name: string; role: RoleName; created_at: number };

/**
 * Decides a membership change inside the transaction that applies it, from the member's current
 * role and the org's owner count: returns the new role, 'remove', or throws to change nothing.
 */
export type MembershipDecision = (state: { current: RoleName | null; ownerCount: number }) => RoleName | 'remove';

export class OrgsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DatabaseHandle['dialect'],
  ) {}

  async insert(row: OrgRow): Promise<void> {
    await this.db.insertInto('orgs').values(row).execute();
  }

  /** The org and (when given) its owner membership, both or neither. */
  async insertWithOwner(row: OrgRow, ownerUserId: string | null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('orgs').values(row).execute();
      if (ownerUserId !== null) {
        await trx
          .insertInto('memberships')
          .values({ org_id: row.id, user_id: ownerUserId, role: 'owner', created_at: row.created_at })
          .execute();
      }
    });
  }

  findById(id: string): Promise<OrgRow | undefined> {
    return this.db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByIds(ids: string[]): Promise<OrgRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('orgs').selectAll().where('id', 'in', ids).orderBy('path').execute();
  }

  async rename(id: string, name: string): Promise<void> {
    await this.db.updateTable('orgs').set({ name }).where('id', '=', id).execute();
  }

  countOrgs(): Promise<number> {
    return this.db
      .selectFrom('orgs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  /** The user's direct memberships with each org's path. */
  membershipsOf(userId: string): Promise<MembershipRow[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
      .select(['memberships.org_id', 'memberships.role', 'orgs.path'])
      .where('memberships.user_id', '=', userId)
      .execute();
  }

  /** Every org whose path starts with one of the given prefixes (the subtrees). */
  async orgsUnder(paths: string[]): Promise<OrgRow[]> {
    if (paths.length === 0) return [];
    return this.db
      .selectFrom('orgs')
      .selectAll()
      .where((eb) => eb.or(paths.map((p) => eb('path', 'like', `${escapeLike(p)}%`))))
      .orderBy('path')
      .execute();
  }

  async addMember(orgId: string, userId: string, role: RoleName, nowMs: number): Promise<void> {
    await this.db
      .insertInto('memberships')
      .values({ org_id: orgId, user_id: userId, role, created_at: nowMs })
      .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  /** Direct members of an org with their user's email and name. */
  listMembers(orgId: string): Promise<MemberRow[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['memberships.user_id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
      .where('memberships.org_id', '=', orgId)
      .orderBy('users.email')
      .execute();
  }

  findMember(orgId: string, userId: string): Promise<MemberRow | undefined> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['memberships.user_id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
      .where('memberships.org_id', '=', orgId)
      .where('memberships.user_id', '=', userId)
      .executeTakeFirst();
  }

  findUserByEmail(email: string): Promise<{ id: string; email: string; name: string } | undefined> {
    return this.db
      .selectFrom('users')
      .select(['id', 'email', 'name'])
      .where('email', '=', email.toLowerCase())
      .executeTakeFirst();
  }

  /**
   * Adds, changes or removes one membership atomically with the decision about it, so two
   * concurrent changes can never take an org's last owner away. Returns the role before.
   */
  mutateMembership(
    orgId: string,
    userId: string,
    nowMs: number,
    decide: MembershipDecision,
  ): Promise<{ previous: RoleName | null; next: RoleName | null }> {
    return this.db.transaction().execute(async (trx) => {
      // Serializes membership changes per org on PostgreSQL; SQLite runs one transaction at a time.
      if (this.dialect === 'postgres') {
        await trx.selectFrom('orgs').select('id').where('id', '=', orgId).forUpdate().execute();
      }
      const current = await trx
        .selectFrom('memberships')
        .select('role')
        .where('org_id', '=', orgId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      const owners = await trx
        .selectFrom('memberships')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('org_id', '=', orgId)
        .where('role', '=', 'owner')
        .executeTakeFirstOrThrow();
      const previous = current?.role ?? null;
      const next = decide({ current: previous, ownerCount: Number(owners.n) });
      if (next === 'remove') {
        await trx.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
        return { previous, next: null };
      }
      await trx
        .insertInto('memberships')
        .values({ org_id: orgId, user_id: userId, role: next, created_at: nowMs })
        .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role: next }))
        .execute();
      return { previous, next };
    });
  }
}

/** Ids are uuids and paths are built from them, so `%`/`_` never occur; escape anyway. */
function escapeLike(s: string): string {
  return s.replace(/[%_\\]/g, (c) => `\\${c}`);
}
