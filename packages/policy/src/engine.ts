import { parseManifests, type ManifestError } from './input.js';
import { RULES } from './rules/index.js';
import { SEVERITY_RANK, severityFor } from './severity.js';
import type {
  Environment,
  Finding,
  KubeObject,
  ObjectContext,
  ObjectRef,
  RelatedObjects,
  Rule,
  RuleContext,
  RuleHit,
  Workload,
} from './types.js';
import { containersOf, isRecord, namespaceOf, objectRef, relatedObjects, toWorkload } from './workloads.js';

/**
 * Objects no rule looks at. `name` may end in `*` to match a prefix; `kinds` limits the
 * exemption to some kinds (all kinds when absent).
 */
export type Exemption = { namespace: string; name: string; kinds?: readonly string[]; reason: string };

/** A finding the team accepted: the rule no longer reports on that object. */
export type Suppression = { ruleId: string; object: ObjectRef; reason: string };

/** A rule that failed on an object: it reports nothing there, and evaluation goes on. */
export type RuleFailure = { ruleId: string; object: ObjectRef; message: string };

export type EvaluateOptions = {
  environment: Environment;
  /** What rules may look at beside each object; default: the objects themselves, not complete. */
  related?: RelatedObjects;
  /** Default: DEFAULT_EXEMPTIONS. Pass `[]` to check everything. */
  exemptions?: readonly Exemption[];
  suppressions?: readonly Suppression[];
  /** Default: RULES. */
  rules?: readonly Rule[];
  /** Called for each rule that throws; the evaluation is never stopped by one. */
  onRuleFailure?: (failure: RuleFailure) => void;
};

const K3S_SYSTEM = 'part of the k3s system, managed by k3s';

/** The k3s system workloads (DESIGN 6): the cluster's own, which the team does not deploy. */
export const DEFAULT_EXEMPTIONS: readonly Exemption[] = [
  'coredns',
  'traefik',
  'svclb-*',
  'local-path-provisioner',
  'metrics-server',
  'helm-install-*',
].map((name) => ({ namespace: 'kube-system', name, reason: K3S_SYSTEM }));

/**
 * The findings of `objects`, worst first. Workload rules run on every Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, Job, CronJob, Pod and PodTemplate; object rules run on every object.
 * Other kinds (Services, ConfigMaps, custom resources) are only seen by object rules.
 */
export function evaluate(objects: readonly KubeObject[], options: EvaluateOptions): Finding[] {
  const related = options.related ?? relatedObjects(objects, false);
  const targets = objects.map((object) => ({ object, workload: toWorkload(object) }));
  return run(targets, related, options);
}

/**
 * The findings of one workload (at runtime: a pod template from a cluster's inventory, with the
 * inventory as `related`).
 */
export function evaluateWorkload(
  workload: Workload,
  related: RelatedObjects,
  environment: Environment,
  rules: readonly Rule[] = RULES,
  options: Omit<EvaluateOptions, 'environment' | 'related' | 'rules'> = {},
): Finding[] {
  return run([{ object: workload.object, workload }], related, { ...options, environment, rules });
}

export type YamlEvaluation = {
  findings: Finding[];
  /**
   * Documents that could not be read, and rules that failed on an object (their findings are
   * missing, the others are complete).
   */
  errors: ManifestError[];
};

/** Parses manifests (YAML or JSON) and evaluates what could be read; never throws for bad input. */
export function evaluateYaml(text: string, options: EvaluateOptions): YamlEvaluation {
  const parsed = parseManifests(text);
  const errors = [...parsed.errors];
  const byRef = new Map(parsed.objects.map((object) => [refKey(objectRef(object)), object]));
  const findings = evaluate(parsed.objects, {
    ...options,
    onRuleFailure(failure) {
      options.onRuleFailure?.(failure);
      const at = byRef.get(refKey(failure.object));
      errors.push({
        ...(at === undefined ? {} : { document: at.document, line: at.line }),
        message: `rule ${failure.ruleId} failed on ${refText(failure.object)}, so its findings there are missing: ${failure.message}`,
      });
    },
  });
  errors.sort((a, b) => (a.document ?? 0) - (b.document ?? 0) || (a.line ?? 0) - (b.line ?? 0));
  return { findings, errors };
}

/** Whether an exemption covers the object (by its name, or the name of what owns it). */
export function isExempt(object: KubeObject, exemptions: readonly Exemption[]): boolean {
  if (exemptions.length === 0) return false;
  const namespace = namespaceOf(object);
  const names = [object.metadata.name, ...ownerNames(object)];
  return exemptions.some(
    (exemption) =>
      exemption.namespace === namespace &&
      (exemption.kinds === undefined || exemption.kinds.includes(object.kind)) &&
      names.some((name) => nameMatches(exemption.name, name)),
  );
}

export function isSuppressed(finding: Finding, suppressions: readonly Suppression[]): boolean {
  return suppressions.some(
    (suppression) => suppression.ruleId === finding.ruleId && sameObject(suppression.object, finding.object),
  );
}

/** Worst first, then by object (namespace, kind, name), rule, container and path. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    compareText(a.object.namespace ?? '', b.object.namespace ?? '') ||
    compareText(a.object.kind, b.object.kind) ||
    compareText(a.object.name, b.object.name) ||
    compareText(a.ruleId, b.ruleId) ||
    compareText(a.container ?? '', b.container ?? '') ||
    compareText(a.path ?? '', b.path ?? '') ||
    compareText(a.message, b.message)
  );
}

type Target = { object: KubeObject; workload: Workload | undefined };

function run(targets: readonly Target[], related: RelatedObjects, options: EvaluateOptions): Finding[] {
  const rules = options.rules ?? RULES;
  const exemptions = options.exemptions ?? DEFAULT_EXEMPTIONS;
  const workloadRules = rules.filter((rule) => rule.check !== undefined);
  const objectRules = rules.filter((rule) => rule.checkObject !== undefined);
  const out: Output = { findings: [], options, suppressions: options.suppressions ?? [] };
  let objectContext: ObjectContext | undefined;

  for (const { object, workload } of targets) {
    if (isExempt(object, exemptions)) continue;
    const ref = workload?.ref ?? objectRef(object);
    if (workload !== undefined) {
      const context: RuleContext = {
        workload,
        containers: containersOf(workload),
        related,
        environment: options.environment,
      };
      for (const rule of workloadRules) {
        let hits: RuleHit[] | undefined;
        try {
          hits = rule.check?.(context);
        } catch (err) {
          fail(out, rule, ref, err);
        }
        if (hits !== undefined) report(out, rule, hits, ref);
      }
    }
    if (objectRules.length > 0) {
      objectContext ??= { related, workloads: workloadsOf(targets, related), environment: options.environment };
      for (const rule of objectRules) {
        let hits: RuleHit[] | undefined;
        try {
          hits = rule.checkObject?.(object, objectContext);
        } catch (err) {
          fail(out, rule, ref, err);
        }
        if (hits !== undefined) report(out, rule, hits, ref);
      }
    }
  }
  return sortFindings(out.findings);
}

type Output = { findings: Finding[]; options: EvaluateOptions; suppressions: readonly Suppression[] };

function report(out: Output, rule: Rule, hits: RuleHit[], ref: ObjectRef): void {
  // A rule returning something else than a list (a bug) reports nothing rather than failing the run.
  if (!Array.isArray(hits)) return;
  for (const hit of hits) {
    const finding = toFinding(rule, hit, ref, out.options.environment);
    if (out.suppressions.length === 0 || !isSuppressed(finding, out.suppressions)) out.findings.push(finding);
  }
}

function fail(out: Output, rule: Rule, object: ObjectRef, err: unknown): void {
  out.options.onRuleFailure?.({ ruleId: rule.id, object, message: err instanceof Error ? err.message : String(err) });
}

/**
 * `compareFindings` order. Sorting thousands of findings by comparing eight text fields pair by
 * pair was a third of an inventory's evaluation; most findings share few objects and rules, so
 * those are ranked once and most comparisons are between small integers.
 */
function sortFindings(findings: Finding[]): Finding[] {
  const objectRank = rankOf(
    findings.map((f) => f.object),
    (a, b) =>
      compareText(a.namespace ?? '', b.namespace ?? '') || compareText(a.kind, b.kind) || compareText(a.name, b.name),
  );
  const ruleRank = rankOf(
    findings.map((f) => f.ruleId),
    compareText,
  );
  const keyed = findings.map((finding) => ({
    finding,
    severity: 3 - SEVERITY_RANK[finding.severity],
    object: objectRank.get(finding.object) ?? 0,
    rule: ruleRank.get(finding.ruleId) ?? 0,
  }));
  keyed.sort(
    (a, b) =>
      a.severity - b.severity ||
      a.object - b.object ||
      a.rule - b.rule ||
      compareText(a.finding.container ?? '', b.finding.container ?? '') ||
      compareText(a.finding.path ?? '', b.finding.path ?? '') ||
      compareText(a.finding.message, b.finding.message),
  );
  return keyed.map((k) => k.finding);
}

/** Distinct values (by identity) in `compare` order; equal values share a rank. */
function rankOf<T>(values: readonly T[], compare: (a: T, b: T) => number): Map<T, number> {
  const distinct = [...new Set(values)].sort(compare);
  const ranks = new Map<T, number>();
  let rank = 0;
  distinct.forEach((value, i) => {
    const previous = distinct[i - 1];
    if (i > 0 && previous !== undefined && compare(previous, value) !== 0) rank++;
    ranks.set(value, rank);
  });
  return ranks;
}

type RelatedWorkloads = { objects: ReadonlySet<KubeObject>; workloads: readonly Workload[] };

/** Per related set: evaluating workload after workload against one inventory reads it once. */
const relatedWorkloads = new WeakMap<RelatedObjects, RelatedWorkloads>();

/** The workloads of the related set, plus those evaluated that it does not hold. */
function workloadsOf(targets: readonly Target[], related: RelatedObjects): readonly Workload[] {
  let known = relatedWorkloads.get(related);
  if (known === undefined || known.objects.size !== related.all.length) {
    const given = new Map<KubeObject, Workload | undefined>(targets.map((t) => [t.object, t.workload]));
    const workloads: Workload[] = [];
    for (const object of new Set(related.all)) {
      const workload = given.has(object) ? given.get(object) : toWorkload(object);
      if (workload !== undefined) workloads.push(workload);
    }
    known = { objects: new Set(related.all), workloads };
    relatedWorkloads.set(related, known);
  }
  const { objects } = known;
  const extra = targets.filter((t) => !objects.has(t.object) && t.workload !== undefined);
  if (extra.length === 0) return known.workloads;
  return [...known.workloads, ...extra.flatMap((t) => (t.workload === undefined ? [] : [t.workload]))];
}

function toFinding(rule: Rule, hit: RuleHit, object: ObjectRef, environment: Environment): Finding {
  const finding: Finding = {
    ruleId: rule.id,
    title: rule.title,
    severity: severityFor(hit.severity ?? rule.severity, environment),
    category: rule.category,
    message: hit.message,
    object,
  };
  if (hit.container !== undefined) finding.container = hit.container;
  if (hit.path !== undefined) finding.path = hit.path;
  if (rule.fix !== '') finding.fix = rule.fix;
  return finding;
}

function ownerNames(object: KubeObject): string[] {
  const owners = object.metadata.ownerReferences;
  if (!Array.isArray(owners)) return [];
  const names: string[] = [];
  const hash = object.metadata.labels?.['pod-template-hash'];
  for (const owner of owners) {
    if (!isRecord(owner) || typeof owner.name !== 'string') continue;
    names.push(owner.name);
    // A Deployment's pod is owned by the ReplicaSet `<deployment>-<pod-template-hash>`.
    if (hash !== undefined && owner.name.endsWith(`-${hash}`)) names.push(owner.name.slice(0, -hash.length - 1));
  }
  return names;
}

function nameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

function sameObject(a: ObjectRef, b: ObjectRef): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace || 'default') === (b.namespace || 'default');
}

function refKey(ref: ObjectRef): string {
  return `${ref.kind}\n${ref.namespace || 'default'}\n${ref.name}`;
}

function refText(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
