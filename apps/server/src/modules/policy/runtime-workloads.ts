import { createHash } from 'node:crypto';
import { RULES, type Environment, type KubeObject, type Rule } from '@niro/policy';
import { DEPLOYMENT_ID_LABEL, Workload } from '@niro/protocol';
import { canonicalJson } from '@niro/protocol/inventory-hash';
import { Compile } from 'typebox/compile';

/**
 * The rules that run on a cluster's inventory. The agent reports workloads with their pod
 * templates, but no Services, PodDisruptionBudgets, HorizontalPodAutoscalers, NetworkPolicies or
 * ServiceAccounts, so a rule that needs related objects would judge from a view it cannot trust
 * ("no PDB" only because none was reported): those run at build time only (docs/api.md). Rules
 * that only look at whole objects (`checkObject`, e.g. deprecated-api) are left out too: the
 * object is rebuilt from the inventory, so its apiVersion is not the one the user wrote.
 */
export const RUNTIME_RULES: Rule[] = RULES.filter((r) => (r.needs ?? []).length === 0 && r.check !== undefined);

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
export function evaluationKey(object: KubeObject, environment: Environment): string {
  return createHash('sha1').update(environment).update('\n').update(canonicalJson(object)).digest('base64');
}
