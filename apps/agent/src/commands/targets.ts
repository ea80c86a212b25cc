import { DEPLOYMENT_ID_LABEL } from '@niro/protocol/agent-install';
import { isRecord } from '../kube/kube-object.js';
import { resourcePath, splitApiVersion, type Discovery, type ResourceInfo } from './discovery.js';
import type { ManifestObject } from './yaml.js';

/** A manifest object with its place in the API and the body Niro sends for it. */
export type Target = {
  object: ManifestObject;
  info: ResourceInfo;
  /** Undefined for cluster-scoped kinds. */
  namespace: string | undefined;
  path: string;
  body: Record<string, unknown>;
};

export type TargetOptions = {
  /** For namespaced objects that name none; "default" when unset, as with kubectl. */
  namespace?: string | undefined;
  /** Added as the DEPLOYMENT_ID_LABEL label, so prune and delete find the object later. */
  deploymentId?: string | undefined;
};

export const FIELD_MANAGER = 'niro';
export const APPLY_PATCH = 'application/apply-patch+yaml';

/** How an object is named in results: kind, namespace (when namespaced), name. */
export type ObjectRef = { kind: string; namespace?: string | undefined; name: string };

export const refOf = (target: Target): ObjectRef => ({
  kind: target.object.kind,
  namespace: target.namespace,
  name: target.object.name,
});

/** Before resolution the namespace is the one written, if any. */
export const manifestRef = (object: ManifestObject): ObjectRef => ({
  kind: object.kind,
  namespace: object.namespace,
  name: object.name,
});

/**
 * One object's identity across API versions: group, kind, namespace, name. Used to tell which
 * labelled objects in the cluster belong to the set.
 */
export function identity(group: string, kind: string, namespace: string | undefined, name: string): string {
  return `${group}|${kind}|${namespace ?? ''}|${name}`;
}

export const targetIdentity = (t: Target): string => identity(t.info.group, t.info.kind, t.namespace, t.object.name);

/** The object's identity when its kind could not be resolved: the namespace as written. */
export function manifestIdentity(object: ManifestObject): string {
  return identity(splitApiVersion(object.apiVersion).group, object.kind, object.namespace, object.name);
}

/** Undefined when the API server does not serve the object's kind. */
export async function resolveTarget(
  discovery: Discovery,
  object: ManifestObject,
  options: TargetOptions,
): Promise<Target | undefined> {
  const info = await discovery.resolve(object.apiVersion, object.kind);
  if (info === undefined) return undefined;
  const namespace = info.namespaced ? (object.namespace ?? options.namespace ?? 'default') : undefined;
  const metadata = isRecord(object.body.metadata) ? { ...object.body.metadata } : {};
  if (namespace === undefined) delete metadata.namespace;
  else metadata.namespace = namespace;
  if (options.deploymentId !== undefined) {
    const labels = isRecord(metadata.labels) ? metadata.labels : {};
    metadata.labels = { ...labels, [DEPLOYMENT_ID_LABEL]: options.deploymentId };
  }
  return {
    object,
    info,
    namespace,
    path: resourcePath(info, namespace, object.name),
    body: { ...object.body, metadata },
  };
}

export const unknownKindMessage = (object: ManifestObject): string =>
  `the API server does not serve kind ${object.kind} in ${object.apiVersion}`;

/** Namespaces first, then CustomResourceDefinitions, then the rest in their given order. */
export function applyRank(object: ManifestObject): number {
  const group = splitApiVersion(object.apiVersion).group;
  if (group === '' && object.kind === 'Namespace') return 0;
  if (group === 'apiextensions.k8s.io' && object.kind === 'CustomResourceDefinition') return 1;
  return 2;
}
