import {
  evaluate,
  relatedObjects,
  ruleById,
  SEVERITY_RANK,
  type Finding,
  type KubeObject,
  type RelatedObjects,
  type Severity,
} from '@niro/policy';
import {
  FINDINGS_LIMIT_DEFAULT,
  POLICY_SEVERITIES,
  podKey,
  workloadKey,
  type FindingPage,
  type FindingsQuery,
  type PolicyCategory,
  type StoredFinding,
} from '@niro/protocol';
import { canonicalJson } from '@niro/protocol/inventory-hash';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { newId, sha256Hex } from '../../lib/ids.js';
import type { Metrics } from '../../lib/metrics.js';
import { isRecord } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { HeldObjects, WorkloadChange, WorkloadListener } from '../heartbeat/heartbeat.service.js';
import { namespaceOfKey } from '../heartbeat/inventory.model.js';
import type { AccessScope } from '../orgs/access.js';
import type { FindingRefresh, FindingRow, FindingsRepository, ListedFindingRow } from './findings.repository.js';
import {
  EVALUATED_OBJECT_KINDS,
  evaluationKey,
  NamespaceObjects,
  parseWorkload,
  RUNTIME_OBJECT_RULES,
  RUNTIME_RULES,
  RUNTIME_RULES_WITH_OBJECTS,
  workloadObject,
} from './runtime-workloads.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';

/** Where the latest workloads of a cluster are read ("Kind/ns/name" → workload JSON). */
export type WorkloadSource = {
  /** The inventory held in memory by the heartbeat service, if any. */
  held(clusterId: string): ReadonlyMap<string, string> | undefined;
  /** The policy objects and pods of that inventory; without it, the stored snapshot document is read. */
  heldObjects?(clusterId: string): HeldObjects | undefined;
};

/** What runtime policy reads of one cluster's inventory. */
type InventoryView = HeldObjects & { workloads: ReadonlyMap<string, string> };

/** Pending work for one cluster: some workloads and the namespaces whose policy objects changed, or all. */
type Job = { all: boolean; keys: Set<string>; namespaces: Set<string> };

type Evaluated = { key: string; evaluationKey: string; deploymentId: string | null; findings: Finding[] };

/**
 * Runtime policy (DESIGN 6): evaluates the pod templates of a cluster's workloads when a
 * heartbeat changes them, and keeps the `findings` table in step (open, refresh, close). Which
 * rules run depends on whether the agent reports policy objects (runtime-workloads.ts); when it
 * does, a workload's evaluation key includes a digest of its namespace's objects, so a new PDB
 * re-evaluates exactly the workloads of its namespace, and Services and PDBs are evaluated too.
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
    const job = this.queue.get(clusterId) ?? { all: false, keys: new Set<string>(), namespaces: new Set<string>() };
    if (change.all) job.all = true;
    else {
      for (const k of change.keys) job.keys.add(k);
      for (const ns of change.namespaces ?? []) job.namespaces.add(ns);
    }
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
      ruleId: query.rule,
      minRank: query.severity === undefined ? undefined : SEVERITY_RANK[query.severity],
      state: query.state ?? 'open',
      now: this.clock.now(),
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
    const inventory = await this.inventoryOf(clusterId);
    const { workloads, objects } = inventory;
    const previous = this.evaluated.get(clusterId);
    // Without a record of what was evaluated (first job since start-up, or after a failure),
    // every workload is evaluated and open findings of workloads that are gone are closed.
    const all = job.all || previous === undefined;
    const next = new Map(all ? [] : (previous ?? []));
    const index = objects === null ? null : new NamespaceObjects(objects);
    const { workloadKeys, objectKeys } = candidatesOf(job, all, inventory, index, previous);
    const evaluated: Evaluated[] = [];
    const removed = new Set<string>();
    const gone = (key: string): void => {
      removed.add(key);
      next.delete(key);
    };
    for (const key of workloadKeys) {
      const json = workloads.get(key);
      const workload = json === undefined ? undefined : parseWorkload(json);
      if (workload === undefined) {
        gone(key);
        continue;
      }
      const object = workloadObject(workload);
      const ns = workload.namespace;
      const evalKey = evaluationKey(object, environment, index?.digest(ns));
      next.set(key, evalKey);
      if (previous?.get(key) === evalKey) continue;
      evaluated.push({
        key,
        evaluationKey: evalKey,
        deploymentId: workload.deploymentId ?? null,
        findings:
          index === null
            ? evaluate([object], { environment, rules: RUNTIME_RULES })
            : evaluate([object], { environment, related: index.related(ns), rules: RUNTIME_RULES_WITH_OBJECTS }),
      });
    }
    if (index !== null && objectKeys.length > 0) {
      const namespaces = new ObjectNamespaces(inventory, index);
      for (const key of objectKeys) {
        const parsed = index.find(key);
        if (parsed === undefined) {
          gone(key);
          continue;
        }
        const context = namespaces.context(namespaceOfKey(key));
        const evalKey = evaluationKey(parsed.object, environment, context.key);
        next.set(key, evalKey);
        if (previous?.get(key) === evalKey) continue;
        evaluated.push({
          key,
          evaluationKey: evalKey,
          deploymentId: parsed.deploymentId,
          // Where pods the inventory cannot see the labels of may be selected, the rule stays silent.
          findings:
            context.related === null
              ? []
              : evaluate([parsed.object], {
                  environment,
                  related: context.related,
                  rules: RUNTIME_OBJECT_RULES,
                }),
        });
      }
    }
    if (evaluated.length > 0) this.metrics.policyEvaluations.inc(evaluated.length);
    if (evaluated.length === 0 && removed.size === 0 && !all) {
      this.evaluated.set(clusterId, next);
      return;
    }
    const open = all
      ? await this.repo.openFindings(clusterId)
      : await this.repo.openFindings(clusterId, [...evaluated.map((e) => e.key), ...removed]);
    await this.store(
      clusterId,
      evaluated,
      open,
      all ? (key) => !workloads.has(key) && objects?.has(key) !== true : (key) => removed.has(key),
    );
    this.evaluated.set(clusterId, next);
  }

  /** The inventory held in memory, else the stored snapshot document. */
  private async inventoryOf(clusterId: string): Promise<InventoryView> {
    const workloads = this.source.held(clusterId);
    const rest = workloads === undefined ? undefined : this.source.heldObjects?.(clusterId);
    if (workloads !== undefined && rest !== undefined) return { workloads, ...rest };
    return this.storedInventory(clusterId);
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

  /** The inventory of the stored snapshot document: what a cluster not held in memory last reported. */
  private async storedInventory(clusterId: string): Promise<InventoryView> {
    const out: InventoryView = { workloads: new Map(), objects: null, pods: new Map() };
    const text = await this.repo.snapshotDoc(clusterId);
    if (text === null) return out;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return out;
    }
    if (!isRecord(doc)) return out;
    const keyed = (list: unknown, key: (ref: { kind: string; namespace: string; name: string }) => string) => {
      const map = new Map<string, string>();
      for (const item of Array.isArray(list) ? list : []) {
        if (!isRecord(item)) continue;
        const { kind, namespace, name } = item;
        if (typeof kind !== 'string' || typeof namespace !== 'string' || typeof name !== 'string') continue;
        map.set(key({ kind, namespace, name }), JSON.stringify(item));
      }
      return map;
    };
    const pods = new Map<string, { json: string }>();
    for (const pod of Array.isArray(doc.pods) ? doc.pods : []) {
      if (!isRecord(pod) || typeof pod.namespace !== 'string' || typeof pod.name !== 'string') continue;
      pods.set(podKey({ namespace: pod.namespace, name: pod.name }), { json: JSON.stringify(pod) });
    }
    return {
      workloads: keyed(doc.workloads, workloadKey),
      // Absent from the documents of agents that do not report policy objects.
      objects: Array.isArray(doc.objects) ? keyed(doc.objects, workloadKey) : null,
      pods,
    };
  }
}

const kindOfKey = (key: string): string => key.slice(0, key.indexOf('/'));

/** Workloads and policy objects a job looks at: what changed, and what may depend on it. */
function candidatesOf(
  job: Job,
  all: boolean,
  inventory: InventoryView,
  index: NamespaceObjects | null,
  previous: ReadonlyMap<string, string> | undefined,
): { workloadKeys: ReadonlySet<string>; objectKeys: readonly string[] } {
  if (all) {
    const objectKeys: string[] = [];
    for (const key of inventory.objects?.keys() ?? [])
      if (EVALUATED_OBJECT_KINDS.has(kindOfKey(key))) objectKeys.push(key);
    return { workloadKeys: new Set(inventory.workloads.keys()), objectKeys };
  }
  const workloadKeys = new Set(job.keys);
  // Changed objects change what the workloads of their namespace are judged against.
  if (job.namespaces.size > 0 && index !== null) {
    for (const key of inventory.workloads.keys()) if (job.namespaces.has(namespaceOfKey(key))) workloadKeys.add(key);
  }
  if (index === null) return { workloadKeys, objectKeys: [] };
  // Changed workloads change what the Services and PDBs of their namespace select.
  const namespaces = new Set(job.namespaces);
  for (const key of job.keys) namespaces.add(namespaceOfKey(key));
  const objectKeys = new Set<string>();
  for (const ns of namespaces) {
    for (const key of index.keysIn(ns)) if (EVALUATED_OBJECT_KINDS.has(kindOfKey(key))) objectKeys.add(key);
  }
  // Objects evaluated before and now gone: their findings close.
  for (const key of previous?.keys() ?? []) {
    if (EVALUATED_OBJECT_KINDS.has(kindOfKey(key)) && namespaces.has(namespaceOfKey(key))) objectKeys.add(key);
  }
  return { workloadKeys, objectKeys: [...objectKeys] };
}

type ObjectRuleContext = {
  /** Part of the evaluation key of the namespace's Services and PDBs. */
  key: string;
  /** The namespace's objects and workloads; null when its pods cannot all be seen. */
  related: RelatedObjects | null;
};

/**
 * What object rules read per namespace: the pod labels of its workloads, and whether every pod
 * that runs there belongs to one of them. Pods report no labels, so a pod of a Job, an operator
 * or no controller may be what a Service selects: such namespaces are not judged.
 */
class ObjectNamespaces {
  private readonly contexts = new Map<string, ObjectRuleContext>();
  private workloadsByNs: Map<string, string[]> | undefined;
  private podsByNs: Map<string, string[]> | undefined;

  constructor(
    private readonly inventory: InventoryView,
    private readonly index: NamespaceObjects,
  ) {}

  context(namespace: string): ObjectRuleContext {
    let context = this.contexts.get(namespace);
    if (context === undefined) {
      context = this.build(namespace);
      this.contexts.set(namespace, context);
    }
    return context;
  }

  private build(namespace: string): ObjectRuleContext {
    this.workloadsByNs ??= groupByNamespace(this.inventory.workloads.keys(), namespaceOfKey);
    this.podsByNs ??= groupByNamespace(this.inventory.pods.keys(), (key) => key.slice(0, key.indexOf('/')));
    const objects: KubeObject[] = [];
    const labels: string[] = [];
    for (const key of this.workloadsByNs.get(namespace) ?? []) {
      const workload = parseWorkload(this.inventory.workloads.get(key) ?? '');
      if (workload === undefined) continue;
      const object = workloadObject(workload);
      objects.push(object);
      const metadata = isRecord(workload.template) ? workload.template.metadata : undefined;
      labels.push(`${key}\t${canonicalJson(isRecord(metadata) ? (metadata.labels ?? null) : null)}`);
    }
    const judged = (this.podsByNs.get(namespace) ?? []).every((key) =>
      ownedByWorkload(this.inventory.pods.get(key)?.json, namespace, this.inventory.workloads),
    );
    const key = `${judged ? 'judged' : 'not judged'}\n${labels.sort().join('\n')}`;
    if (!judged) return { key, related: null };
    for (const p of this.index.parsed(namespace).values()) objects.push(p.object);
    return { key, related: relatedObjects(objects, true) };
  }
}

function groupByNamespace(keys: Iterable<string>, namespaceOf: (key: string) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of keys) {
    const ns = namespaceOf(key);
    const list = out.get(ns);
    if (list === undefined) out.set(ns, [key]);
    else list.push(key);
  }
  return out;
}

/** Whether a pod is finished, or is run by a workload of the inventory (its labels are known). */
function ownedByWorkload(json: string | undefined, namespace: string, workloads: ReadonlyMap<string, string>): boolean {
  let pod: unknown;
  try {
    pod = JSON.parse(json ?? 'null');
  } catch {
    return false;
  }
  if (!isRecord(pod)) return false;
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return true;
  const owner = pod.owner;
  if (!isRecord(owner) || typeof owner.kind !== 'string' || typeof owner.name !== 'string') return false;
  return workloads.has(workloadKey({ kind: owner.kind, namespace, name: owner.name }));
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
  const s = row.suppression;
  if (s !== undefined) {
    out.suppression = {
      id: s.id,
      reason: s.reason,
      createdByEmail: s.created_by_email,
      createdAt: iso(s.created_at),
    };
    if (s.created_by !== null) out.suppression.createdBy = s.created_by;
    if (s.expires_at !== null) out.suppression.expiresAt = iso(s.expires_at);
  }
  return out;
}

const CATEGORIES: readonly PolicyCategory[] = ['reliability', 'security', 'efficiency', 'images'];

function asSeverity(value: string): Severity {
  return POLICY_SEVERITIES.find((s) => s === value) ?? 'info';
}

function asCategory(value: string): PolicyCategory {
  return CATEGORIES.find((c) => c === value) ?? 'reliability';
}
