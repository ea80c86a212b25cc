import type { Role } from '@niro/protocol';
import type { Clock } from '../../clock.js';
import { newId } from '../../lib/ids.js';
import { AccessScope, higherRole } from './access.js';
import type { OrgRow, OrgsRepository } from './orgs.repository.js';

export class OrgsService {
  constructor(
    private readonly repo: OrgsRepository,
    private readonly clock: Clock,
  ) {}

  async scopeFor(userId: string): Promise<AccessScope> {
    const memberships = await this.repo.membershipsOf(userId);
    const orgs = await this.repo.orgsUnder(memberships.map((m) => m.path));
    const roles = new Map<string, Role>();
    for (const org of orgs) {
      let role: Role | null = null;
      for (const m of memberships) {
        if (org.path.startsWith(m.path)) role = role === null ? m.role : higherRole(role, m.role);
      }
      if (role !== null) roles.set(org.id, role);
    }
    return new AccessScope(userId, roles);
  }

  /** Creates an org (under `parentId` when given) and makes `ownerUserId` its owner. */
  async create(name: string, parentId: string | null, ownerUserId: string | null): Promise<OrgRow> {
    const now = this.clock.now();
    const id = newId(now);
    let path = `/${id}/`;
    if (parentId !== null) {
      const parent = await this.repo.findById(parentId);
      if (!parent) throw new Error(`parent org ${parentId} does not exist`);
      path = `${parent.path}${id}/`;
    }
    const row: OrgRow = { id, parent_id: parentId, path, name, created_at: now };
    await this.repo.insert(row);
    if (ownerUserId !== null) await this.repo.addMember(id, ownerUserId, 'owner', now);
    return row;
  }

  findById(id: string): Promise<OrgRow | undefined> {
    return this.repo.findById(id);
  }

  listVisible(scope: AccessScope): Promise<OrgRow[]> {
    return this.repo.findByIds(scope.orgIds);
  }

  addMember(orgId: string, userId: string, role: Role): Promise<void> {
    return this.repo.addMember(orgId, userId, role, this.clock.now());
  }
}
