import type { Environment, KubeObject, Rule, RuleContext, RuleHit } from '../../types.js';
import { containersOf, relatedObjects, toWorkload } from '../../workloads.js';

/**
 * Builders for rule tests: workload objects of every kind around one pod spec, and the context a
 * rule sees. Shared by the rules test files; add to it, do not change what others rely on.
 */

export type PodSpec = Record<string, unknown>;
export type Meta = { name?: string; namespace?: string; labels?: Record<string, string> };

const DEFAULT_LABELS = { app: 'web' };

function metadata(meta: Meta, fallbackName: string): KubeObject['metadata'] {
  return {
    name: meta.name ?? fallbackName,
    ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
  };
}

function template(spec: PodSpec, meta: Meta): Record<string, unknown> {
  return { metadata: { labels: meta.labels ?? DEFAULT_LABELS }, spec };
}

export function deployment(spec: PodSpec, meta: Meta = {}, replicas = 2): KubeObject {
  const labels = meta.labels ?? DEFAULT_LABELS;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(meta, 'web'),
    spec: { replicas, selector: { matchLabels: labels }, template: template(spec, meta) },
  };
}

export function statefulSet(spec: PodSpec, meta: Meta = {}, replicas = 2): KubeObject {
  const labels = meta.labels ?? DEFAULT_LABELS;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(meta, 'db'),
    spec: { replicas, serviceName: 'db', selector: { matchLabels: labels }, template: template(spec, meta) },
  };
}

export function daemonSet(spec: PodSpec, meta: Meta = {}): KubeObject {
  const labels = meta.labels ?? DEFAULT_LABELS;
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: metadata(meta, 'agent'),
    spec: { selector: { matchLabels: labels }, template: template(spec, meta) },
  };
}

export function job(spec: PodSpec, meta: Meta = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(meta, 'migrate'),
    spec: { template: template({ restartPolicy: 'Never', ...spec }, meta) },
  };
}

export function cronJob(spec: PodSpec, meta: Meta = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: metadata(meta, 'nightly'),
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: { spec: { template: template({ restartPolicy: 'OnFailure', ...spec }, meta) } },
    },
  };
}

export function pod(spec: PodSpec, meta: Meta = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata(meta, 'web-0'), labels: meta.labels ?? DEFAULT_LABELS },
    spec,
  };
}

/** A container with a pinned image and nothing else; pass fields to add or override. */
export function container(name: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: `registry.example.com/${name}:1.0.0`, ...fields };
}

export function object(
  kind: string,
  name: string,
  fields: Record<string, unknown> = {},
  namespace?: string,
): KubeObject {
  const apiVersion =
    kind === 'NetworkPolicy'
      ? 'networking.k8s.io/v1'
      : kind === 'PodDisruptionBudget'
        ? 'policy/v1'
        : kind === 'HorizontalPodAutoscaler'
          ? 'autoscaling/v2'
          : 'v1';
  return { apiVersion, kind, metadata: { name, ...(namespace !== undefined ? { namespace } : {}) }, ...fields };
}

export type ContextOptions = { complete?: boolean; environment?: Environment };

/** The context a rule sees for `workload`, with `others` (and the workload) as related objects. */
export function contextFor(
  workload: KubeObject,
  others: readonly KubeObject[] = [],
  options: ContextOptions = {},
): RuleContext {
  const reduced = toWorkload(workload);
  if (!reduced) throw new Error(`not a workload: ${workload.kind}`);
  return {
    workload: reduced,
    containers: containersOf(reduced),
    related: relatedObjects([workload, ...others], options.complete ?? false),
    environment: options.environment ?? 'production',
  };
}

/** Runs one rule's per-workload check. */
export function runRule(
  rule: Rule,
  workload: KubeObject,
  others: readonly KubeObject[] = [],
  options: ContextOptions = {},
): RuleHit[] {
  if (!rule.check) throw new Error(`rule ${rule.id} has no per-workload check`);
  return rule.check(contextFor(workload, others, options));
}

/** The rule with this id from a rules list; fails the test when it is missing. */
export function ruleIn(rules: readonly Rule[], id: string): Rule {
  const rule = rules.find((candidate) => candidate.id === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return rule;
}
