import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import type { Database, RegistriesTable } from '../../db/schema.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { AuditService } from '../audit/audit.service.js';

export type RegistryRow = RegistriesTable;

/** Writes that must commit together, inside one transaction. */
export type RegistriesUnitOfWork = { registries: RegistriesRepository; audit: AuditService };

/** The only SQL of registries. */
export class RegistriesRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  transaction<T>(fn: (tx: RegistriesUnitOfWork) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) =>
      fn({
        registries: new RegistriesRepository(trx, this.clock),
        audit: new AuditService(new AuditRepository(trx), this.clock),
      }),
    );
  }

  /** Inserts the row; 'name_taken' when the org already has a registry of that name. */
  async insert(row: RegistryRow): Promise<'ok' | 'name_taken'> {
    try {
      await this.db.insertInto('registries').values(row).execute();
      return 'ok';
    } catch (err) {
      if (isUniqueViolation(err)) return 'name_taken';
      throw err;
    }
  }

  find(id: string): Promise<RegistryRow | undefined> {
    return this.db.selectFrom('registries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async nameTaken(orgId: string, name: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('registries')
      .select('id')
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row !== undefined;
  }

  list(orgIds: readonly string[]): Promise<RegistryRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('registries')
      .selectAll()
      .where('org_id', 'in', orgIds)
      .orderBy('name')
      .orderBy('id')
      .execute();
  }

  async markVerified(id: string, at: number, secret?: string): Promise<boolean> {
    const r = await this.db
      .updateTable('registries')
      .set(secret === undefined ? { last_verified_at: at } : { last_verified_at: at, secret })
      .where('id', '=', id)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('registries').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }
}

function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  return err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === '23505';
}
