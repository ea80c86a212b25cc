import { ruleById } from '@niro/policy';
import type { CreateSuppressionRequest, Suppression, SuppressionList, SuppressionsQuery } from '@niro/protocol';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../logger.js';
import type { ClustersService } from '../clusters/clusters.service.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';
import { isDuplicateSuppression, type SuppressionRow, type SuppressionsRepository } from './suppressions.repository.js';

/**
 * Suppressions of runtime findings (DESIGN 6): a team accepts a rule's finding on one object,
 * on one cluster or on every cluster of an org, with a reason. Findings are never changed:
 * listing applies the live suppressions, so creating or deleting one takes effect at once.
 * Members write, viewers read; every write leaves an audit entry with the reason.
 */
export class SuppressionsService {
  constructor(
    private readonly repo: SuppressionsRepository,
    private readonly clusters: ClustersService,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async list(scope: AccessScope, query: SuppressionsQuery): Promise<SuppressionList> {
    const now = this.clock.now();
    let cluster: { id: string; orgId: string } | undefined;
    if (query.cluster !== undefined) {
      const row = await this.clusters.find(scope, query.cluster);
      cluster = { id: row.id, orgId: row.org_id };
    }
    const rows = await this.repo.list(scope.orgIds, cluster);
    return { items: rows.map((r) => toSuppression(r, now)) };
  }

  async create(scope: AccessScope, input: CreateSuppressionRequest, ctx: RequestContext): Promise<Suppression> {
    const now = this.clock.now();
    if (ruleById(input.ruleId) === undefined) {
      throw invalid('unknown_rule', 'body.ruleId', `is not a rule of GET /api/v1/policy/rules: ${input.ruleId}`);
    }
    const reason = input.reason.trim();
    if (reason === '') throw invalid('invalid_request', 'body.reason', 'must say why (not only spaces)');
    let expiresAt: number | null = null;
    if (input.expiresAt !== undefined) {
      expiresAt = Date.parse(input.expiresAt);
      if (!Number.isFinite(expiresAt)) throw invalid('invalid_request', 'body.expiresAt', 'is not a date-time');
      if (expiresAt <= now) throw invalid('invalid_request', 'body.expiresAt', 'must be in the future');
    }
    let orgId: string;
    let clusterId: string | null = null;
    if (input.clusterId !== undefined) {
      const cluster = await this.clusters.find(scope, input.clusterId);
      scope.require(cluster.org_id, 'member', 'Cluster');
      if (input.orgId !== undefined && input.orgId !== cluster.org_id) {
        throw invalid('invalid_request', 'body.orgId', 'is not the organization of the cluster');
      }
      orgId = cluster.org_id;
      clusterId = cluster.id;
    } else {
      orgId = scope.targetOrg(input.orgId, 'member', 'Suppressing a finding');
    }
    const row: SuppressionRow = {
      id: newId(now),
      org_id: orgId,
      cluster_id: clusterId,
      cluster_key: clusterId ?? '',
      rule_id: input.ruleId,
      object_kind: input.object.kind,
      object_namespace: input.object.namespace,
      object_name: input.object.name,
      reason,
      created_by: scope.userId,
      created_at: now,
      expires_at: expiresAt,
    };
    const existing = await this.repo.findByKey(row);
    if (existing !== undefined && !isExpired(existing, now)) throw exists(existing);
    try {
      await this.repo.transaction(async (tx) => {
        // An expired suppression of the same key is only history: the new one takes its place.
        if (existing !== undefined) await tx.suppressions.delete(existing.id);
        await tx.suppressions.insert(row);
        await tx.audit.record({
          actor: ctx.actor,
          action: 'suppression.create',
          target: { type: 'suppression', id: row.id },
          orgId,
          ip: ctx.ip,
          details: {
            ruleId: row.rule_id,
            object: input.object,
            clusterId,
            reason,
            expiresAt: isoOrNull(expiresAt),
            ...(existing === undefined ? {} : { replacesExpired: existing.id }),
          },
        });
      });
    } catch (err) {
      // The same suppression created at the same moment: the unique index let one through.
      if (isDuplicateSuppression(err)) {
        const winner = await this.repo.findByKey(row);
        if (winner !== undefined) throw exists(winner);
      }
      throw err;
    }
    this.logger.info({ suppressionId: row.id, orgId, clusterId, ruleId: row.rule_id }, 'finding suppressed');
    return toSuppression(row, now);
  }

  async delete(scope: AccessScope, id: string, ctx: RequestContext): Promise<void> {
    const row = await this.repo.findById(id);
    if (row === undefined || !scope.canSee(row.org_id)) throw new NotFoundError('Suppression');
    scope.require(row.org_id, 'member', 'Suppression');
    const deleted = await this.repo.transaction(async (tx) => {
      if (!(await tx.suppressions.delete(id))) return false;
      await tx.audit.record({
        actor: ctx.actor,
        action: 'suppression.delete',
        target: { type: 'suppression', id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: {
          ruleId: row.rule_id,
          object: { kind: row.object_kind, namespace: row.object_namespace, name: row.object_name },
          clusterId: row.cluster_id,
          reason: row.reason,
        },
      });
      return true;
    });
    if (!deleted) throw new NotFoundError('Suppression');
    this.logger.info({ suppressionId: id, orgId: row.org_id, clusterId: row.cluster_id }, 'suppression deleted');
  }
}

export function isExpired(row: Pick<SuppressionRow, 'expires_at'>, now: number): boolean {
  return row.expires_at !== null && row.expires_at <= now;
}

function toSuppression(row: SuppressionRow, now: number): Suppression {
  return {
    id: row.id,
    orgId: row.org_id,
    clusterId: row.cluster_id,
    ruleId: row.rule_id,
    object: { kind: row.object_kind, namespace: row.object_namespace, name: row.object_name },
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    expiresAt: isoOrNull(row.expires_at),
    expired: isExpired(row, now),
  };
}

const invalid = (code: string, field: string, message: string): BadRequestError =>
  new BadRequestError(code, `Invalid request: ${field}: ${message}`, { fields: [{ field, message }] });

const exists = (row: SuppressionRow): ConflictError =>
  new ConflictError(
    'suppression_exists',
    `Rule ${row.rule_id} is already suppressed on ${row.object_kind} ` +
      `${row.object_namespace === '' ? '' : `${row.object_namespace}/`}${row.object_name} ` +
      (row.cluster_id === null ? 'in every cluster of the organization' : 'in this cluster'),
    { id: row.id },
  );
