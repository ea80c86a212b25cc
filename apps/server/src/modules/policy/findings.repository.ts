import type { ExpressionBuilder, Kysely } from 'kysely';
import type { ClustersTable, Database, FindingsTable } from '../../db/schema.js';
import type { SuppressionRow } from './suppressions.repository.js';

export type FindingRow = FindingsTable;
export type ListedFindingRow = FindingRow & {
  cluster_name: string | null;
  /** With state 'suppressed': the live suppression that covers the finding, with its creator's email. */
  suppression?: CoveringSuppressionRow;
};

export type CoveringSuppressionRow = SuppressionRow & { created_by_email: string | null };

/** The columns a re-evaluation may change on a finding that stays open. */
export type FindingRefresh = Pick<
  FindingRow,
  'id' | 'severity' | 'severity_rank' | 'category' | 'message' | 'deployment_id'
>;

export type FindingsListFilter = {
  clusterId?: string;
  deploymentId?: string;
  ruleId?: string;
  minRank?: number;
  /** open: open and not covered by a live suppression; suppressed: open and covered; closed. */
  state: 'open' | 'closed' | 'suppressed';
  /** Suppressions whose expires_at is at or before this no longer apply. */
  now: number;
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

  /**
   * Findings of visible clusters, most severe first, then newest first. Suppressions apply here,
   * when listing, so creating or deleting one changes the next listing without re-evaluation.
   */
  async list(orgIds: readonly string[], filter: FindingsListFilter): Promise<ListedFindingRow[]> {
    if (orgIds.length === 0) return [];
    const { now } = filter;
    // The live suppressions of a finding's rule and object: its cluster's own, or its org's cluster-less ones.
    const covering = (eb: ExpressionBuilder<Database, 'findings' | 'clusters'>) =>
      eb
        .selectFrom('suppressions as s')
        .select('s.id')
        .whereRef('s.org_id', '=', 'clusters.org_id')
        .where((e) => e.or([e('s.cluster_id', 'is', null), e('s.cluster_id', '=', e.ref('findings.cluster_id'))]))
        .whereRef('s.rule_id', '=', 'findings.rule_id')
        .whereRef('s.object_kind', '=', 'findings.object_kind')
        .whereRef('s.object_namespace', '=', 'findings.object_namespace')
        .whereRef('s.object_name', '=', 'findings.object_name')
        .where((e) => e.or([e('s.expires_at', 'is', null), e('s.expires_at', '>', now)]));
    let q = this.db
      .selectFrom('findings')
      .innerJoin('clusters', 'clusters.id', 'findings.cluster_id')
      .selectAll('findings')
      .select('clusters.name as cluster_name')
      .where('clusters.org_id', 'in', orgIds);
    if (filter.clusterId !== undefined) q = q.where('findings.cluster_id', '=', filter.clusterId);
    if (filter.deploymentId !== undefined) q = q.where('findings.deployment_id', '=', filter.deploymentId);
    if (filter.ruleId !== undefined) q = q.where('findings.rule_id', '=', filter.ruleId);
    if (filter.minRank !== undefined) q = q.where('findings.severity_rank', '>=', filter.minRank);
    q = q.where('findings.open_fingerprint', filter.state === 'closed' ? 'is' : 'is not', null);
    if (filter.state === 'open') q = q.where((eb) => eb.not(eb.exists(covering(eb))));
    if (filter.state === 'suppressed') q = q.where((eb) => eb.exists(covering(eb)));
    const after = filter.after;
    if (after !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb('findings.severity_rank', '<', after[0]),
          eb.and([eb('findings.severity_rank', '=', after[0]), eb('findings.id', '<', after[1])]),
        ]),
      );
    }
    q = q.orderBy('findings.severity_rank', 'desc').orderBy('findings.id', 'desc').limit(filter.limit);
    if (filter.state !== 'suppressed') return q.execute();

    // One covering suppression per finding, a cluster's own before its org's ('' sorts last descending).
    const rows = await q
      .select((eb) => covering(eb).orderBy('s.cluster_key', 'desc').orderBy('s.id').limit(1).as('suppression_id'))
      .execute();
    const ids = [...new Set(rows.flatMap((r) => (r.suppression_id === null ? [] : [r.suppression_id])))];
    const byId = new Map<string, CoveringSuppressionRow>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const found = await this.db
        .selectFrom('suppressions')
        .leftJoin('users', 'users.id', 'suppressions.created_by')
        .selectAll('suppressions')
        .select('users.email as created_by_email')
        .where('suppressions.id', 'in', chunk)
        .execute();
      for (const s of found) byId.set(s.id, s);
    }
    return rows.map(({ suppression_id, ...row }) => {
      const suppression = suppression_id === null ? undefined : byId.get(suppression_id);
      return suppression === undefined ? row : { ...row, suppression };
    });
  }
}
