import { buildManifests } from '@niro/builder';
import { MANIFEST_LIMITS, manifestErrorText, parseManifests, ruleById, severityFor } from '@niro/policy';
import {
  COMMAND_LIMITS,
  DEPLOYMENT_MANIFESTS_MAX_BYTES,
  DEPLOYMENTS_LIMIT_MAX,
  DeploymentForm,
  ObjectResult,
  validateDeploymentForm,
  type ApplyDeploymentRequest,
  type CreateDeploymentRequest,
  type Deployment,
  type DeploymentList,
  type DeploymentRevision,
  type DeploymentRevisionList,
  type DeploymentRevisionSummary,
  type DeploymentSource,
  type DeploymentSourceRequest,
  type ListDeploymentsQuery,
  type ManifestError,
  type PolicyFinding,
  type RevisionSource,
  type RollbackDeploymentRequest,
  type UpdateDeploymentRequest,
} from '@niro/protocol';
import { Value } from 'typebox/value';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { BadRequestError, ConflictError, ForbiddenError, NiroError, NotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { isRecord } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ClusterRow } from '../clusters/clusters.repository.js';
import type { ClustersService } from '../clusters/clusters.service.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import { isUniqueViolation } from '../commands/commands.repository.js';
import { checkCapability, parseCommandError, type CommandsService } from '../commands/commands.service.js';
import { parseGitPath, parseGitRef, parseGitUrl } from '../git-source/git-source.input.js';
import type { IncidentsService } from '../incidents/incidents.service.js';
import { AccessScope, roleAtLeast } from '../orgs/access.js';
import type { PolicyService } from '../policy/policy.service.js';
import {
  type DeploymentRow,
  type DeploymentsRepository,
  type DeploymentWithCluster,
  type RevisionRow,
} from './deployments.repository.js';
import type { InventoryReader } from './inventory-reader.js';
import { adminOnlyReasons } from './manifest-permissions.js';
import { appliedGenerations, parseGenerations, rolloutProgress, workloadsOf } from './rollout.js';

/** A Git source as the deployments service fetches it (modules/git-source). */
export type GitFetcher = (source: {
  url: string;
  ref: string;
  path: string;
  credential?: { username: string; password: string };
}) => Promise<{ commit: string; yaml: string; rendered: 'plain' | 'kustomize' }>;

/** Registry credentials as pull Secrets (modules/registries). */
export type PullSecretProvider = {
  pullSecretFor(
    registryId: string,
    orgIds: readonly string[],
  ): Promise<{ secretName: string; server: string; dockerConfigJson: string }>;
};

export type DeploymentsDeps = {
  repo: DeploymentsRepository;
  clusters: ClustersService;
  commands: CommandsService;
  policy: PolicyService;
  incidents: IncidentsService;
  audit: AuditService;
  inventory: InventoryReader;
  box: SecretBox;
  clock: Clock;
  logger: Logger;
  git?: GitFetcher;
  /** The commit a Git ref points at now (modules/git-source resolveGitRef), for tracking. */
  gitHead?: GitHeadResolver;
  /** Whose authority a tracked Git deployment applies new commits with. */
  orgs?: { scopeFor(userId: string): Promise<AccessScope> };
  registries?: PullSecretProvider;
};

export type GitHeadResolver = (source: {
  url: string;
  ref: string;
  credential?: { username: string; password: string };
}) => Promise<string>;

/** How a command the service queued ended, as the command queue reports it. */
export type CommandOutcome = {
  id: string;
  kind: string;
  payload: unknown;
  status: 'succeeded' | 'failed' | 'partial';
  result: unknown;
  error?: { code: string; message: string } | null;
};

/** Told when a rollout starts or ends here, so the heartbeat watch reloads at once. */
export type RolloutWatchHandle = { invalidate(): void };

type Built = {
  manifests: string;
  /** The pull Secret, added to the apply when it is delivered; never stored in the clear. */
  sealed: string | undefined;
  source: RevisionSource;
};

/** A build that passed the checks of every apply, with its advisory policy evaluation. */
type CheckedBuilt = Built & { evaluation: { findings: PolicyFinding[]; errors: ManifestError[] } };

const SEVERITY_KEYS = ['info', 'low', 'medium', 'high'] as const;

/** What a list reads once for all its rows. */
type DtoContext = { findings: Map<string, string>; documents: Map<string, unknown> };

/**
 * Managed deployments (DESIGN 4.5): a source (builder form, YAML or Git) for one namespace of one
 * cluster. Every apply stores an immutable revision (manifests, source, author, policy findings,
 * per-object results) and queues an `apply` command; the result sets the status, and heartbeats
 * follow the rollout. Rollback re-applies an earlier revision as a new one; delete removes the
 * objects through a `delete` command and archives the deployment.
 */
export class DeploymentsService {
  private watch: RolloutWatchHandle | null = null;

  constructor(private readonly deps: DeploymentsDeps) {}

  /** The heartbeat watch of rollouts (rollout-watch.ts). */
  watchRolloutsWith(watch: RolloutWatchHandle): void {
    this.watch = watch;
  }

  // -------------------------------------------------------------------------------------------
  // API

  async list(scope: AccessScope, query: ListDeploymentsQuery): Promise<DeploymentList> {
    const limit = query.limit ?? DEPLOYMENTS_LIMIT_MAX;
    const offset = query.cursor === undefined ? 0 : parseOffsetCursor(query.cursor);
    const page = await this.deps.repo.list(
      scope.orgIds,
      {
        clusterId: query.cluster,
        namespace: query.namespace,
        status: query.status,
        archived: query.archived,
        q: query.q,
      },
      { offset, limit: limit + 1 },
    );
    const rows = page.slice(0, limit);
    const nextCursor = page.length > limit ? `o${offset + limit}` : null;
    const settled: DeploymentWithCluster[] = [];
    for (const row of rows) settled.push(await this.settle(row));
    // One findings query for the page, and each cluster's inventory read once.
    const context: DtoContext = {
      findings: await this.deps.repo.latestFindings(settled.map((r) => r.id)),
      documents: new Map(),
    };
    const items: Deployment[] = [];
    for (const row of settled) items.push(await this.toDto(row, false, context));
    return { items, nextCursor };
  }

  async get(scope: AccessScope, id: string): Promise<Deployment> {
    const row = await this.settle(await this.visible(scope, id, 'viewer'));
    return this.toDto(row, true);
  }

  async create(scope: AccessScope, input: CreateDeploymentRequest, ctx: RequestContext): Promise<Deployment> {
    const cluster = await this.deps.clusters.find(scope, input.clusterId);
    scope.require(cluster.org_id, 'member', 'Cluster');
    checkSource(input.source, 'body.source');
    const now = this.deps.clock.now();
    const id = newId(now);
    const row: DeploymentRow = {
      id,
      org_id: cluster.org_id,
      cluster_id: cluster.id,
      namespace: input.namespace,
      name: input.name,
      source_type: input.source.type,
      source: storedSource(input.source),
      git_credential: this.sealCredential(input.source, id),
      status: 'new',
      lifecycle: 'active',
      revision: 0,
      applied_revision: null,
      rollout_state: 'none',
      rollout_revision: null,
      rollout_started_at: null,
      rollout_deadline_at: null,
      rollout_ready_at: null,
      rollout_generations: null,
      drift_state: 'unknown',
      drift_checked_at: null,
      drift_objects: null,
      drift_command_id: null,
      delete_command_id: null,
      last_error: null,
      created_at: now,
      created_by: scope.userId,
      updated_at: now,
      archived_at: null,
    };
    // Checked before anything is stored: a deployment that cannot be applied is not created.
    const built = input.apply === false ? null : await this.prepare(scope, cluster, row);
    try {
      await this.deps.repo.transaction(async (repo) => {
        await repo.insert(row);
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError(
          'deployment_name_taken',
          `A deployment named "${input.name}" is already managed in namespace ${input.namespace} of cluster ${cluster.name}`,
          { fields: [{ field: 'body.name', message: 'is taken in this namespace' }] },
        );
      }
      throw err;
    }
    await this.deps.audit.record({
      actor: ctx.actor,
      action: 'deployment.create',
      target: { type: 'deployment', id },
      orgId: cluster.org_id,
      ip: ctx.ip,
      details: { name: row.name, clusterId: cluster.id, namespace: row.namespace, source: row.source_type },
    });
    this.deps.logger.info({ deploymentId: id, clusterId: cluster.id }, 'deployment created');
    if (built !== null) {
      await this.startApply(scope, cluster, row, built, ctx, { prune: true, message: input.message });
    }
    return this.get(scope, id);
  }

  async update(scope: AccessScope, id: string, input: UpdateDeploymentRequest, ctx: RequestContext) {
    const row = await this.active(scope, id);
    if (input.source !== undefined) {
      checkSource(input.source, 'body.source');
      const keepCredential =
        input.source.type === 'git' && input.source.credential === undefined && row.source_type === 'git';
      const credential = keepCredential ? row.git_credential : this.sealCredential(input.source, id);
      await this.deps.repo.update(id, {
        source_type: input.source.type,
        source: storedSource(input.source),
        git_credential: credential,
        updated_at: this.deps.clock.now(),
      });
      await this.deps.audit.record({
        actor: ctx.actor,
        action: 'deployment.update',
        target: { type: 'deployment', id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: { source: input.source.type },
      });
    }
    if (input.apply === true) return this.apply(scope, id, { prune: input.prune, message: input.message }, ctx);
    return this.get(scope, id);
  }

  /** Builds the current source into a new revision and queues its apply. */
  async apply(scope: AccessScope, id: string, input: ApplyDeploymentRequest, ctx: RequestContext): Promise<Deployment> {
    const row = await this.active(scope, id);
    const cluster = await this.deps.clusters.find(scope, row.cluster_id);
    const built = await this.prepare(scope, cluster, row);
    await this.startApply(scope, cluster, row, built, ctx, { prune: input.prune ?? true, message: input.message });
    return this.get(scope, id);
  }

  /** Applies an earlier revision's manifests again, as a new revision, with prune. */
  async rollback(
    scope: AccessScope,
    id: string,
    input: RollbackDeploymentRequest,
    ctx: RequestContext,
  ): Promise<Deployment> {
    const row = await this.active(scope, id);
    const target = await this.deps.repo.findRevision(id, input.revision);
    if (target === undefined) {
      throw new NotFoundError(`Revision ${input.revision} of deployment ${row.name}`, 'revision_not_found');
    }
    const cluster = await this.deps.clusters.find(scope, row.cluster_id);
    checkCapability('apply', cluster.name, cluster.capabilities);
    const source = parseRevisionSource(target.source);
    const registryId = source.type === 'builder' ? source.form.registryId : undefined;
    const pull =
      registryId === undefined ? undefined : (await this.pullSecretManifest(scope, row, registryId)).manifest;
    const built = await this.checkBuilt(scope, cluster, row, { manifests: target.manifests, sealed: pull, source });
    // The builder's form and pasted YAML go back to what that revision had; a Git source stays.
    if (source.type !== 'git') {
      await this.deps.repo.update(id, {
        source_type: source.type,
        source: JSON.stringify(source.type === 'builder' ? { form: source.form } : { yaml: target.manifests }),
        updated_at: this.deps.clock.now(),
      });
    }
    await this.startApply(scope, cluster, row, built, ctx, {
      prune: true,
      rollbackOf: target.revision,
    });
    return this.get(scope, id);
  }

  /** Removes the deployment's objects (a `delete` command); archived once the agent reports it done. */
  async remove(scope: AccessScope, id: string, ctx: RequestContext): Promise<Deployment> {
    const row = await this.active(scope, id);
    const cluster = await this.deps.clusters.find(scope, row.cluster_id);
    if (row.applied_revision === null && row.status !== 'pending') {
      // Never applied: nothing in the cluster to remove.
      await this.archive(row, 'deleted', ctx, 'The deployment was deleted');
      return this.get(scope, id);
    }
    checkCapability('delete', cluster.name, cluster.capabilities);
    const { command } = await this.deps.commands.create(
      scope,
      cluster.id,
      { kind: 'delete', payload: { deploymentId: id, namespace: row.namespace } },
      ctx,
    );
    await this.deps.repo.update(
      id,
      { lifecycle: 'deleting', delete_command_id: command.id, updated_at: this.deps.clock.now() },
      { lifecycle: 'active' },
    );
    await this.deps.audit.record({
      actor: ctx.actor,
      action: 'deployment.delete',
      target: { type: 'deployment', id },
      orgId: row.org_id,
      ip: ctx.ip,
      details: { commandId: command.id },
    });
    return this.get(scope, id);
  }

  /** Stops managing the deployment and leaves its objects running. */
  async unmanage(scope: AccessScope, id: string, ctx: RequestContext): Promise<Deployment> {
    const row = await this.active(scope, id);
    await this.archive(row, 'unmanaged', ctx, 'The deployment is no longer managed');
    return this.get(scope, id);
  }

  /** Queues a drift check now (also done periodically by the drift job). */
  async checkDrift(scope: AccessScope, id: string, ctx: RequestContext): Promise<Deployment> {
    const row = await this.active(scope, id);
    if (row.applied_revision === null) {
      throw new ConflictError('deployment_not_applied', 'The deployment has no applied revision to compare with yet');
    }
    const cluster = await this.deps.clusters.find(scope, row.cluster_id);
    checkCapability('diff', cluster.name, cluster.capabilities);
    await this.queueDiff(scope, row, row.applied_revision, ctx, false);
    return this.get(scope, id);
  }

  async revisions(scope: AccessScope, id: string): Promise<DeploymentRevisionList> {
    const row = await this.visible(scope, id, 'viewer');
    const rows = await this.deps.repo.listRevisions(row.id);
    return { items: rows.map(toRevisionSummary) };
  }

  async revision(scope: AccessScope, id: string, revision: number): Promise<DeploymentRevision> {
    const row = await this.visible(scope, id, 'viewer');
    const rev = await this.deps.repo.findRevision(row.id, revision);
    if (rev === undefined)
      throw new NotFoundError(`Revision ${revision} of deployment ${row.name}`, 'revision_not_found');
    return {
      ...toRevisionSummary(rev),
      manifests: rev.manifests,
      findings: parseArray(rev.findings).filter((f): f is PolicyFinding => isRecord(f)),
      manifestErrors: parseArray(rev.manifest_errors).filter((e): e is ManifestError => isRecord(e)),
      objects: parseArray(rev.objects).filter((o): o is ObjectResult => Value.Check(ObjectResult, o)),
      error: parseCommandError(rev.error),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Command results (wired in services.ts)

  /** Whether this module queued the command (a revision's apply, a delete or a drift check). */
  async handleCommandResult(clusterId: string, outcome: CommandOutcome): Promise<boolean> {
    const deploymentId =
      isRecord(outcome.payload) && typeof outcome.payload.deploymentId === 'string'
        ? outcome.payload.deploymentId
        : null;
    if (deploymentId === null) return false;
    const row = await this.deps.repo.find(deploymentId);
    if (row === undefined || row.cluster_id !== clusterId) return false;
    if (outcome.kind === 'apply') await this.applyResult(row, outcome);
    else if (outcome.kind === 'delete') await this.deleteResult(row, outcome);
    else if (outcome.kind === 'diff') await this.diffResult(row, outcome);
    else return false;
    return true;
  }

  private async applyResult(row: DeploymentWithCluster, outcome: CommandOutcome): Promise<void> {
    const rev = await this.deps.repo.findRevisionByCommand(outcome.id);
    if (rev === undefined) return;
    const now = this.deps.clock.now();
    const objects = objectsOf(outcome.result);
    const error = outcome.error ?? null;
    await this.deps.repo.updateRevision(row.id, rev.revision, {
      status: outcome.status,
      objects: JSON.stringify(objects),
      error: error === null ? null : JSON.stringify(error),
      completed_at: now,
    });
    // A late result of an older revision does not speak for the deployment any more.
    if (rev.revision !== row.revision) return;
    const failedObjects = objects.filter((o) => o.action === 'failed');
    const lastError =
      outcome.status === 'succeeded'
        ? null
        : (error?.message ??
          failedObjects
            .slice(0, 3)
            .map((o) => `${o.kind}/${o.name}: ${o.message ?? 'failed'}`)
            .join('; '));
    const applied = outcome.status !== 'failed';
    const { workloads, deadlineSeconds } = workloadsOf(parseManifests(rev.manifests).objects);
    const rollout = applied && workloads.length > 0;
    await this.deps.repo.update(
      row.id,
      {
        status: outcome.status,
        applied_revision: applied ? rev.revision : row.applied_revision,
        last_error: lastError === '' ? 'The apply failed' : lastError,
        updated_at: now,
        ...(applied
          ? {
              rollout_state: rollout ? 'progressing' : 'none',
              rollout_revision: rev.revision,
              rollout_started_at: now,
              rollout_deadline_at: rollout ? now + deadlineSeconds * 1000 : null,
              rollout_ready_at: rollout ? null : now,
              rollout_generations: JSON.stringify(appliedGenerations(workloads, objects)),
            }
          : {}),
      },
      { revision: rev.revision },
    );
    this.deps.logger.info(
      { deploymentId: row.id, revision: rev.revision, status: outcome.status },
      'deployment revision applied',
    );
    if (outcome.status === 'succeeded') {
      // With workloads, the rollout watch resolves deployment_failed once they are ready.
      if (!rollout) await this.deps.incidents.deploymentRecovered(row.cluster_id, row.id);
    } else {
      await this.deps.incidents.deploymentFailed({
        clusterId: row.cluster_id,
        deploymentId: row.id,
        title:
          outcome.status === 'failed'
            ? `Revision ${rev.revision} of ${row.name} failed to apply`
            : `Revision ${rev.revision} of ${row.name} applied partly: ${failedObjects.length} of ${objects.length} objects failed`,
        details: {
          name: row.name,
          namespace: row.namespace,
          revision: rev.revision,
          status: outcome.status,
          failed: failedObjects.slice(0, 20).map((o) => ({ kind: o.kind, name: o.name, message: o.message ?? null })),
          error: error?.message ?? null,
        },
      });
    }
    if (rollout) this.watch?.invalidate();
  }

  private async deleteResult(row: DeploymentWithCluster, outcome: CommandOutcome): Promise<void> {
    if (row.delete_command_id !== outcome.id) return;
    if (outcome.status === 'succeeded') {
      await this.archive(row, 'deleted', null, 'The deployment and its objects were deleted');
      return;
    }
    const failed = objectsOf(outcome.result).filter((o) => o.action === 'failed');
    await this.deps.repo.update(
      row.id,
      {
        lifecycle: 'active',
        delete_command_id: null,
        last_error:
          outcome.error?.message ??
          `Deleting failed for ${failed.map((o) => `${o.kind}/${o.name}: ${o.message ?? 'failed'}`).join('; ')}`,
        updated_at: this.deps.clock.now(),
      },
      { lifecycle: 'deleting' },
    );
  }

  private async diffResult(row: DeploymentWithCluster, outcome: CommandOutcome): Promise<void> {
    const objects = objectsOf(outcome.result).filter((o) => o.action === 'drifted' || o.action === 'missing');
    const state = outcome.status === 'succeeded' ? (objects.length > 0 ? 'drifted' : 'clean') : 'drifted';
    await this.deps.repo.update(row.id, {
      drift_state: outcome.status === 'failed' && objects.length === 0 ? 'unknown' : state,
      drift_checked_at: this.deps.clock.now(),
      drift_objects: JSON.stringify(objects.slice(0, 100)),
      drift_command_id: null,
    });
    await this.deps.incidents.diffResult(row.cluster_id, outcome.payload, outcome.status, outcome.result);
  }

  // -------------------------------------------------------------------------------------------
  // Drift job

  /**
   * Queues a `diff` of each active, applied deployment whose cluster can run it and whose last
   * check is not still under way. Returns how many were queued.
   */
  async queueDriftChecks(): Promise<number> {
    let queued = 0;
    for (const candidate of await this.deps.repo.driftCandidates()) {
      if (candidate.applied_revision === null) continue;
      if (candidate.drift_command_id !== null) {
        const open = await this.deps.repo.commandState(candidate.drift_command_id);
        const now = this.deps.clock.now();
        if (open !== undefined && (open.state === 'queued' || open.state === 'delivered') && open.expires_at > now) {
          continue;
        }
      }
      const row = await this.deps.repo.find(candidate.id);
      if (row === undefined) continue;
      const cluster = await this.deps.clusters.find(systemScope(row.org_id), row.cluster_id).catch(() => undefined);
      if (cluster === undefined || cluster.status === 'offline' || cluster.status === 'pending') continue;
      try {
        checkCapability('diff', cluster.name, cluster.capabilities);
      } catch {
        continue;
      }
      try {
        await this.queueDiff(systemScope(row.org_id), row, candidate.applied_revision, SYSTEM_CONTEXT, true);
        queued++;
      } catch (err) {
        this.deps.logger.warn({ err, deploymentId: row.id }, 'could not queue a drift check');
      }
    }
    return queued;
  }

  /**
   * Git deployments track their ref: when it points at a commit other than the newest revision's,
   * that commit is applied as a new revision, with the authority of whoever applied the newest
   * revision (their role now, so a repository cannot grant more than they have). Returns how many
   * were applied.
   */
  async trackGitSources(): Promise<number> {
    const resolve = this.deps.gitHead;
    const orgs = this.deps.orgs;
    if (resolve === undefined || orgs === undefined) return 0;
    let applied = 0;
    for (const id of await this.deps.repo.trackedGitDeployments()) {
      const row = await this.deps.repo.find(id);
      if (row === undefined || row.lifecycle !== 'active' || row.status === 'pending' || row.revision === 0) continue;
      const latest = await this.deps.repo.findRevision(row.id, row.revision);
      const source = latest === undefined ? undefined : parseRevisionSource(latest.source);
      if (source?.type !== 'git') continue;
      const stored = parseJsonObject(row.source);
      const url = String(stored.url);
      const ref = String(stored.ref);
      try {
        const credential = this.openCredential(row);
        const head = await resolve({ url, ref, ...(credential === undefined ? {} : { credential }) });
        if (head === source.commit) continue;
        const userId = latest?.created_by ?? row.created_by;
        if (userId === null) continue;
        const scope = await orgs.scopeFor(userId);
        const role = scope.roleIn(row.org_id);
        if (role === null || !roleAtLeast(role, 'member')) {
          await this.deps.repo.update(row.id, {
            last_error: `A new commit ${head.slice(0, 12)} on ${ref} was not applied: the user who applied the last revision can no longer change this deployment; apply it yourself`,
          });
          continue;
        }
        const cluster = await this.deps.clusters.find(scope, row.cluster_id);
        const built = await this.prepare(scope, cluster, row);
        await this.startApply(scope, cluster, row, built, TRACKING_CONTEXT, {
          prune: true,
          message: `New commit ${head.slice(0, 12)} on ${ref}`,
          onBehalfOf: true,
        });
        applied++;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.deps.logger.warn({ deploymentId: row.id, err: message }, 'tracking a Git deployment failed');
        await this.deps.repo.update(row.id, { last_error: `Tracking ${ref}: ${message}` });
      }
    }
    return applied;
  }

  private async queueDiff(
    scope: AccessScope,
    row: DeploymentRow,
    revision: number,
    ctx: RequestContext,
    system: boolean,
  ): Promise<void> {
    const rev = await this.deps.repo.findRevision(row.id, revision);
    if (rev === undefined) return;
    const { command } = await this.deps.commands.create(
      scope,
      row.cluster_id,
      { kind: 'diff', payload: { manifests: rev.manifests, namespace: row.namespace, deploymentId: row.id } },
      ctx,
      { system },
    );
    await this.deps.repo.update(row.id, { drift_state: 'checking', drift_command_id: command.id });
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private async visible(scope: AccessScope, id: string, min: 'viewer' | 'member'): Promise<DeploymentWithCluster> {
    const row = await this.deps.repo.find(id);
    if (row === undefined || !scope.canSee(row.org_id)) throw new NotFoundError('Deployment', 'deployment_not_found');
    scope.require(row.org_id, min, 'Deployment');
    return row;
  }

  private async active(scope: AccessScope, id: string): Promise<DeploymentWithCluster> {
    const row = await this.settle(await this.visible(scope, id, 'member'));
    if (row.lifecycle === 'deleting') {
      throw new ConflictError('deployment_deleting', `Deployment ${row.name} is being deleted; wait for the agent`);
    }
    if (row.lifecycle !== 'active') {
      throw new ConflictError(
        'deployment_archived',
        `Deployment ${row.name} is archived (${row.lifecycle}); create a new one to manage these objects again`,
      );
    }
    return row;
  }

  /**
   * Ends what waits for a command that will never answer: a revision whose apply expired or was
   * cancelled, a delete that expired (the deployment stays), a drift check that expired.
   */
  private async settle(row: DeploymentWithCluster): Promise<DeploymentWithCluster> {
    let changed = false;
    const now = this.deps.clock.now();
    if (row.status === 'pending' && row.revision > 0) {
      const rev = await this.deps.repo.findRevision(row.id, row.revision);
      const command = rev?.command_id == null ? undefined : await this.deps.repo.commandState(rev.command_id);
      const ended = command === undefined ? null : endedWithoutResult(command, now);
      if (rev !== undefined && ended !== null) {
        const message =
          ended === 'expired'
            ? 'The agent did not take the apply before it expired (is the cluster online?)'
            : 'The apply was cancelled';
        await this.deps.repo.updateRevision(row.id, rev.revision, {
          status: ended,
          error: JSON.stringify({ code: `command_${ended}`, message }),
          completed_at: now,
        });
        await this.deps.repo.update(row.id, { status: 'failed', last_error: message }, { revision: row.revision });
        changed = true;
      }
    }
    if (row.lifecycle === 'deleting' && row.delete_command_id !== null) {
      const command = await this.deps.repo.commandState(row.delete_command_id);
      if (command !== undefined && endedWithoutResult(command, now) !== null) {
        await this.deps.repo.update(
          row.id,
          {
            lifecycle: 'active',
            delete_command_id: null,
            last_error: 'The agent did not take the delete before it expired (is the cluster online?)',
          },
          { lifecycle: 'deleting' },
        );
        changed = true;
      }
    }
    if (row.drift_state === 'checking' && row.drift_command_id !== null) {
      const command = await this.deps.repo.commandState(row.drift_command_id);
      if (command === undefined || endedWithoutResult(command, now) !== null) {
        await this.deps.repo.update(row.id, { drift_state: 'unknown', drift_command_id: null });
        changed = true;
      }
    }
    if (!changed) return row;
    return (await this.deps.repo.find(row.id)) ?? row;
  }

  /** The manifests of the deployment's current source, checked; throws a 4xx naming the problem. */
  private async prepare(scope: AccessScope, cluster: ClusterRow, row: DeploymentRow): Promise<CheckedBuilt> {
    checkCapability('apply', cluster.name, cluster.capabilities);
    const stored = parseJsonObject(row.source);
    let built: Built;
    if (row.source_type === 'builder') {
      const form = stored.form;
      if (!Value.Check(DeploymentForm, form)) throw new NiroError(500, 'internal', 'A stored form is invalid');
      const pull =
        form.registryId === undefined ? undefined : await this.pullSecretManifest(scope, row, form.registryId);
      const out = buildManifests(form, { namespace: row.namespace, imagePullSecretName: pull?.secretName });
      built = { manifests: out.yaml, sealed: pull?.manifest, source: { type: 'builder', form } };
    } else if (row.source_type === 'yaml') {
      const yaml = typeof stored.yaml === 'string' ? stored.yaml : '';
      built = { manifests: yaml, sealed: undefined, source: { type: 'yaml' } };
    } else {
      const git = this.deps.git;
      if (git === undefined) throw new NiroError(501, 'git_unavailable', 'Git import is not available on this server');
      const url = String(stored.url);
      const ref = String(stored.ref);
      const path = String(stored.path);
      const credential = this.openCredential(row);
      const fetched = await git({ url, ref, path, ...(credential === undefined ? {} : { credential }) });
      built = {
        manifests: fetched.yaml,
        sealed: undefined,
        source: { type: 'git', url, ref, path, commit: fetched.commit, rendered: fetched.rendered },
      };
    }
    return this.checkBuilt(scope, cluster, row, built);
  }

  /**
   * The checks every apply passes before anything is stored: size, readable manifests in the
   * deployment's namespace, the advisory policy evaluation, and the admin role for objects that
   * reach beyond one namespace's workloads.
   */
  private async checkBuilt(
    scope: AccessScope,
    cluster: ClusterRow,
    row: DeploymentRow,
    built: Built,
  ): Promise<CheckedBuilt> {
    const bytes = Buffer.byteLength(built.manifests) + Buffer.byteLength(built.sealed ?? '');
    if (bytes > Math.min(DEPLOYMENT_MANIFESTS_MAX_BYTES, COMMAND_LIMITS.payloadBytes - 4096)) {
      throw new NiroError(
        413,
        'manifests_too_large',
        `The manifests are ${bytes} bytes; a deployment's manifests may have at most ${DEPLOYMENT_MANIFESTS_MAX_BYTES}`,
      );
    }
    const parsed = parseManifests(built.manifests, MANIFEST_LIMITS);
    if (parsed.errors.length > 0) {
      throw new BadRequestError(
        'manifests_invalid',
        `The manifests cannot be read: ${parsed.errors.slice(0, 3).map(manifestErrorText).join('; ')}`,
        { errors: parsed.errors.slice(0, 20) },
      );
    }
    if (parsed.objects.length === 0) {
      throw new BadRequestError('manifests_empty', 'The manifests hold no Kubernetes objects');
    }
    for (const object of parsed.objects) {
      const namespace = object.metadata.namespace;
      if (namespace !== undefined && namespace !== row.namespace) {
        throw new BadRequestError(
          'manifest_namespace_mismatch',
          `${object.kind}/${object.metadata.name} is in namespace ${namespace}, but the deployment manages namespace ${row.namespace}; remove metadata.namespace or deploy it separately`,
        );
      }
    }
    const evaluation = await this.deps.policy.evaluate({ yaml: built.manifests, environment: cluster.environment });
    const role = scope.roleIn(cluster.org_id);
    if (role !== null && !roleAtLeast(role, 'admin')) {
      const reasons = adminOnlyReasons(parsed.objects, evaluation.findings, row.namespace);
      if (reasons.length > 0) {
        throw new ForbiddenError(
          'manifest_needs_admin',
          `Only admins of the organization may apply ${reasons.slice(0, 5).join('; ')}${reasons.length > 5 ? ` and ${reasons.length - 5} more` : ''}: these change access to the cluster or reach the node. Ask an admin to apply it.`,
        );
      }
    }
    return { ...built, evaluation };
  }

  private async startApply(
    scope: AccessScope,
    cluster: ClusterRow,
    row: DeploymentRow,
    built: CheckedBuilt,
    ctx: RequestContext,
    options: { prune: boolean; rollbackOf?: number; message?: string; onBehalfOf?: boolean },
  ): Promise<void> {
    const { evaluation } = built;
    const now = this.deps.clock.now();
    // The revision the caller read; the conditional update below refuses if another apply took it.
    const revision = row.revision + 1;
    const findings = [...evaluation.findings, ...firstRevisionFindings(revision, built.manifests, cluster.environment)];
    const claimed = await this.deps.repo.transaction(async (repo) => {
      if (!(await repo.update(row.id, { revision, status: 'pending', updated_at: now }, { revision: row.revision }))) {
        return false;
      }
      await repo.insertRevision({
        deployment_id: row.id,
        revision,
        created_at: now,
        created_by:
          ctx.actor.type === 'user' || ctx.actor.type === 'token' || options.onBehalfOf === true ? scope.userId : null,
        created_by_label: ctx.actor.label,
        source: JSON.stringify(built.source),
        manifests: built.manifests,
        findings: JSON.stringify(findings),
        manifest_errors: JSON.stringify(evaluation.errors),
        command_id: null,
        status: 'pending',
        objects: null,
        error: null,
        completed_at: null,
        rollback_of: options.rollbackOf ?? null,
        prune: options.prune ? 1 : 0,
        message: options.message ?? null,
      });
      return true;
    });
    if (!claimed) {
      throw new ConflictError(
        'deployment_changed',
        `Another apply of ${row.name} started at the same time (now at revision ${revision}); look at it and try again`,
      );
    }
    try {
      const { command } = await this.deps.commands.create(
        scope,
        cluster.id,
        {
          kind: 'apply',
          payload: {
            manifests: built.manifests,
            namespace: row.namespace,
            deploymentId: row.id,
            revision,
            prune: options.prune,
          },
        },
        ctx,
        built.sealed === undefined ? {} : { sealedManifests: built.sealed },
      );
      await this.deps.repo.updateRevision(row.id, revision, { command_id: command.id });
      await this.deps.audit.record({
        actor: ctx.actor,
        action: options.rollbackOf === undefined ? 'deployment.apply' : 'deployment.rollback',
        target: { type: 'deployment', id: row.id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: {
          revision,
          commandId: command.id,
          rollbackOf: options.rollbackOf ?? null,
          findings: findings.length,
        },
      });
      this.deps.logger.info({ deploymentId: row.id, revision, commandId: command.id }, 'deployment apply queued');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.deps.repo.updateRevision(row.id, revision, {
        status: 'failed',
        error: JSON.stringify({ code: err instanceof NiroError ? err.code : 'internal', message }),
        completed_at: this.deps.clock.now(),
      });
      await this.deps.repo.update(row.id, { status: 'failed', last_error: message }, { revision });
      throw err;
    }
  }

  private async archive(
    row: DeploymentRow,
    lifecycle: 'deleted' | 'unmanaged',
    ctx: RequestContext | null,
    reason: string,
  ): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.repo.update(row.id, {
      lifecycle,
      archived_at: now,
      updated_at: now,
      rollout_state: 'none',
      delete_command_id: null,
      drift_command_id: null,
    });
    if (ctx !== null) {
      await this.deps.audit.record({
        actor: ctx.actor,
        action: lifecycle === 'deleted' ? 'deployment.delete' : 'deployment.unmanage',
        target: { type: 'deployment', id: row.id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: { name: row.name },
      });
    }
    await this.deps.incidents.resolve(row.cluster_id, 'deployment_failed', row.id, reason);
    await this.deps.incidents.resolve(row.cluster_id, 'drift_detected', row.id, reason);
    this.watch?.invalidate();
  }

  private async pullSecretManifest(
    scope: AccessScope,
    row: DeploymentRow,
    registryId: string,
  ): Promise<{ secretName: string; manifest: string }> {
    const registries = this.deps.registries;
    if (registries === undefined) {
      throw new NiroError(501, 'registries_unavailable', 'Registry credentials are not available on this server');
    }
    const pull = await registries.pullSecretFor(registryId, scope.orgIds);
    const manifest = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: pull.secretName, namespace: row.namespace },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(pull.dockerConfigJson).toString('base64') },
    });
    return { secretName: pull.secretName, manifest };
  }

  private sealCredential(source: DeploymentSourceRequest, id: string): string | null {
    if (source.type !== 'git' || source.credential === undefined) return null;
    return this.deps.box.encrypt(JSON.stringify(source.credential), `deployment:${id}`);
  }

  private openCredential(row: DeploymentRow): { username: string; password: string } | undefined {
    if (row.git_credential === null) return undefined;
    const value: unknown = JSON.parse(this.deps.box.decrypt(row.git_credential, `deployment:${row.id}`));
    if (isRecord(value) && typeof value.username === 'string' && typeof value.password === 'string') {
      return { username: value.username, password: value.password };
    }
    return undefined;
  }

  private async toDto(row: DeploymentWithCluster, detailed: boolean, context?: DtoContext): Promise<Deployment> {
    const stored = parseJsonObject(row.source);
    const source: DeploymentSource =
      row.source_type === 'git'
        ? {
            type: 'git',
            url: String(stored.url),
            ref: String(stored.ref),
            path: String(stored.path),
            hasCredential: row.git_credential !== null,
          }
        : row.source_type === 'builder' && Value.Check(DeploymentForm, stored.form)
          ? { type: 'builder', form: stored.form }
          : { type: 'yaml', yaml: typeof stored.yaml === 'string' ? stored.yaml : '' };
    const counts = findingCounts(
      row.revision === 0
        ? null
        : context !== undefined
          ? (context.findings.get(row.id) ?? null)
          : ((await this.deps.repo.findRevision(row.id, row.revision))?.findings ?? null),
    );
    let rollout: Deployment['rollout'] = {
      state: row.rollout_state,
      revision: row.rollout_revision,
      startedAt: isoOrNull(row.rollout_started_at),
      deadlineAt: isoOrNull(row.rollout_deadline_at),
      readyAt: isoOrNull(row.rollout_ready_at),
      desiredReplicas: 0,
      updatedReplicas: 0,
      readyReplicas: 0,
      availableReplicas: 0,
      workloads: [],
      pods: [],
      reportedAt: null,
    };
    if (row.rollout_state !== 'none' && row.lifecycle === 'active') {
      const expected = parseGenerations(row.rollout_generations);
      const inventory = await this.deps.inventory.read(
        row.cluster_id,
        { namespace: row.namespace, workloads: expected, withPods: detailed },
        context?.documents,
      );
      const progress = rolloutProgress(row.namespace, expected, inventory.workloads, inventory.pods);
      rollout = {
        ...rollout,
        desiredReplicas: progress.desiredReplicas,
        updatedReplicas: progress.updatedReplicas,
        readyReplicas: progress.readyReplicas,
        availableReplicas: progress.availableReplicas,
        workloads: progress.workloads,
        pods: detailed ? progress.pods : [],
        reportedAt: isoOrNull(row.last_heartbeat_at),
      };
    }
    return {
      id: row.id,
      orgId: row.org_id,
      clusterId: row.cluster_id,
      clusterName: row.cluster_name,
      environment: row.environment,
      namespace: row.namespace,
      name: row.name,
      source,
      status: row.status,
      lifecycle: row.lifecycle,
      revision: row.revision,
      appliedRevision: row.applied_revision,
      rollout,
      drift: {
        state: row.drift_state,
        checkedAt: isoOrNull(row.drift_checked_at),
        objects: parseArray(row.drift_objects).filter((o): o is ObjectResult => Value.Check(ObjectResult, o)),
      },
      findingCounts: counts,
      lastError: row.last_error,
      createdAt: iso(row.created_at),
      createdBy: row.created_by,
      updatedAt: iso(row.updated_at),
      archivedAt: isoOrNull(row.archived_at),
    };
  }
}

// ---------------------------------------------------------------------------------------------

const SYSTEM_CONTEXT: RequestContext = { actor: { type: 'system', id: null, label: 'drift check' }, ip: null };
const TRACKING_CONTEXT: RequestContext = { actor: { type: 'system', id: null, label: 'Git tracking' }, ip: null };

/** What Niro itself may do in one org: queue commands (never shown as a user's). */
function systemScope(orgId: string): AccessScope {
  return new AccessScope('', new Map([[orgId, 'member']]));
}

/** Cross-field rules of a builder form and a Git location's syntax, as 400s naming the problem. */
function checkSource(source: DeploymentSourceRequest, field: string): void {
  if (source.type === 'git') {
    // The same checks the clone makes, before anything is stored.
    parseGitUrl(source.url);
    parseGitRef(source.ref);
    parseGitPath(source.path);
    return;
  }
  if (source.type === 'builder') {
    const issues = validateDeploymentForm(source.form);
    if (issues.length > 0) {
      const fields = issues.map((i) => ({
        field: `${field}.form${i.path === '' ? '' : `.${i.path}`}`,
        message: i.message,
      }));
      throw new BadRequestError(
        'invalid_request',
        `Invalid request: ${fields
          .slice(0, 5)
          .map((f) => `${f.field}: ${f.message}`)
          .join('; ')}`,
        { fields },
      );
    }
  }
}

/**
 * The runtime half of `no-rollback-history` (DESIGN 6): the first revision of a managed deployment
 * has nothing to roll back to. Named on its first workload; none without workloads.
 */
function firstRevisionFindings(
  revision: number,
  manifests: string,
  environment: ClusterRow['environment'],
): PolicyFinding[] {
  const rule = ruleById('no-rollback-history');
  if (revision !== 1 || rule === undefined) return [];
  const workload = parseManifests(manifests).objects.find((o) =>
    ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind),
  );
  if (workload === undefined) return [];
  return [
    {
      ruleId: rule.id,
      title: rule.title,
      severity: severityFor(rule.severity, environment),
      category: rule.category,
      message: 'This is the first revision of this deployment: there is no earlier revision to roll back to yet.',
      object: { kind: workload.kind, name: workload.metadata.name },
      fix: 'Nothing to do now: the next apply keeps this revision to roll back to.',
    },
  ];
}

/** The list's cursor: `o` and the offset of the next page. */
function parseOffsetCursor(cursor: string): number {
  const match = /^o([0-9]{1,9})$/.exec(cursor);
  if (match?.[1] === undefined) {
    throw new BadRequestError('invalid_cursor', 'Invalid request: querystring.cursor: use the nextCursor of a page', {
      fields: [{ field: 'querystring.cursor', message: 'is not a cursor of this list' }],
    });
  }
  return Number(match[1]);
}

function storedSource(source: DeploymentSourceRequest): string {
  if (source.type === 'builder') return JSON.stringify({ form: source.form });
  if (source.type === 'yaml') return JSON.stringify({ yaml: source.yaml });
  return JSON.stringify({ url: source.url, ref: source.ref, path: source.path });
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}

function parseArray(text: string | null): unknown[] {
  if (text === null) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}

function parseRevisionSource(text: string): RevisionSource {
  const value = parseJsonObject(text);
  if (value.type === 'builder' && Value.Check(DeploymentForm, value.form)) return { type: 'builder', form: value.form };
  if (value.type === 'git') {
    return {
      type: 'git',
      url: String(value.url),
      ref: String(value.ref),
      path: String(value.path),
      commit: String(value.commit),
      rendered: value.rendered === 'kustomize' ? 'kustomize' : 'plain',
    };
  }
  return { type: 'yaml' };
}

function objectsOf(result: unknown): ObjectResult[] {
  const objects = isRecord(result) && Array.isArray(result.objects) ? result.objects : [];
  return objects.filter((o): o is ObjectResult => Value.Check(ObjectResult, o));
}

function endedWithoutResult(
  command: { state: string; expires_at: number },
  now: number,
): 'expired' | 'cancelled' | null {
  if (command.state === 'cancelled') return 'cancelled';
  if (command.state === 'expired') return 'expired';
  if ((command.state === 'queued' || command.state === 'delivered') && command.expires_at <= now) return 'expired';
  return null;
}

/** Stored findings (JSON) counted by severity. */
function findingCounts(findings: string | null): DeploymentRevisionSummary['findingCounts'] {
  const counts = { info: 0, low: 0, medium: 0, high: 0 };
  for (const f of parseArray(findings)) {
    const key = isRecord(f) ? SEVERITY_KEYS.find((k) => k === f.severity) : undefined;
    if (key !== undefined) counts[key]++;
  }
  return counts;
}

function toRevisionSummary(rev: Omit<RevisionRow, 'manifests'>): DeploymentRevisionSummary {
  const counts = findingCounts(rev.findings);
  return {
    revision: rev.revision,
    createdAt: iso(rev.created_at),
    createdBy: rev.created_by_label,
    source: parseRevisionSource(rev.source),
    status: rev.status,
    commandId: rev.command_id,
    rollbackOf: rev.rollback_of,
    prune: rev.prune === 1,
    message: rev.message,
    findingCounts: counts,
    completedAt: isoOrNull(rev.completed_at),
  };
}
