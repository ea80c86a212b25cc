import type { Kysely } from 'kysely';
import type { Database, SuppressionsTable } from '../../db/schema.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../../clock.js';

export type SuppressionRow = SuppressionsTable;

/** The fields that make a suppression unique within its org. */
export type SuppressionKey = Pick<
  SuppressionRow,
  'org_id' | 'cluster_key' | 'rule_id' | 'object_kind' | 'object_namespace' | 'object_name'
>;

/** Writes that must commit together, inside one transaction. */
export type SuppressionsUnitOfWork = { suppressions: SuppressionsRepository; audit: AuditService };

/** The only SQL of suppressions. */
export class SuppressionsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** Runs `fn` in one transaction with repositories bound to it. */
  transaction<T>(fn: (tx: SuppressionsUnitOfWork) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) =>
      fn({
        suppressions: new SuppressionsRepository(trx, this.clock),
        audit: new AuditService(new AuditRepository(trx), this.clock),
      }),
    );
  }

  async insert(row: SuppressionRow): Promise<void> {
    await this.db.insertInto('suppressions').values(row).execute();
  }

  findById(id: string): Promise<SuppressionRow | undefined> {
    return this.db.selectFrom('suppressions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByKey(key: SuppressionKey): Promise<SuppressionRow | undefined> {
    return this.db
      .selectFrom('suppressions')
      .selectAll()
      .where('org_id', '=', key.org_id)
      .where('cluster_key', '=', key.cluster_key)
      .where('rule_id', '=', key.rule_id)
      .where('object_kind', '=', key.object_kind)
      .where('object_namespace', '=', key.object_namespace)
      .where('object_name', '=', key.object_name)
      .executeTakeFirst();
  }

  /** Deletes the row; false when it was already gone. */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('suppressions').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Suppressions of the given orgs, oldest first; with `cluster`, those that apply to it: its
   * own and the cluster-less ones of its org.
   */
  list(orgIds: readonly string[], cluster?: { id: string; orgId: string }): Promise<SuppressionRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    let q = this.db.selectFrom('suppressions').selectAll();
    if (cluster === undefined) {
      q = q.where('org_id', 'in', orgIds);
    } else {
      q = q
        .where('org_id', '=', cluster.orgId)
        .where((eb) => eb.or([eb('cluster_id', '=', cluster.id), eb('cluster_id', 'is', null)]));
    }
    return q.orderBy('created_at').orderBy('id').execute();
  }
}

/** The unique index refused a second suppression of the same key (SQLite or PostgreSQL). */
export function isDuplicateSuppression(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  return err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === '23505';
}
