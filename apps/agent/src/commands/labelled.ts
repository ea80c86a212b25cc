import { DEPLOYMENT_ID_LABEL } from '@niro/protocol/agent-install';
import { KubeApiError } from '../kube/kube-errors.js';
import { isRecord, stringField } from '../kube/kube-object.js';
import type { KubeApi } from '../kube/types.js';
import { resourcePath, type Discovery, type ResourceInfo } from './discovery.js';
import { identity } from './targets.js';

/**
 * Kinds searched for objects labelled with a deployment id, besides the kinds in the set itself:
 * what deployments usually hold. Namespaces and CRDs are left to `delete`, never pruned by
 * omission, because removing them takes everything inside with them.
 */
export const COMMON_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'batch/v1', kind: 'CronJob' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
];

export const CONTAINER_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' },
  { apiVersion: 'v1', kind: 'Namespace' },
];

/** An object found in the cluster by its deployment-id label. */
export type LabelledObject = { info: ResourceInfo; namespace: string | undefined; name: string; key: string };

/** The served kinds among `kinds`, plus `extra`, without repeats; unknown kinds are skipped. */
export async function searchKinds(
  discovery: Discovery,
  kinds: readonly { apiVersion: string; kind: string }[],
  extra: readonly ResourceInfo[] = [],
): Promise<ResourceInfo[]> {
  const found = new Map<string, ResourceInfo>();
  for (const info of extra) found.set(`${info.group}|${info.kind}`, info);
  for (const { apiVersion, kind } of kinds) {
    const info = await discovery.resolve(apiVersion, kind);
    if (info !== undefined && !found.has(`${info.group}|${info.kind}`)) found.set(`${info.group}|${info.kind}`, info);
  }
  return [...found.values()];
}

/**
 * Objects of `info`'s kind, in every namespace, labelled with `deploymentId`. Objects a controller
 * owns (a Deployment's ReplicaSets, say) are left out, their owner answers for them, and so are
 * objects already being deleted (a terminating Namespace).
 */
export async function listLabelled(api: KubeApi, info: ResourceInfo, deploymentId: string): Promise<LabelledObject[]> {
  const found: LabelledObject[] = [];
  await api.list(resourcePath(info), {
    labelSelector: `${DEPLOYMENT_ID_LABEL}=${deploymentId}`,
    onPage: (items) => {
      for (const item of items) {
        const metadata = isRecord(item) ? item.metadata : undefined;
        const name = stringField(metadata, 'name');
        if (name === undefined || controlled(metadata) || stringField(metadata, 'deletionTimestamp') !== undefined) {
          continue;
        }
        const namespace = info.namespaced ? stringField(metadata, 'namespace') : undefined;
        found.push({ info, namespace, name, key: identity(info.group, info.kind, namespace, name) });
      }
    },
  });
  return found;
}

/** DELETE with background propagation; false when the object was already gone. */
export async function deleteObject(api: KubeApi, path: string): Promise<boolean> {
  try {
    await api.request('DELETE', path, {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
    });
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}

/** Deletion order: what lives in namespaces first, CRDs next, Namespaces last. */
export function deleteRank(info: ResourceInfo): number {
  if (info.group === '' && info.kind === 'Namespace') return 2;
  if (info.group === 'apiextensions.k8s.io' && info.kind === 'CustomResourceDefinition') return 1;
  return 0;
}

function controlled(metadata: unknown): boolean {
  const owners = isRecord(metadata) && Array.isArray(metadata.ownerReferences) ? metadata.ownerReferences : [];
  return owners.some((o) => isRecord(o) && o.controller === true);
}
