import type { Role } from '@niro/protocol';
import type { Clock } from '../../clock.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { AuditService } from '../audit/audit.service.js';
import { auditActor, type Caller } from '../auth/principal.js';
import { AccessScope, higherRole } from './access.js';
import type { MemberRow, OrgRow, OrgsRepository } from './orgs.repository.js';

export type OrgWithRole = { org: OrgRow; role: Role };

/** A new org row: its path is the parent's path plus its own id, so a subtree is a prefix. */
export function buildOrgRow(name: string, parent: OrgRow | null, nowMs: number): OrgRow {
  const id = newId(nowMs);
  return {
    id,
    parent_id: parent?.id ?? null,
    path: `${parent?.path ?? '/'}${id}/`,
    name: name.trim(),
    created_at: nowMs,
  };
}

export class OrgsService {
  constructor(
    private readonly repo: OrgsRepository,
    private readonly audit: AuditService,
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

  /** Creates an org (under `parentId` when given) and makes `ownerUserId` its owner. No checks, no audit. */
  async create(name: string, parentId: string | null, ownerUserId: string | null): Promise<OrgRow> {
    let parent: OrgRow | null = null;
    if (parentId !== null) {
      parent = (await this.repo.findById(parentId)) ?? null;
      if (parent === null) throw new NotFoundError('Parent organization');
    }
    const row = buildOrgRow(name, parent, this.clock.now());
    await this.repo.insertWithOwner(row, ownerUserId);
    return row;
  }

  findById(id: string): Promise<OrgRow | undefined> {
    return this.repo.findById(id);
  }

  listVisible(scope: AccessScope): Promise<OrgRow[]> {
    return this.repo.findByIds(scope.orgIds);
  }

  /** Adds or changes a membership without checks or audit (bootstrap and tests). */
  addMember(orgId: string, userId: string, role: Role): Promise<void> {
    return this.repo.addMember(orgId, userId, role, this.clock.now());
  }

  /** Every org the user can see, with their effective role in it, in tree order. */
  async listForUser(userId: string): Promise<OrgWithRole[]> {
    const scope = await this.scopeFor(userId);
    const rows = await this.repo.findByIds(scope.orgIds);
    return rows.flatMap((org) => {
      const role = scope.roleIn(org.id);
      return role === null ? [] : [{ org, role }];
    });
  }

  /**
   * A root org may be created by anyone signed in; a child org needs admin on its parent. The
   * creator becomes the new org's owner either way.
   */
  async createOrg(caller: Caller, input: { name: string; parentId?: string }): Promise<OrgWithRole> {
    if (input.parentId !== undefined) {
      const scope = await this.scopeFor(caller.principal.userId);
      scope.require(input.parentId, 'admin', 'Parent organization');
    }
    const org = await this.create(input.name, input.parentId ?? null, caller.principal.userId);
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'org.create',
      target: { type: 'org', id: org.id },
      orgId: org.id,
      ip: caller.ip,
      details: { name: org.name, parentId: org.parent_id },
    });
    return { org, role: 'owner' };
  }

  async getOrg(caller: Caller, orgId: string): Promise<OrgWithRole> {
    const scope = await this.scopeFor(caller.principal.userId);
    const role = scope.require(orgId, 'viewer', 'Organization');
    const org = await this.repo.findById(orgId);
    if (org === undefined) throw new NotFoundError('Organization');
    return { org, role };
  }

  async renameOrg(caller: Caller, orgId: string, name: string): Promise<OrgWithRole> {
    const scope = await this.scopeFor(caller.principal.userId);
    const role = scope.require(orgId, 'admin', 'Organization');
    const before = await this.repo.findById(orgId);
    if (before === undefined) throw new NotFoundError('Organization');
    const newName = name.trim();
    await this.repo.rename(orgId, newName);
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'org.rename',
      target: { type: 'org', id: orgId },
      orgId,
      ip: caller.ip,
      details: { from: before.name, to: newName },
    });
    return { org: { ...before, name: newName }, role };
  }

  async listMembers(caller: Caller, orgId: string): Promise<MemberRow[]> {
    const scope = await this.scopeFor(caller.principal.userId);
    scope.require(orgId, 'viewer', 'Organization');
    return this.repo.listMembers(orgId);
  }

  /**
   * Adds a user (by email) to an org or changes their role. Needs admin; granting, changing or
   * taking away the owner role needs owner; an org never loses its last owner.
   */
  async putMember(
    caller: Caller,
    orgId: string,
    input: { email: string; role: Role },
  ): Promise<{ member: MemberRow; created: boolean }> {
    const scope = await this.scopeFor(caller.principal.userId);
    const callerRole = scope.require(orgId, 'admin', 'Organization');
    if (input.role === 'owner' && callerRole !== 'owner') {
      throw new ForbiddenError('forbidden', 'Only an owner can add an owner');
    }
    const user = await this.repo.findUserByEmail(input.email.trim());
    if (user === undefined) throw new NotFoundError('User', 'user_not_found');
    const change = await this.repo.mutateMembership(orgId, user.id, this.clock.now(), ({ current, ownerCount }) => {
      if (current === 'owner' && input.role !== 'owner') {
        if (callerRole !== 'owner') throw new ForbiddenError('forbidden', 'Only an owner can change an owner');
        if (ownerCount <= 1) throw lastOwner();
      }
      return input.role;
    });
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'org.member.add',
      target: { type: 'user', id: user.id },
      orgId,
      ip: caller.ip,
      details: { email: user.email, role: input.role, previousRole: change.previous },
    });
    const member = await this.repo.findMember(orgId, user.id);
    if (member === undefined) throw new NotFoundError('Member');
    return { member, created: change.previous === null };
  }

  async removeMember(caller: Caller, orgId: string, userId: string): Promise<void> {
    const scope = await this.scopeFor(caller.principal.userId);
    const callerRole = scope.require(orgId, 'admin', 'Organization');
    const change = await this.repo.mutateMembership(orgId, userId, this.clock.now(), ({ current, ownerCount }) => {
      if (current === null) throw new NotFoundError('Member');
      if (current === 'owner') {
        if (callerRole !== 'owner') throw new ForbiddenError('forbidden', 'Only an owner can remove an owner');
        if (ownerCount <= 1) throw lastOwner();
      }
      return 'remove';
    });
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'org.member.remove',
      target: { type: 'user', id: userId },
      orgId,
      ip: caller.ip,
      details: { previousRole: change.previous },
    });
  }
}

function lastOwner(): ConflictError {
  return new ConflictError('last_owner', 'An organization must keep at least one owner; add another owner first');
}
