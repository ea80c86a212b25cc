import type { Org, OrgMember } from '@niro/protocol';
import { iso } from '../../clock.js';
import type { MemberRow } from './orgs.repository.js';
import type { OrgWithRole } from './orgs.service.js';

export function toOrgDto({ org, role }: OrgWithRole): Org {
  return { id: org.id, parentId: org.parent_id, name: org.name, role, createdAt: iso(org.created_at) };
}

export function toOrgMemberDto(m: MemberRow): OrgMember {
  return { userId: m.user_id, email: m.email, name: m.name, role: m.role, createdAt: iso(m.created_at) };
}
