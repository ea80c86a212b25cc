import type { Kysely } from 'kysely';
import type { DatabaseHandle } from '../../db/database.js';
import type { Database, InvitationsTable, UsersTable } from '../../db/schema.js';
import { higherRole } from '../orgs/access.js';

export type InvitationRow = InvitationsTable;
/** A row as the settings page lists it: with the inviter's email. */
export type InvitationListRow = InvitationRow & { created_by_email: string | null };
/** A row as the public page needs it: with the org's name. */
export type InvitationWithOrg = InvitationRow & { org_name: string };

/** Who accepts: an account created by this acceptance, or one that exists. */
export type Acceptor = { kind: 'new'; user: UsersTable } | { kind: 'existing'; userId: string };

export type AcceptResult =
  | { outcome: 'accepted'; userId: string; previousRole: InvitationRow['role'] | null; role: InvitationRow['role'] }
  /** Someone else accepted it first, or it was revoked or expired meanwhile. */
  | { outcome: 'gone' }
  /** An account with the invitee's email was created after the caller looked. */
  | { outcome: 'email_taken' };

/** Thrown inside the acceptance transaction to undo it. */
class Rollback extends Error {
  constructor(readonly result: AcceptResult) {
    super('rollback');
  }
}

export class InvitationsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DatabaseHandle['dialect'],
  ) {}

  async insert(row: InvitationRow): Promise<void> {
    await this.db.insertInto('invitations').values(row).execute();
  }

  /** Neither accepted nor revoked (expired ones included), newest first. */
  listPending(orgId: string): Promise<InvitationListRow[]> {
    return this.db
      .selectFrom('invitations')
      .leftJoin('users', 'users.id', 'invitations.created_by')
      .selectAll('invitations')
      .select('users.email as created_by_email')
      .where('invitations.org_id', '=', orgId)
      .where('invitations.accepted_at', 'is', null)
      .where('invitations.revoked_at', 'is', null)
      .orderBy('invitations.created_at', 'desc')
      .orderBy('invitations.id', 'desc')
      .execute();
  }

  /** Revokes a pending invitation of the org; undefined when there is none (unknown, used or revoked). */
  revoke(orgId: string, id: string, nowMs: number): Promise<Pick<InvitationRow, 'id' | 'email' | 'role'> | undefined> {
    return this.db
      .updateTable('invitations')
      .set({ revoked_at: nowMs })
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returning(['id', 'email', 'role'])
      .executeTakeFirst();
  }

  findByTokenHash(tokenHash: string): Promise<InvitationWithOrg | undefined> {
    return this.db
      .selectFrom('invitations')
      .innerJoin('orgs', 'orgs.id', 'invitations.org_id')
      .selectAll('invitations')
      .select('orgs.name as org_name')
      .where('invitations.token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  /**
   * Accepts an invitation in one transaction: claims it with a conditional UPDATE (so of two
   * concurrent acceptances exactly one gets the row), creates the account when it is new, and
   * grants the role, keeping a higher role the user already holds directly. Nothing changes
   * unless all of it does.
   */
  async accept(invitation: InvitationRow, acceptor: Acceptor, nowMs: number): Promise<AcceptResult> {
    try {
      return await this.db.transaction().execute(async (trx): Promise<AcceptResult> => {
        const claimed = await trx
          .updateTable('invitations')
          .set({ accepted_at: nowMs })
          .where('id', '=', invitation.id)
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', nowMs)
          .returning('id')
          .executeTakeFirst();
        if (claimed === undefined) return { outcome: 'gone' };
        let userId: string;
        if (acceptor.kind === 'new') {
          const inserted = await trx
            .insertInto('users')
            .values(acceptor.user)
            .onConflict((oc) => oc.column('email').doNothing())
            .returning('id')
            .executeTakeFirst();
          if (inserted === undefined) throw new Rollback({ outcome: 'email_taken' });
          userId = inserted.id;
        } else {
          userId = acceptor.userId;
        }
        await trx.updateTable('invitations').set({ accepted_by: userId }).where('id', '=', invitation.id).execute();
        // The same per-org lock as other membership changes (OrgsRepository.mutateMembership).
        if (this.dialect === 'postgres') {
          await trx.selectFrom('orgs').select('id').where('id', '=', invitation.org_id).forUpdate().execute();
        }
        const current = await trx
          .selectFrom('memberships')
          .select('role')
          .where('org_id', '=', invitation.org_id)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        const previousRole = current?.role ?? null;
        const role = previousRole === null ? invitation.role : higherRole(previousRole, invitation.role);
        await trx
          .insertInto('memberships')
          .values({ org_id: invitation.org_id, user_id: userId, role, created_at: nowMs })
          .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role }))
          .execute();
        return { outcome: 'accepted', userId, previousRole, role };
      });
    } catch (err) {
      if (err instanceof Rollback) return err.result;
      throw err;
    }
  }
}
