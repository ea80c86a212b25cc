import { AUDIT_LIMIT_DEFAULT, AuditPage, AuditQuery, type AuditEntry } from '@niro/protocol';
import { iso } from '../../clock.js';
import type { App } from '../../lib/http.js';
import { isRecord } from '../../lib/validation.js';
import type { Services } from '../../services.js';
import { requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { AuditRow } from './audit.repository.js';

export function registerAuditRoutes(app: App, { audit, orgs }: Services): void {
  app.get(
    '/api/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Audit log: entries of orgs where you are admin or owner, and your own account events',
        security: SIGNED_IN,
        querystring: AuditQuery,
        response: { 200: AuditPage },
      },
    },
    async (req) => {
      const scope = await orgs.scopeFor(requirePrincipal(req).userId);
      const { actor, action, before, limit } = req.query;
      const page = await audit.listFor(scope, { actor, action, before, limit: limit ?? AUDIT_LIMIT_DEFAULT });
      return { items: page.items.map(toAuditEntryDto), nextCursor: page.nextCursor };
    },
  );
}

function toAuditEntryDto(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: iso(row.at),
    actor: { type: row.actor_type, id: row.actor_id, label: row.actor_label },
    action: row.action,
    target: row.target_type !== null && row.target_id !== null ? { type: row.target_type, id: row.target_id } : null,
    orgId: row.org_id,
    ip: row.ip,
    outcome: row.outcome,
    details: parseDetails(row.details),
  };
}

function parseDetails(details: string | null): Record<string, unknown> | null {
  if (details === null) return null;
  const parsed: unknown = JSON.parse(details);
  return isRecord(parsed) ? parsed : null;
}
