import { evaluate, ruleById, SEVERITY_RANK, type Finding, type Severity } from '@niro/policy';
import {
  FINDINGS_LIMIT_DEFAULT,
  POLICY_SEVERITIES,
  workloadKey,
  type FindingPage,
  type FindingsQuery,
  type PolicyCategory,
  type StoredFinding,
} from '@niro/protocol';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { BadRequestError } from '../../errors.js';
import { newId, sha256Hex } from '../../lib/ids.js';
import type { Metrics } from '../../lib/metrics.js';
import { isRecord } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { WorkloadChange, WorkloadListener } from '../heartbeat/heartbeat.service.js';
import type { AccessScope } from '../orgs/access.js';
import type { FindingRefresh, FindingRow, FindingsRepository, ListedFindingRow } from './findings.repository.js';
import { evaluationKey, parseWorkload, RUNTIME_RULES, workloadObject } from './runtime-workloads.js';

/** Where the latest workloads of a cluster are read ("Kind/ns/name" → workload JSON). */
export type WorkloadSource = {
  /** The inventory held in memory by the heartbeat service, if any. */
  held(clusterId: string): ReadonlyMap<string, string> | undefined;
};

/** Pending work for one cluster: some workloads, or all of them. */
type Job = { all: boolean; keys: Set<string> };

type Evaluated = { key: string; evaluationKey: string; deploymentId: string | null; findings: Finding[] };

/**
 * Runtime policy (DESIGN 6): evaluates the pod templates of a cluster's workloads when a
 * heartbeat changes them, and keeps the `findings` table in step (open, refresh, close).
 *
 * Work runs after the heartbeat's reply, one cluster at a time, and coalesces: several
 * heartbeats of one cluster waiting in the queue become one job. Per workload, the key of its
 * last evaluation (object + environment) is kept in memory, so heartbeats that do not change a
 * template cost no evaluation; after a restart every cluster is evaluated once, on its first
 * heartbeat that carries workloads (a full inventory).
 */
export class FindingsService implements WorkloadListener {
  /** clusterId → workload key → evaluation key, for workloads whose findings are stored. */
  private readonly evaluated = new Map<string, Map<string, string>>();
  private readonly queue = new Map<string, Job>();
  private running: Promise<void> | null = null;
  private source: WorkloadSource = { held: () => undefined };

  constructor(
    private readonly repo: FindingsRepository,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Where workloads held in memory come from (the heartbeat service); stored snapshots otherwise. */
  readFrom(source: WorkloadSource): void {
    this.source = source;
  }

  workloadsChanged(clusterId: string, change: WorkloadChange): void {
    const job = this.queue.get(clusterId) ?? { all: false, keys: new Set<string>() };
    if (change.all) job.all = true;
    else for (const k of change.keys) job.keys.add(k);
    this.queue.set(clusterId, job);
    this.start();
  }

  /** The environment is part of every evaluation key: re-evaluates the whole cluster. */
  environmentChanged(clusterId: string): void {
    this.workloadsChanged(clusterId, { all: true });
  }

  /** Resolves once every queued evaluation is stored (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  async list(scope: AccessScope, query: FindingsQuery): Promise<FindingPage> {
    const limit = query.limit ?? FINDINGS_LIMIT_DEFAULT;
    const rows = await this.repo.list(scope.orgIds, {
      clusterId: query.cluster,
      deploymentId: query.deployment,
      minRank: query.severity === undefined ? undefined : SEVERITY_RANK[query.severity],
      state: query.state ?? 'open',
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toStoredFinding),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.severity_rank, last.id) : null,
    };
  }

  private start(): void {
    if (this.running !== null) return;
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      // Yield first: the heartbeat that queued this gets its reply out before any evaluation.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const next = this.queue.entries().next();
      if (next.done === true) return;
      const [clusterId, job] = next.value;
      this.queue.delete(clusterId);
      const stop = this.metrics.policyRuntimeDuration.startTimer();
      try {
        await this.run(clusterId, job);
      } catch (err) {
        // What is stored is unknown now: evaluate the whole cluster on its next change.
        this.evaluated.delete(clusterId);
        this.logger.error({ err, clusterId }, 'runtime policy evaluation failed');
      } finally {
        stop();
      }
    }
  }

  private async run(clusterId: string, job: Job): Promise<void> {
    const environment = await this.repo.clusterEnvironment(clusterId);
    if (environment === undefined) {
      this.evaluated.delete(clusterId);
      return;
    }
    const workloads = this.source.held(clusterId) ?? (await this.storedWorkloads(clusterId));
    const previous = this.evaluated.get(clusterId);
    // Without a record of what was evaluated (first job since start-up, or after a failure),
    // every workload is evaluated and open findings of workloads that are gone are closed.
    const all = job.all || previous === undefined;
    const next = new Map(all ? [] : (previous ?? []));
    const candidates = all ? [...workloads.keys()] : [...job.keys];
    const evaluated: Evaluated[] = [];
    const removed = new Set<string>();
    for (const key of candidates) {
      const json = workloads.get(key);
      const workload = json === undefined ? undefined : parseWorkload(json);
      if (workload === undefined) {
        removed.add(key);
        next.delete(key);
        continue;
      }
      const object = workloadObject(workload);
      const evalKey = evaluationKey(object, environment);
      next.set(key, evalKey);
      if (previous?.get(key) === evalKey) continue;
      evaluated.push({
        key,
        evaluationKey: evalKey,
        deploymentId: workload.deploymentId ?? null,
        findings: evaluate([object], { environment, rules: RUNTIME_RULES }),
      });
    }
    if (evaluated.length > 0) this.metrics.policyEvaluations.inc(evaluated.length);
    if (evaluated.length === 0 && removed.size === 0 && !all) {
      this.evaluated.set(clusterId, next);
      return;
    }
    const open = all
      ? await this.repo.openFindings(clusterId)
      : await this.repo.openFindings(clusterId, [...evaluated.map((e) => e.key), ...removed]);
    await this.store(clusterId, evaluated, open, all ? (key) => !workloads.has(key) : (key) => removed.has(key));
    this.evaluated.set(clusterId, next);
  }

  /** Opens, refreshes and closes findings of the evaluated workloads and of workloads that are gone. */
  private async store(
    clusterId: string,
    evaluated: readonly Evaluated[],
    open: readonly FindingRow[],
    gone: (objectKey: string) => boolean,
  ): Promise<void> {
    const now = this.clock.now();
    const wanted = new Map<string, FindingRow>();
    for (const e of evaluated) {
      for (const f of e.findings) {
        const row = this.rowOf(clusterId, e, f, now);
        // Findings come most severe first: a repeated fingerprint keeps the first.
        if (!wanted.has(row.fingerprint)) wanted.set(row.fingerprint, row);
      }
    }
    const reevaluated = new Set(evaluated.map((e) => e.key));
    const close: string[] = [];
    const touch: string[] = [];
    const refresh: FindingRefresh[] = [];
    for (const row of open) {
      const want = wanted.get(row.fingerprint);
      if (want !== undefined) {
        wanted.delete(row.fingerprint);
        if (
          want.severity === row.severity &&
          want.category === row.category &&
          want.message === row.message &&
          want.deployment_id === row.deployment_id
        ) {
          touch.push(row.id);
        } else {
          refresh.push({
            id: row.id,
            severity: want.severity,
            severity_rank: want.severity_rank,
            category: want.category,
            message: want.message,
            deployment_id: want.deployment_id,
          });
        }
      } else if (reevaluated.has(row.object_key) || gone(row.object_key)) {
        close.push(row.id);
      }
    }
    const inserts = [...wanted.values()];
    if (inserts.length + refresh.length + touch.length + close.length === 0) return;
    await this.repo.apply({ inserts, refresh, touch, close, now });
    if (inserts.length > 0) this.metrics.findingChanges.labels('opened').inc(inserts.length);
    if (close.length > 0) this.metrics.findingChanges.labels('closed').inc(close.length);
  }

  private rowOf(clusterId: string, e: Evaluated, f: Finding, now: number): FindingRow {
    const namespace = f.object.namespace ?? '';
    const container = f.container ?? null;
    const path = f.path ?? null;
    const fingerprint = sha256Hex(JSON.stringify([clusterId, f.ruleId, e.key, container, path]));
    return {
      id: newId(now),
      cluster_id: clusterId,
      rule_id: f.ruleId,
      object_kind: f.object.kind,
      object_namespace: namespace,
      object_name: f.object.name,
      // Runtime findings are about the workload evaluated, so its inventory key names the object.
      object_key: e.key,
      container,
      path,
      severity: f.severity,
      severity_rank: SEVERITY_RANK[f.severity],
      category: f.category,
      message: f.message,
      fingerprint,
      open_fingerprint: fingerprint,
      deployment_id: e.deploymentId,
      first_seen_at: now,
      last_seen_at: now,
      closed_at: null,
    };
  }

  /** Workloads of the stored snapshot document: what a cluster not held in memory last reported. */
  private async storedWorkloads(clusterId: string): Promise<ReadonlyMap<string, string>> {
    const out = new Map<string, string>();
    const text = await this.repo.snapshotDoc(clusterId);
    if (text === null) return out;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return out;
    }
    const list = isRecord(doc) && Array.isArray(doc.workloads) ? doc.workloads : [];
    for (const item of list) {
      if (!isRecord(item)) continue;
      const { kind, namespace, name } = item;
      if (typeof kind !== 'string' || typeof namespace !== 'string' || typeof name !== 'string') continue;
      out.set(workloadKey({ kind, namespace, name }), JSON.stringify(item));
    }
    return out;
  }
}

function toStoredFinding(row: ListedFindingRow): StoredFinding {
  const rule = ruleById(row.rule_id);
  const out: StoredFinding = {
    id: row.id,
    clusterId: row.cluster_id,
    clusterName: row.cluster_name ?? '',
    ruleId: row.rule_id,
    title: rule?.title ?? row.rule_id,
    severity: asSeverity(row.severity),
    category: asCategory(row.category),
    message: row.message,
    object: { kind: row.object_kind, namespace: row.object_namespace, name: row.object_name },
    deploymentId: row.deployment_id,
    state: row.open_fingerprint === null ? 'closed' : 'open',
    firstSeenAt: iso(row.first_seen_at),
    lastSeenAt: iso(row.last_seen_at),
    closedAt: isoOrNull(row.closed_at),
  };
  if (row.container !== null) out.container = row.container;
  if (row.path !== null) out.path = row.path;
  if (rule !== undefined) out.fix = rule.fix;
  return out;
}

const CATEGORIES: readonly PolicyCategory[] = ['reliability', 'security', 'efficiency', 'images'];

function asSeverity(value: string): Severity {
  return POLICY_SEVERITIES.find((s) => s === value) ?? 'info';
}

function asCategory(value: string): PolicyCategory {
  return CATEGORIES.find((c) => c === value) ?? 'reliability';
}

/** Cursors are opaque to clients: the last row's rank and id, base64url JSON. */
function encodeCursor(rank: number, id: string): string {
  return Buffer.from(JSON.stringify([rank, id])).toString('base64url');
}

function decodeCursor(cursor: string): readonly [number, string] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (Array.isArray(v) && v.length === 2) {
    const [rank, id]: unknown[] = v;
    if (typeof rank === 'number' && Number.isInteger(rank) && typeof id === 'string') return [rank, id];
  }
  throw new BadRequestError('invalid_request', 'Invalid request: querystring.cursor: is not a cursor from this API', {
    fields: [{ field: 'querystring.cursor', message: 'is not a cursor from this API' }],
  });
}
