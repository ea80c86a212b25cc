import type { ApiToken, Me } from '@niro/protocol';
import { iso, isoOrNull } from '../../clock.js';
import { toOrgDto } from '../orgs/orgs.dto.js';
import type { OrgWithRole } from '../orgs/orgs.service.js';
import type { ApiTokenRow, UserRow } from './users.repository.js';

export function toMeDto({ user, orgs }: { user: UserRow; orgs: OrgWithRole[] }): Me {
  return { id: user.id, email: user.email, name: user.name, orgs: orgs.map(toOrgDto) };
}

/** Never the secret or its hash. */
export function toApiTokenDto(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    createdAt: iso(row.created_at),
    lastUsedAt: isoOrNull(row.last_used_at),
    expiresAt: isoOrNull(row.expires_at),
  };
}
