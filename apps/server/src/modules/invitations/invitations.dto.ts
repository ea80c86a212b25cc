import type { Invitation, InvitationPreview } from '@niro/protocol';
import { iso } from '../../clock.js';
import type { InvitationListRow } from './invitations.repository.js';
import type { InvitationPreview as Preview } from './invitations.service.js';

export function toInvitationDto(row: InvitationListRow, nowMs: number): Invitation {
  return {
    id: row.id,
    orgId: row.org_id,
    email: row.email,
    role: row.role,
    createdAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
    createdBy: row.created_by_email,
    expired: row.expires_at <= nowMs,
  };
}

export function toInvitationPreviewDto({ row, existingUser }: Preview): InvitationPreview {
  return { orgName: row.org_name, email: row.email, role: row.role, expiresAt: iso(row.expires_at), existingUser };
}
