/**
 * The policy engine's public shapes (DESIGN 6). Pure data: the server, the CLI and the browser
 * run the same rules on the same objects.
 */

export const CATEGORIES = ['reliability', 'security', 'efficiency', 'images'] as const;
export type Category = (typeof CATEGORIES)[number];

export const SEVERITIES = ['info', 'low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ENVIRONMENTS = ['dev', 'staging', 'production', 'unspecified'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** A Kubernetes object as parsed from a manifest or reported by an agent. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    /** Everything else (ownerReferences, uid, ...), unchecked. */
    [field: string]: unknown;
  };
  [field: string]: unknown;
};

export type ObjectRef = { kind: string; namespace?: string; name: string };

/**
 * A workload reduced to what rules read: its pod spec and where that spec sits in the object
 * (`spec.template.spec` for a Deployment, `spec.jobTemplate.spec.template.spec` for a CronJob,
 * `spec` for a Pod), so a finding can name the exact field path.
 */
export type Workload = {
  ref: ObjectRef;
  /** The object as given. */
  object: KubeObject;
  /** `spec.replicas` for Deployments, StatefulSets and ReplicaSets (1 when absent); undefined otherwise. */
  replicas: number | undefined;
  /** Labels of the pod template (or of the Pod). */
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
  podSpec: Record<string, unknown>;
  /** Dotted path of `podSpec` inside `object`, e.g. `spec.template.spec`. */
  podSpecPath: string;
  /** Long-running (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod) rather than run-to-completion (Job, CronJob). */
  longRunning: boolean;
};

/** A container of a workload, init containers included. */
export type Container = {
  name: string;
  /** `containers`, `initContainers` or `ephemeralContainers`. */
  list: 'containers' | 'initContainers' | 'ephemeralContainers';
  index: number;
  spec: Record<string, unknown>;
  /** Dotted path inside the object, e.g. `spec.template.spec.containers[0]`. */
  path: string;
  /** Init containers with `restartPolicy: Always` (sidecars) run for the pod's life. */
  longRunning: boolean;
};

/**
 * The other objects a rule may look at: from the same manifest set at build time, from the
 * cluster's inventory at runtime. `complete` says whether the set is the whole namespace (a
 * cluster inventory) or a partial view (a manifest set), so rules like `missing-pdb` can tell
 * "there is none" from "none was given".
 */
export type RelatedObjects = {
  complete: boolean;
  all: readonly KubeObject[];
  /** Objects of one kind (e.g. `Service`, `PodDisruptionBudget`, `HorizontalPodAutoscaler`, `NetworkPolicy`, `ServiceAccount`) in a namespace. */
  inNamespace(kind: string, namespace: string): readonly KubeObject[];
};

export type RuleContext = {
  workload: Workload;
  containers: readonly Container[];
  related: RelatedObjects;
  environment: Environment;
};

/** What a rule reports; the engine adds rule id, title, category, severity and the object. */
export type RuleHit = {
  message: string;
  container?: string;
  /** Dotted field path inside the object, e.g. `spec.template.spec.containers[0].image`. */
  path?: string;
  /** Overrides the rule's severity pair for this hit (e.g. a CPU limit reported as info). */
  severity?: { nonProduction: Severity; production: Severity };
};

export type Rule = {
  id: string;
  title: string;
  category: Category;
  /** Why it matters, in a few sentences (docs/policy.md). */
  description: string;
  /** How to fix it, in one or two sentences (also in each finding). */
  fix: string;
  /** The object fields the rule reads, as paths relative to the pod spec or the object. */
  reads: readonly string[];
  severity: { nonProduction: Severity; production: Severity };
  /** Kinds of related objects the rule needs (empty when it reads the workload only). */
  needs?: readonly string[];
  /** Runs once per workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod, pod template). */
  check?(context: RuleContext): RuleHit[];
  /**
   * Runs once per object of any kind (e.g. `deprecated-api` on every apiVersion, `selector-mismatch`
   * on a Service whose selector matches no workload).
   */
  checkObject?(object: KubeObject, context: ObjectContext): RuleHit[];
};

export type ObjectContext = {
  related: RelatedObjects;
  /** Every workload of the set (or of the namespace at runtime). */
  workloads: readonly Workload[];
  environment: Environment;
};

/** One finding (DESIGN 6). */
export type Finding = {
  ruleId: string;
  title: string;
  severity: Severity;
  category: Category;
  message: string;
  object: ObjectRef;
  container?: string;
  path?: string;
  fix?: string;
};
