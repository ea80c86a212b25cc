import { createHash } from 'node:crypto';
import { relatedObjects, RULES, type Environment, type KubeObject, type RelatedObjects, type Rule } from '@niro/policy';
import { DEPLOYMENT_ID_LABEL, PolicyObject, Workload } from '@niro/protocol';
import { canonicalJson } from '@niro/protocol/inventory-hash';
import { Compile } from 'typebox/compile';
import { namespaceOfKey } from '../heartbeat/inventory.model.js';

/**
 * The rules that run on a cluster's inventory, and when (docs/api.md, Findings).
 *
 * An agent that reports policy objects (Services, PodDisruptionBudgets, HorizontalPodAutoscalers,
 * NetworkPolicies, ServiceAccounts: `objects` in its full inventories) gives the whole picture of
 * each namespace, so every workload rule runs (RUNTIME_RULES_WITH_OBJECTS), those that need a
 * second object too (missing-pdb, single-replica with an HPA, no-network-policy,
 * default-service-account, private-image-no-credential), against the objects of the workload's
 * namespace as a complete set; and selector-mismatch runs on each Service and PodDisruptionBudget
 * (RUNTIME_OBJECT_RULES) in namespaces where every running pod belongs to a reported workload
 * (pods of Jobs, operators or bare pods carry labels the inventory does not hold).
 *
 * An older agent reports no objects: a rule that needs one would judge from a view it cannot trust
 * ("no PDB" only because none was reported), so only the rules that need no second object run
 * (RUNTIME_RULES). deprecated-api never runs at runtime: objects are rebuilt from the inventory,
 * so their apiVersion is not the one the user wrote.
 */
export const RUNTIME_RULES: Rule[] = RULES.filter((r) => (r.needs ?? []).length === 0 && r.check !== undefined);

/** Workload rules for a cluster whose agent reports policy objects. */
export const RUNTIME_RULES_WITH_OBJECTS: Rule[] = RULES.filter((r) => r.check !== undefined);

/** Object rules that run on reported Services and PodDisruptionBudgets. */
export const RUNTIME_OBJECT_RULES: Rule[] = RULES.filter((r) => r.id === 'selector-mismatch');

/** Kinds of policy objects that object rules are evaluated on (and findings are kept for). */
export const EVALUATED_OBJECT_KINDS: ReadonlySet<string> = new Set(['Service', 'PodDisruptionBudget']);

const workloadCheck = Compile(Workload);

/** A stored inventory workload (JSON text as the heartbeat service holds it), checked. */
export function parseWorkload(json: string): Workload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return workloadCheck.Check(value) ? value : undefined;
}

/**
 * The Kubernetes object a reported workload stands for, with what the rules read: the pod
 * template, replicas (not for DaemonSets: theirs is a status count), the revision history limit
 * and the Niro deployment label.
 */
export function workloadObject(w: Workload): KubeObject {
  const spec: Record<string, unknown> = { template: w.template };
  if (w.kind !== 'DaemonSet') spec.replicas = w.replicas;
  if (w.revisionHistoryLimit !== undefined) spec.revisionHistoryLimit = w.revisionHistoryLimit;
  const metadata: KubeObject['metadata'] = { name: w.name, namespace: w.namespace };
  if (w.deploymentId !== undefined) metadata.labels = { [DEPLOYMENT_ID_LABEL]: w.deploymentId };
  return { apiVersion: 'apps/v1', kind: w.kind, metadata, spec };
}

/**
 * Identifies one evaluation of a workload: the same object in the same environment always has
 * the same findings, so an unchanged key needs no evaluation. Status counts (ready replicas,
 * generations) are not part of the object, so a rollout's progress does not re-evaluate.
 */
export function evaluationKey(object: KubeObject, environment: Environment, context?: string): string {
  const h = createHash('sha1').update(environment).update('\n').update(canonicalJson(object));
  // Without a context (no policy objects reported) the key is what it was before objects existed.
  if (context !== undefined) h.update('\n').update(context);
  return h.digest('base64');
}

const policyObjectCheck = Compile(PolicyObject);

/** A stored policy object (JSON text as the heartbeat service holds it), checked. */
export function parsePolicyObject(json: string): PolicyObject | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return policyObjectCheck.Check(value) ? value : undefined;
}

/** The API version each kind is served under today; the reported object does not carry it. */
const API_VERSIONS: Readonly<Record<PolicyObject['kind'], string>> = {
  Service: 'v1',
  PodDisruptionBudget: 'policy/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  NetworkPolicy: 'networking.k8s.io/v1',
  ServiceAccount: 'v1',
};

/** The Kubernetes object a reported policy object stands for, as the rules read it. */
export function policyKubeObject(o: PolicyObject): KubeObject {
  const metadata: KubeObject['metadata'] = { name: o.name, namespace: o.namespace };
  if (o.labels !== undefined) metadata.labels = o.labels;
  const object: KubeObject = { apiVersion: API_VERSIONS[o.kind], kind: o.kind, metadata };
  if (o.spec !== undefined) object.spec = o.spec;
  if (o.automountServiceAccountToken !== undefined)
    object.automountServiceAccountToken = o.automountServiceAccountToken;
  if (o.imagePullSecrets !== undefined) object.imagePullSecrets = o.imagePullSecrets.map((name) => ({ name }));
  return object;
}

type NamespaceEntry = {
  keys: string[];
  digest?: string;
  objects?: Map<string, ParsedPolicyObject>;
  related?: RelatedObjects;
};

export type ParsedPolicyObject = { key: string; object: KubeObject; deploymentId: string | null };

/**
 * A cluster's reported policy objects by namespace, parsed only for the namespaces asked for:
 * a heartbeat that changed one namespace reads that namespace.
 */
export class NamespaceObjects {
  private readonly namespaces = new Map<string, NamespaceEntry>();

  constructor(private readonly objects: ReadonlyMap<string, string>) {
    for (const key of objects.keys()) {
      const ns = namespaceOfKey(key);
      const entry = this.namespaces.get(ns);
      if (entry === undefined) this.namespaces.set(ns, { keys: [key] });
      else entry.keys.push(key);
    }
  }

  /**
   * Identifies the objects of a namespace: part of the evaluation key of its workloads, so a
   * workload is evaluated again exactly when an object it may depend on changed.
   */
  digest(namespace: string): string {
    const entry = this.namespaces.get(namespace);
    if (entry === undefined) return 'objects:none';
    if (entry.digest === undefined) {
      const h = createHash('sha1');
      for (const key of [...entry.keys].sort())
        h.update(key)
          .update('\t')
          .update(this.objects.get(key) ?? '')
          .update('\n');
      entry.digest = `objects:${h.digest('base64')}`;
    }
    return entry.digest;
  }

  /** The namespace's objects; unreadable ones are left out. */
  parsed(namespace: string): ReadonlyMap<string, ParsedPolicyObject> {
    const entry = this.namespaces.get(namespace);
    if (entry === undefined) return new Map();
    if (entry.objects === undefined) {
      entry.objects = new Map();
      for (const key of entry.keys) {
        const o = parsePolicyObject(this.objects.get(key) ?? '');
        if (o === undefined) continue;
        const deploymentId = o.labels?.[DEPLOYMENT_ID_LABEL] ?? null;
        entry.objects.set(key, { key, object: policyKubeObject(o), deploymentId });
      }
    }
    return entry.objects;
  }

  /** Keys of the namespace's objects (readable or not). */
  keysIn(namespace: string): readonly string[] {
    return this.namespaces.get(namespace)?.keys ?? [];
  }

  /** Namespaces that hold objects. */
  namespaceNames(): IterableIterator<string> {
    return this.namespaces.keys();
  }

  /** The namespace's objects as the complete related set of its workloads. */
  related(namespace: string): RelatedObjects {
    const entry = this.namespaces.get(namespace);
    if (entry === undefined) return relatedObjects([], true);
    entry.related ??= relatedObjects(
      Array.from(this.parsed(namespace).values(), (p) => p.object),
      true,
    );
    return entry.related;
  }

  /** The parsed object with this key, if it is reported and readable. */
  find(key: string): ParsedPolicyObject | undefined {
    return this.parsed(namespaceOfKey(key)).get(key);
  }
}
