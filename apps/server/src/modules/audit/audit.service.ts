import type { Clock } from '../../clock.js';
import { newId } from '../../lib/ids.js';
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

  list(filter: Parameters<AuditRepository['list']>[0]): Promise<AuditRow[]> {
    return this.repo.list(filter);
  }
}
