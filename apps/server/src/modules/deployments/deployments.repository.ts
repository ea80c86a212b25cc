import type { Kysely, Selectable, Updateable } from 'kysely';
import type { ClustersTable, Database, DeploymentRevisionsTable, DeploymentsTable } from '../../db/schema.js';

export type DeploymentRow = Selectable<DeploymentsTable>;
export type DeploymentWithCluster = DeploymentRow & {
  cluster_name: string;
  environment: ClustersTable['environment'];
  last_heartbeat_at: number | null;
};
export type RevisionRow = Selectable<DeploymentRevisionsTable>;
export type DeploymentPatch = Updateable<DeploymentsTable>;

export type DeploymentFilter = {
  clusterId?: string;
  namespace?: string;
  status?: DeploymentRow['status'];
  archived?: boolean;
  q?: string;
};

/** A deployment whose rollout the heartbeats are watching. */
export type WatchedRollout = Pick<
  DeploymentRow,
  | 'id'
  | 'cluster_id'
  | 'namespace'
  | 'name'
  | 'rollout_state'
  | 'rollout_revision'
  | 'rollout_deadline_at'
  | 'rollout_generations'
>;

/** The only SQL of deployments. Works on the database or inside a caller's transaction. */
export class DeploymentsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  transaction<T>(fn: (repo: DeploymentsRepository) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(new DeploymentsRepository(trx)));
  }

  async insert(row: DeploymentRow): Promise<void> {
    await this.db.insertInto('deployments').values(row).execute();
  }

  find(id: string): Promise<DeploymentWithCluster | undefined> {
    return this.db
      .selectFrom('deployments')
      .innerJoin('clusters', 'clusters.id', 'deployments.cluster_id')
      .selectAll('deployments')
      .select(['clusters.name as cluster_name', 'clusters.environment', 'clusters.last_heartbeat_at'])
      .where('deployments.id', '=', id)
      .executeTakeFirst();
  }

  list(
    orgIds: readonly string[],
    filter: DeploymentFilter,
    page: { offset: number; limit: number } = { offset: 0, limit: 1000 },
  ): Promise<DeploymentWithCluster[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    let q = this.db
      .selectFrom('deployments')
      .innerJoin('clusters', 'clusters.id', 'deployments.cluster_id')
      .selectAll('deployments')
      .select(['clusters.name as cluster_name', 'clusters.environment', 'clusters.last_heartbeat_at'])
      .where('deployments.org_id', 'in', orgIds);
    if (filter.clusterId !== undefined) q = q.where('deployments.cluster_id', '=', filter.clusterId);
    if (filter.namespace !== undefined) q = q.where('deployments.namespace', '=', filter.namespace);
    if (filter.status !== undefined) q = q.where('deployments.status', '=', filter.status);
    if (filter.archived !== true) q = q.where('deployments.archived_at', 'is', null);
    if (filter.q !== undefined && filter.q !== '') {
      const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where((eb) => eb('deployments.name', 'like', eb.val(pattern)));
    }
    return q
      .orderBy('clusters.name')
      .orderBy('deployments.namespace')
      .orderBy('deployments.name')
      .orderBy('deployments.id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
  }

  /** Updates the row; with `where`, only while those columns still hold those values. */
  async update(
    id: string,
    patch: DeploymentPatch,
    where: Partial<Pick<DeploymentRow, 'revision' | 'lifecycle' | 'rollout_revision' | 'drift_command_id'>> = {},
  ): Promise<boolean> {
    let q = this.db.updateTable('deployments').set(patch).where('id', '=', id);
    if (where.revision !== undefined) q = q.where('revision', '=', where.revision);
    if (where.lifecycle !== undefined) q = q.where('lifecycle', '=', where.lifecycle);
    if (where.rollout_revision !== undefined) q = q.where('rollout_revision', '=', where.rollout_revision);
    if (where.drift_command_id !== undefined) q = q.where('drift_command_id', '=', where.drift_command_id);
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async insertRevision(row: RevisionRow): Promise<void> {
    await this.db.insertInto('deployment_revisions').values(row).execute();
  }

  async updateRevision(deploymentId: string, revision: number, patch: Updateable<DeploymentRevisionsTable>) {
    await this.db
      .updateTable('deployment_revisions')
      .set(patch)
      .where('deployment_id', '=', deploymentId)
      .where('revision', '=', revision)
      .execute();
  }

  findRevision(deploymentId: string, revision: number): Promise<RevisionRow | undefined> {
    return this.db
      .selectFrom('deployment_revisions')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .where('revision', '=', revision)
      .executeTakeFirst();
  }

  /** The findings of each deployment's newest revision, in one query per 500 deployments. */
  async latestFindings(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom('deployment_revisions')
        .innerJoin('deployments', (join) =>
          join
            .onRef('deployments.id', '=', 'deployment_revisions.deployment_id')
            .onRef('deployments.revision', '=', 'deployment_revisions.revision'),
        )
        .select(['deployment_revisions.deployment_id', 'deployment_revisions.findings'])
        .where('deployments.id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const row of rows) out.set(row.deployment_id, row.findings);
    }
    return out;
  }

  findRevisionByCommand(commandId: string): Promise<RevisionRow | undefined> {
    return this.db
      .selectFrom('deployment_revisions')
      .selectAll()
      .where('command_id', '=', commandId)
      .executeTakeFirst();
  }

  /** Newest first, without the manifests. */
  listRevisions(deploymentId: string): Promise<Omit<RevisionRow, 'manifests'>[]> {
    return this.db
      .selectFrom('deployment_revisions')
      .select([
        'deployment_id',
        'revision',
        'created_at',
        'created_by',
        'created_by_label',
        'source',
        'findings',
        'manifest_errors',
        'command_id',
        'status',
        'objects',
        'error',
        'completed_at',
        'rollback_of',
        'prune',
        'message',
      ])
      .where('deployment_id', '=', deploymentId)
      .orderBy('revision', 'desc')
      .execute();
  }

  /** Deployments whose rollout is under way or stalled, across the fleet (a small set). */
  watchedRollouts(): Promise<WatchedRollout[]> {
    return this.db
      .selectFrom('deployments')
      .select([
        'id',
        'cluster_id',
        'namespace',
        'name',
        'rollout_state',
        'rollout_revision',
        'rollout_deadline_at',
        'rollout_generations',
      ])
      .where('rollout_state', 'in', ['progressing', 'stalled'])
      .where('lifecycle', '=', 'active')
      .execute();
  }

  /** Active deployments with an applied revision: what the drift check diffs. */
  driftCandidates(): Promise<
    Pick<DeploymentRow, 'id' | 'cluster_id' | 'org_id' | 'namespace' | 'applied_revision' | 'drift_command_id'>[]
  > {
    return this.db
      .selectFrom('deployments')
      .select(['id', 'cluster_id', 'org_id', 'namespace', 'applied_revision', 'drift_command_id'])
      .where('lifecycle', '=', 'active')
      .where('applied_revision', 'is not', null)
      .orderBy('drift_checked_at')
      .execute();
  }

  /** Active Git deployments that have been applied: what tracking asks their ref. */
  async trackedGitDeployments(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('deployments')
      .select('id')
      .where('lifecycle', '=', 'active')
      .where('source_type', '=', 'git')
      .where('revision', '>', 0)
      .orderBy('updated_at')
      .execute();
    return rows.map((r) => r.id);
  }

  /** The state of a command (for revisions and deletes whose result never came). */
  commandState(
    commandId: string,
  ): Promise<{ state: string; expires_at: number; error: string | null; completed_at: number | null } | undefined> {
    return this.db
      .selectFrom('commands')
      .select(['state', 'expires_at', 'error', 'completed_at'])
      .where('id', '=', commandId)
      .executeTakeFirst();
  }
}
