import type { Clock } from '../../clock.js';
import { newId } from '../../lib/ids.js';
import { roleAtLeast, type AccessScope } from '../orgs/access.js';
import type { AuditRepository, AuditRow } from './audit.repository.js';

export type AuditActor = {
  type: AuditRow['actor_type'];
  id: string | null;
  /** A readable name (email, token name, cluster name); never a secret. */
  label: string | null;
};

export type AuditEntry = {
  actor: AuditActor;
  action: string;
  target?: { type: string; id: string };
  orgId?: string | null;
  ip?: string | null;
  outcome?: 'success' | 'failure';
  /** Free-form context; callers must not put secrets here. */
  details?: Record<string, unknown>;
};

/** Every write through the API leaves one entry: who, what, when, from where. */
export class AuditService {
  constructor(
    private readonly repo: AuditRepository,
    private readonly clock: Clock,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    const now = this.clock.now();
    await this.repo.insert({
      id: newId(now),
      at: now,
      actor_type: entry.actor.type,
      actor_id: entry.actor.id,
      actor_label: entry.actor.label,
      action: entry.action,
      target_type: entry.target?.type ?? null,
      target_id: entry.target?.id ?? null,
      org_id: entry.orgId ?? null,
      ip: entry.ip ?? null,
      outcome: entry.outcome ?? 'success',
      details: entry.details === undefined ? null : JSON.stringify(entry.details),
    });
  }

  /**
   * Entries of the orgs where the caller is admin or owner (a parent's role counts for its
   * subtree), plus entries without an org that concern the caller. Newest first; `nextCursor`
   * continues the list.
   */
  async listFor(
    scope: AccessScope,
    query: { actor?: string; action?: string; limit: number; before?: string },
  ): Promise<{ items: AuditRow[]; nextCursor: string | null }> {
    const orgIds = scope.orgIds.filter((id) => {
      const role = scope.roleIn(id);
      return role !== null && roleAtLeast(role, 'admin');
    });
    const rows = await this.repo.list({ ...query, orgIds, userId: scope.userId, limit: query.limit + 1 });
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > query.limit && last !== undefined ? last.id : null };
  }
}
