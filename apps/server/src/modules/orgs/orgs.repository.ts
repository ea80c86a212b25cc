import type { Kysely } from 'kysely';
import type { Database, OrgsTable } from '../../db/schema.js';

export type OrgRow = OrgsTable;
export type MembershipRow = { org_id: string; role: 'owner' | 'admin' | 'member' | 'viewer'; path: string };

export class OrgsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: OrgRow): Promise<void> {
    await this.db.insertInto('orgs').values(row).execute();
  }

  findById(id: string): Promise<OrgRow | undefined> {
    return this.db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByIds(ids: string[]): Promise<OrgRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('orgs').selectAll().where('id', 'in', ids).orderBy('path').execute();
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

  async addMember(orgId: string, userId: string, role: MembershipRow['role'], nowMs: number): Promise<void> {
    await this.db
      .insertInto('memberships')
      .values({ org_id: orgId, user_id: userId, role, created_at: nowMs })
      .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }
}

/** Ids are uuids and paths are built from them, so `%`/`_` never occur; escape anyway. */
function escapeLike(s: string): string {
  return s.replace(/[%_\\]/g, (c) => `\\${c}`);
}
