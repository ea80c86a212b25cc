import type { Kysely } from 'kysely';
import type { ClustersTable, Database, FindingsTable } from '../../db/schema.js';

export type FindingRow = FindingsTable;
export type ListedFindingRow = FindingRow & { cluster_name: string | null };

/** The columns a re-evaluation may change on a finding that stays open. */
export type FindingRefresh = Pick<
  FindingRow,
  'id' | 'severity' | 'severity_rank' | 'category' | 'message' | 'deployment_id'
>;

export type FindingsListFilter = {
  clusterId?: string;
  deploymentId?: string;
  minRank?: number;
  state: 'open' | 'closed';
  /** Keyset pagination: rows after this (rank descending, id descending). */
  after?: readonly [rank: number, id: string];
  limit: number;
};

/** Statements per batch: well below SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 200;

export class FindingsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The environment of a cluster, undefined once it is deleted. */
  async clusterEnvironment(clusterId: string): Promise<ClustersTable['environment'] | undefined> {
    const row = await this.db
      .selectFrom('clusters')
      .select('environment')
      .where('id', '=', clusterId)
      .executeTakeFirst();
    return row?.environment;
  }

  /** The stored snapshot document of a cluster, or null before its first heartbeat. */
  async snapshotDoc(clusterId: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('cluster_snapshots')
      .select('doc')
      .where('cluster_id', '=', clusterId)
      .executeTakeFirst();
    return row?.doc ?? null;
  }

  /** Open findings of a cluster: all of them, or those of the given workloads ("Kind/ns/name"). */
  async openFindings(clusterId: string, objectKeys?: readonly string[]): Promise<FindingRow[]> {
    const base = this.db
      .selectFrom('findings')
      .selectAll()
      .where('cluster_id', '=', clusterId)
      .where('open_fingerprint', 'is not', null);
    if (objectKeys === undefined) return base.execute();
    const out: FindingRow[] = [];
    for (let i = 0; i < objectKeys.length; i += CHUNK) {
      const keys = objectKeys.slice(i, i + CHUNK);
      if (keys.length > 0) out.push(...(await base.where('object_key', 'in', keys).execute()));
    }
    return out;
  }

  /**
   * Applies one re-evaluation in a transaction: opens `inserts` (a finding already opened by
   * another replica meanwhile is refreshed instead), refreshes `refresh` and `touch` (still open;
   * `touch` unchanged but for last_seen_at) and closes `close`.
   */
  async apply(change: {
    inserts: readonly FindingRow[];
    refresh: readonly FindingRefresh[];
    touch: readonly string[];
    close: readonly string[];
    now: number;
  }): Promise<void> {
    const { now } = change;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < change.close.length; i += CHUNK) {
        await trx
          .updateTable('findings')
          .set({ closed_at: now, open_fingerprint: null })
          .where('id', 'in', change.close.slice(i, i + CHUNK))
          .where('open_fingerprint', 'is not', null)
          .execute();
      }
      for (let i = 0; i < change.touch.length; i += CHUNK) {
        await trx
          .updateTable('findings')
          .set({ last_seen_at: now })
          .where('id', 'in', change.touch.slice(i, i + CHUNK))
          .execute();
      }
      for (const r of change.refresh) {
        await trx
          .updateTable('findings')
          .set({
            severity: r.severity,
            severity_rank: r.severity_rank,
            category: r.category,
            message: r.message,
            deployment_id: r.deployment_id,
            last_seen_at: now,
          })
          .where('id', '=', r.id)
          .execute();
      }
      for (let i = 0; i < change.inserts.length; i += CHUNK) {
        await trx
          .insertInto('findings')
          .values(change.inserts.slice(i, i + CHUNK))
          .onConflict((oc) =>
            oc.column('open_fingerprint').doUpdateSet((eb) => ({
              severity: eb.ref('excluded.severity'),
              severity_rank: eb.ref('excluded.severity_rank'),
              category: eb.ref('excluded.category'),
              message: eb.ref('excluded.message'),
              deployment_id: eb.ref('excluded.deployment_id'),
              last_seen_at: eb.ref('excluded.last_seen_at'),
            })),
          )
          .execute();
      }
    });
  }

  /** Findings of visible clusters, most severe first, then newest first. */
  list(orgIds: readonly string[], filter: FindingsListFilter): Promise<ListedFindingRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    let q = this.db
      .selectFrom('findings')
      .selectAll('findings')
      .select((eb) =>
        eb
          .selectFrom('clusters')
          .select('clusters.name')
          .whereRef('clusters.id', '=', 'findings.cluster_id')
          .as('cluster_name'),
      )
      .where('findings.cluster_id', 'in', (eb) =>
        eb.selectFrom('clusters').select('clusters.id').where('clusters.org_id', 'in', orgIds),
      );
    if (filter.clusterId !== undefined) q = q.where('findings.cluster_id', '=', filter.clusterId);
    if (filter.deploymentId !== undefined) q = q.where('findings.deployment_id', '=', filter.deploymentId);
    if (filter.minRank !== undefined) q = q.where('findings.severity_rank', '>=', filter.minRank);
    q = q.where('findings.open_fingerprint', filter.state === 'open' ? 'is not' : 'is', null);
    const after = filter.after;
    if (after !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb('findings.severity_rank', '<', after[0]),
          eb.and([eb('findings.severity_rank', '=', after[0]), eb('findings.id', '<', after[1])]),
        ]),
      );
    }
    return q.orderBy('findings.severity_rank', 'desc').orderBy('findings.id', 'desc').limit(filter.limit).execute();
  }
}
