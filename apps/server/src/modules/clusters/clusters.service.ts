import {
  Capabilities,
  KubeEvent,
  Node,
  Pod,
  Workload,
  type Cluster,
  type ClusterNode,
  type ClusterPodDetail,
  type ClusterSummary,
  type ClusterWorkload,
  type CreateClusterRequest,
  type CreateClusterResponse,
  type EnrollmentInfo,
  type ListClustersQuery,
  type UpdateClusterRequest,
} from '@niro/protocol';
import { Value } from 'typebox/value';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { isRecord } from '../../lib/validation.js';
import type { AuditService } from '../audit/audit.service.js';
import type { AccessScope } from '../orgs/access.js';
import type { ClusterPatch, ClusterRow, ClustersRepository } from './clusters.repository.js';
import { EnrollmentService, type RequestContext } from './enrollment.service.js';

/** Same rule as the key pattern of `Labels` in @niro/protocol (Kubernetes label keys). */
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;

type LabelSelector = { key: string; value: string | null };

/** Clusters: create, read, rename, relabel, delete; every write is audited. */
export class ClustersService {
  readonly enrollment: EnrollmentService;

  constructor(
    private readonly repo: ClustersRepository,
    private readonly clock: Clock,
    config: Config,
    private readonly audit: AuditService,
    /** Told, after the commit, when a cluster's agent key stops working (re-enrolled or deleted). */
    private readonly onAgentKeyRevoked: (clusterId: string) => void = () => undefined,
    /** Told, after the commit, when a cluster's environment changed (its findings are re-rated). */
    private readonly onEnvironmentChanged: (clusterId: string) => void = () => undefined,
  ) {
    this.enrollment = new EnrollmentService(repo, clock, config, audit, onAgentKeyRevoked);
  }

  async create(scope: AccessScope, input: CreateClusterRequest, ctx: RequestContext): Promise<CreateClusterResponse> {
    const labels = input.labels ?? {};
    checkLabelKeys(labels);
    const orgId = scope.targetOrg(input.orgId, 'member', 'Creating a cluster');
    if (await this.repo.nameTaken(orgId, input.name)) throw nameTaken(input.name);
    const now = this.clock.now();
    const row: ClusterRow = {
      id: newId(now),
      org_id: orgId,
      name: input.name,
      environment: input.environment ?? 'unspecified',
      labels: JSON.stringify(labels),
      status: 'pending',
      status_changed_at: now,
      created_at: now,
      updated_at: now,
      agent_key_hash: null,
      enrolled_at: null,
      cluster_uid: null,
      last_heartbeat_at: null,
      last_seq: null,
      agent_version: null,
      kubernetes_version: null,
      distribution: null,
      capabilities: null,
      nodes_total: 0,
      nodes_ready: 0,
      pods_total: 0,
      pods_running: 0,
      pods_pending: 0,
      pods_failed: 0,
      cpu_capacity_milli: 0,
      memory_capacity_bytes: 0,
      cpu_requests_milli: 0,
      memory_requests_bytes: 0,
      cpu_usage_milli: null,
      memory_usage_bytes: null,
    };
    const token = this.enrollment.mint(row.id, scope.userId);
    if ((await this.repo.insertWithToken(row, token.row)) === 'name_taken') throw nameTaken(input.name);
    await this.audit.record({
      actor: ctx.actor,
      action: 'cluster.create',
      target: { type: 'cluster', id: row.id },
      orgId,
      ip: ctx.ip,
      details: { name: row.name, environment: row.environment, labels },
    });
    return { cluster: toClusterDto(row), enrollment: token.info };
  }

  /** The cluster if the caller can see it (404 otherwise, whether it exists or not). */
  async find(scope: AccessScope, id: string): Promise<ClusterRow> {
    const row = await this.repo.findById(id);
    if (row === undefined || !scope.canSee(row.org_id)) throw new NotFoundError('Cluster');
    return row;
  }

  async get(scope: AccessScope, id: string): Promise<Cluster> {
    return toClusterDto(await this.find(scope, id));
  }

  async list(scope: AccessScope, query: ListClustersQuery): Promise<Cluster[]> {
    const selectors = parseLabelSelectors(query.label);
    const rows = await this.repo.list(scope.orgIds, {
      environment: query.environment,
      status: query.status,
      nameContains: query.q,
    });
    const out: Cluster[] = [];
    for (const row of rows) {
      const dto = toClusterDto(row);
      if (matchesLabels(dto.labels, selectors)) out.push(dto);
    }
    return out;
  }

  async update(scope: AccessScope, id: string, input: UpdateClusterRequest, ctx: RequestContext): Promise<Cluster> {
    const before = await this.find(scope, id);
    scope.require(before.org_id, 'member', 'Cluster');
    if (input.labels !== undefined) checkLabelKeys(input.labels);
    if (input.name !== undefined && (await this.repo.nameTaken(before.org_id, input.name, id))) {
      throw nameTaken(input.name);
    }
    const patch: ClusterPatch = { updated_at: this.clock.now() };
    if (input.name !== undefined) patch.name = input.name;
    if (input.environment !== undefined) patch.environment = input.environment;
    if (input.labels !== undefined) patch.labels = JSON.stringify(input.labels);
    const result = await this.repo.update(id, patch);
    if (result === 'name_taken' && input.name !== undefined) throw nameTaken(input.name);
    if (result !== 'ok') throw new NotFoundError('Cluster');
    const after = await this.find(scope, id);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (before.name !== after.name) changes.name = { from: before.name, to: after.name };
    if (before.environment !== after.environment) {
      changes.environment = { from: before.environment, to: after.environment };
      this.onEnvironmentChanged(id);
    }
    if (before.labels !== after.labels)
      changes.labels = { from: parseLabels(before.labels), to: parseLabels(after.labels) };
    await this.audit.record({
      actor: ctx.actor,
      action: 'cluster.update',
      target: { type: 'cluster', id },
      orgId: after.org_id,
      ip: ctx.ip,
      details: { changes },
    });
    return toClusterDto(after);
  }

  /** Deletes the cluster with its tokens, snapshot and derived rows; its agent key stops working. */
  async delete(scope: AccessScope, id: string, ctx: RequestContext): Promise<void> {
    const row = await this.find(scope, id);
    scope.require(row.org_id, 'admin', 'Cluster');
    if (!(await this.repo.delete(id))) throw new NotFoundError('Cluster');
    this.onAgentKeyRevoked(id);
    await this.audit.record({
      actor: ctx.actor,
      action: 'cluster.delete',
      target: { type: 'cluster', id },
      orgId: row.org_id,
      ip: ctx.ip,
      details: { name: row.name },
    });
  }

  async issueEnrollmentToken(scope: AccessScope, id: string, ctx: RequestContext): Promise<EnrollmentInfo> {
    return this.enrollment.reissue(scope, await this.find(scope, id), ctx);
  }

  async nodes(scope: AccessScope, id: string): Promise<ClusterNode[]> {
    const doc = await this.snapshot(scope, id);
    const usage = isRecord(doc.usage) && isRecord(doc.usage.nodes) ? doc.usage.nodes : {};
    return listOf(doc.nodes, (n) => Value.Check(Node, n))
      .map((n): ClusterNode => ({ ...n, usage: usagePair(usage[n.name]) }))
      .sort((a, b) => compare(a.name, b.name));
  }

  /** One pod from the latest snapshot: containers with requests, limits and state, and its last usage. */
  async pod(scope: AccessScope, id: string, namespace: string, name: string): Promise<ClusterPodDetail> {
    const doc = await this.snapshot(scope, id);
    const pod = listOf(doc.pods, (p) => Value.Check(Pod, p)).find((p) => p.namespace === namespace && p.name === name);
    if (pod === undefined) throw new NotFoundError(`Pod ${namespace}/${name}`);
    const usage = isRecord(doc.usage) && isRecord(doc.usage.pods) ? doc.usage.pods : {};
    return { clusterId: id, pod, usage: usagePair(usage[`${namespace}/${name}`]) };
  }

  async events(scope: AccessScope, id: string): Promise<KubeEvent[]> {
    const doc = await this.snapshot(scope, id);
    return listOf(doc.events, (e) => Value.Check(KubeEvent, e)).sort(
      (a, b) => compare(b.lastTimestamp, a.lastTimestamp) || compare(a.namespace, b.namespace),
    );
  }

  async workloads(scope: AccessScope, id: string): Promise<ClusterWorkload[]> {
    const doc = await this.snapshot(scope, id);
    return listOf(doc.workloads, (w) => Value.Check(Workload, w))
      .map((w): ClusterWorkload => ({ ...w, template: isRecord(w.template) ? w.template : {} }))
      .sort((a, b) => compare(a.namespace, b.namespace) || compare(a.kind, b.kind) || compare(a.name, b.name));
  }

  /** The latest snapshot document; empty before the first heartbeat. */
  private async snapshot(scope: AccessScope, id: string): Promise<Record<string, unknown>> {
    const row = await this.find(scope, id);
    const text = await this.repo.snapshotDoc(row.id);
    if (text === null) return {};
    const doc: unknown = JSON.parse(text);
    return isRecord(doc) ? doc : {};
  }
}

const nameTaken = (name: string): ConflictError =>
  new ConflictError('cluster_name_taken', `A cluster named "${name}" already exists in this organization`, {
    fields: [{ field: 'body.name', message: 'is taken' }],
  });

/** The JSON schema checks label values and counts; keys need this check (patternProperties alone allows any key). */
function checkLabelKeys(labels: Record<string, string>): void {
  for (const key of Object.keys(labels)) {
    if (!LABEL_KEY.test(key)) {
      const shown = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
      const message = `label key ${shown} is invalid: use letters, digits, ".", "_", "-" and "/", start and end with a letter or digit, at most 253 characters`;
      throw new BadRequestError('invalid_request', `Invalid request: body.labels: ${message}`, {
        fields: [{ field: 'body.labels', message }],
      });
    }
  }
}

function parseLabelSelectors(label: string | string[] | undefined): LabelSelector[] {
  if (label === undefined) return [];
  return (Array.isArray(label) ? label : [label]).map((s) => {
    const eq = s.indexOf('=');
    const key = eq === -1 ? s : s.slice(0, eq);
    if (!LABEL_KEY.test(key)) {
      throw new BadRequestError('invalid_request', 'Invalid request: querystring.label: use key=value or key', {
        fields: [{ field: 'querystring.label', message: 'must be key=value or key' }],
      });
    }
    return { key, value: eq === -1 ? null : s.slice(eq + 1) };
  });
}

function matchesLabels(labels: Record<string, string>, selectors: LabelSelector[]): boolean {
  return selectors.every((s) =>
    s.value === null ? Object.hasOwn(labels, s.key) : Object.hasOwn(labels, s.key) && labels[s.key] === s.value,
  );
}

export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const v: unknown = JSON.parse(text);
    if (isRecord(v)) for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  } catch {
    // A label column that is not JSON reads as no labels rather than failing the whole list.
  }
  return out;
}

export function parseCapabilities(text: string | null): Capabilities | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return Value.Check(Capabilities, v)
      ? { pods: v.pods, logs: v.logs, apply: v.apply, selfUpdate: v.selfUpdate }
      : null;
  } catch {
    return null;
  }
}

type SummaryColumns = Pick<
  ClusterRow,
  | 'nodes_total'
  | 'nodes_ready'
  | 'pods_total'
  | 'pods_running'
  | 'pods_pending'
  | 'pods_failed'
  | 'cpu_capacity_milli'
  | 'memory_capacity_bytes'
  | 'cpu_requests_milli'
  | 'memory_requests_bytes'
  | 'cpu_usage_milli'
  | 'memory_usage_bytes'
>;

export function toClusterSummary(row: SummaryColumns): ClusterSummary {
  return {
    nodesTotal: row.nodes_total,
    nodesReady: row.nodes_ready,
    podsTotal: row.pods_total,
    podsRunning: row.pods_running,
    podsPending: row.pods_pending,
    podsFailed: row.pods_failed,
    cpuCapacityMilli: row.cpu_capacity_milli,
    memoryCapacityBytes: row.memory_capacity_bytes,
    cpuRequestsMilli: row.cpu_requests_milli,
    memoryRequestsBytes: row.memory_requests_bytes,
    cpuUsageMilli: row.cpu_usage_milli,
    memoryUsageBytes: row.memory_usage_bytes,
  };
}

function toClusterDto(row: ClusterRow): Cluster {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    environment: row.environment,
    labels: parseLabels(row.labels),
    status: row.status,
    statusChangedAt: iso(row.status_changed_at),
    createdAt: iso(row.created_at),
    enrolledAt: isoOrNull(row.enrolled_at),
    lastHeartbeatAt: isoOrNull(row.last_heartbeat_at),
    agentVersion: row.agent_version,
    kubernetesVersion: row.kubernetes_version,
    distribution: row.distribution,
    capabilities: parseCapabilities(row.capabilities),
    summary: toClusterSummary(row),
  };
}

function listOf<T>(v: unknown, check: (item: unknown) => item is T): T[] {
  return Array.isArray(v) ? v.filter(check) : [];
}

function usagePair(v: unknown): ClusterNode['usage'] {
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [cpuMilli, memoryBytes]: unknown[] = v;
  return typeof cpuMilli === 'number' && typeof memoryBytes === 'number' ? { cpuMilli, memoryBytes } : null;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
