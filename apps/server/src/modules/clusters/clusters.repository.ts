import { sql, type Kysely } from 'kysely';
import type { ClustersTable, Database, EnrollmentTokensTable } from '../../db/schema.js';

export type ClusterRow = ClustersTable;
export type EnrollmentTokenRow = EnrollmentTokensTable;

export type ClusterListFilter = {
  environment?: ClusterRow['environment'];
  status?: ClusterRow['status'];
  /** Part of the name, matched case-insensitively. */
  nameContains?: string;
};

export type ClusterPatch = Partial<Pick<ClusterRow, 'name' | 'environment' | 'labels'>> & { updated_at: number };

export type AgentEnrollment = {
  agentKeyHash: string;
  clusterUid: string;
  kubernetesVersion: string;
  distribution: string;
  agentVersion: string;
};

/** Tables that hold data about one cluster and go with it when it is deleted. */
const CLUSTER_DATA_TABLES = [
  'cluster_pods',
  'cluster_images',
  'cluster_snapshots',
  'enrollment_tokens',
  'incidents',
] as const;

export class ClustersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts a cluster with its first enrollment token in one transaction. */
  async insertWithToken(cluster: ClusterRow, token: EnrollmentTokenRow): Promise<'ok' | 'name_taken'> {
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto('clusters').values(cluster).execute();
        await trx.insertInto('enrollment_tokens').values(token).execute();
      });
      return 'ok';
    } catch (err) {
      if (isUniqueViolation(err)) return 'name_taken';
      throw err;
    }
  }

  findById(id: string): Promise<ClusterRow | undefined> {
    return this.db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async nameTaken(orgId: string, name: string, exceptId?: string): Promise<boolean> {
    let q = this.db.selectFrom('clusters').select('id').where('org_id', '=', orgId).where('name', '=', name);
    if (exceptId !== undefined) q = q.where('id', '<>', exceptId);
    return (await q.executeTakeFirst()) !== undefined;
  }

  /** Clusters of the given orgs, by name; one statement over the (org_id, name) index. */
  list(orgIds: readonly string[], filter: ClusterListFilter): Promise<ClusterRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    let q = this.db.selectFrom('clusters').selectAll().where('org_id', 'in', orgIds);
    if (filter.environment !== undefined) q = q.where('environment', '=', filter.environment);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.nameContains !== undefined && filter.nameContains !== '') {
      const pattern = `%${escapeLike(filter.nameContains.toLowerCase())}%`;
      q = q.where(sql<boolean>`lower(${sql.ref('name')}) like ${pattern} escape '\\'`);
    }
    return q.orderBy('name').orderBy('id').execute();
  }

  /** One UPDATE; the unique (org_id, name) index decides races between two renames. */
  async update(id: string, patch: ClusterPatch): Promise<'ok' | 'name_taken' | 'not_found'> {
    try {
      const res = await this.db.updateTable('clusters').set(patch).where('id', '=', id).executeTakeFirst();
      return Number(res.numUpdatedRows) === 1 ? 'ok' : 'not_found';
    } catch (err) {
      if (isUniqueViolation(err)) return 'name_taken';
      throw err;
    }
  }

  /** Deletes the cluster and everything stored about it; its agent key goes with the row. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      for (const table of CLUSTER_DATA_TABLES) {
        await trx.deleteFrom(table).where('cluster_id', '=', id).execute();
      }
      const res = await trx.deleteFrom('clusters').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) === 1;
    });
  }

  /** Adds a token for re-enrollment and makes every older unused token of the cluster expire now. */
  async replaceEnrollmentToken(token: EnrollmentTokenRow): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('enrollment_tokens')
        .set({ expires_at: token.created_at })
        .where('cluster_id', '=', token.cluster_id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', token.created_at)
        .execute();
      await trx.insertInto('enrollment_tokens').values(token).execute();
    });
  }

  /**
   * Spends a token and stores the new agent key, atomically: the conditional UPDATE lets exactly
   * one of several concurrent callers through (SQLite serializes writers; PostgreSQL re-checks
   * `used_at IS NULL` after waiting on the row lock). Returns null, having changed nothing, when
   * the token is unknown, used or expired.
   */
  async redeemEnrollmentToken(
    tokenHash: string,
    nowMs: number,
    agent: AgentEnrollment,
  ): Promise<{ before: ClusterRow; after: ClusterRow } | null> {
    return this.db.transaction().execute(async (trx) => {
      const spent = await trx
        .updateTable('enrollment_tokens')
        .set({ used_at: nowMs })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', nowMs)
        .returning('cluster_id')
        .execute();
      const clusterId = spent.length === 1 ? spent[0]?.cluster_id : undefined;
      if (clusterId === undefined) return null;
      const before = await trx.selectFrom('clusters').selectAll().where('id', '=', clusterId).executeTakeFirstOrThrow();
      await trx
        .updateTable('clusters')
        .set({
          agent_key_hash: agent.agentKeyHash,
          enrolled_at: nowMs,
          cluster_uid: agent.clusterUid,
          kubernetes_version: agent.kubernetesVersion,
          distribution: agent.distribution,
          agent_version: agent.agentVersion,
          // A new agent process numbers its heartbeats afresh.
          last_seq: null,
          updated_at: nowMs,
        })
        .where('id', '=', clusterId)
        .execute();
      const after = await trx.selectFrom('clusters').selectAll().where('id', '=', clusterId).executeTakeFirstOrThrow();
      return { before, after };
    });
  }

  /** For the audit trail of a refused enrollment: which cluster the token belonged to, if any. */
  findTokenByHash(tokenHash: string): Promise<(EnrollmentTokenRow & { org_id: string }) | undefined> {
    return this.db
      .selectFrom('enrollment_tokens')
      .innerJoin('clusters', 'clusters.id', 'enrollment_tokens.cluster_id')
      .selectAll('enrollment_tokens')
      .select('clusters.org_id')
      .where('enrollment_tokens.token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  async snapshotDoc(clusterId: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('cluster_snapshots')
      .select('doc')
      .where('cluster_id', '=', clusterId)
      .executeTakeFirst();
    return row?.doc ?? null;
  }
}

/** Unique-constraint violations on SQLite and PostgreSQL. */
function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  return err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === '23505';
}

export function escapeLike(s: string): string {
  return s.replace(/[%_\\]/g, (c) => `\\${c}`);
}
