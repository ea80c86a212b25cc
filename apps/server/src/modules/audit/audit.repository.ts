import type { Kysely } from 'kysely';
import type { AuditLogTable, Database } from '../../db/schema.js';

export type AuditRow = AuditLogTable;

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: AuditRow): Promise<void> {
    await this.db.insertInto('audit_log').values(row).execute();
  }

  list(filter: {
    orgIds: string[] | null;
    actor?: string;
    action?: string;
    limit: number;
    before?: string;
  }): Promise<AuditRow[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (filter.orgIds !== null) q = q.where('org_id', 'in', filter.orgIds.length ? filter.orgIds : ['']);
    if (filter.actor !== undefined)
      q = q.where((eb) => eb.or([eb('actor_id', '=', filter.actor ?? ''), eb('actor_label', '=', filter.actor ?? '')]));
    if (filter.action !== undefined) q = q.where('action', '=', filter.action);
    if (filter.before !== undefined) q = q.where('id', '<', filter.before);
    return q.orderBy('id', 'desc').limit(filter.limit).execute();
  }
}
