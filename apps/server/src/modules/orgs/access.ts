import type { Role } from '@niro/protocol';
import { BadRequestError, ForbiddenError, NotFoundError } from '../../errors.js';

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

export const roleAtLeast = (role: Role, min: Role): boolean => RANK[role] >= RANK[min];

export const higherRole = (a: Role, b: Role): Role => (RANK[a] >= RANK[b] ? a : b);

/**
 * What one user may see and do: their effective role in every org they can reach. A role in a
 * parent carries down the subtree; a direct membership lower in the tree wins where it is higher.
 * Siblings never see each other.
 */
export class AccessScope {
  constructor(
    readonly userId: string,
    private readonly roles: ReadonlyMap<string, Role>,
  ) {}

  get orgIds(): string[] {
    return [...this.roles.keys()];
  }

  roleIn(orgId: string): Role | null {
    return this.roles.get(orgId) ?? null;
  }

  canSee(orgId: string): boolean {
    return this.roles.has(orgId);
  }

  /**
   * Throws 404 when the org is invisible (never reveal that another tenant's object exists)
   * and 403 when visible but the role is too low.
   */
  require(orgId: string, min: Role, what = 'Resource'): Role {
    const role = this.roles.get(orgId);
    if (role === undefined) throw new NotFoundError(what);
    if (!roleAtLeast(role, min)) {
      throw new ForbiddenError('forbidden', `This needs the ${min} role; you are ${role}`);
    }
    return role;
  }

  /**
   * The org a new thing goes to: the one named (`body.orgId`, checked for `min`), or else the
   * caller's only org where they hold `min`. `action` completes "… needs the admin role", e.g.
   * "Creating a cluster".
   */
  targetOrg(orgId: string | undefined, min: Role, action: string): string {
    if (orgId !== undefined) {
      this.require(orgId, min, 'Organization');
      return orgId;
    }
    const writable = this.orgIds.filter((id) => {
      const role = this.roleIn(id);
      return role !== null && roleAtLeast(role, min);
    });
    const only = writable.length === 1 ? writable[0] : undefined;
    if (only !== undefined) return only;
    if (writable.length === 0 && this.orgIds.length > 0) {
      throw new ForbiddenError('forbidden', `${action} needs the ${min} role in an organization`);
    }
    const why =
      writable.length === 0
        ? 'you belong to no organization; create one first'
        : `you have the ${min} role in several organizations; say which one with orgId`;
    throw new BadRequestError('org_required', `Invalid request: body.orgId: is required: ${why}`, {
      fields: [{ field: 'body.orgId', message: `is required: ${why}` }],
    });
  }
}
