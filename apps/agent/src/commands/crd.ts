import { setTimeout as delay } from 'node:timers/promises';
import { KubeApiError } from '../kube/kube-errors.js';
import { isRecord, stringField } from '../kube/kube-object.js';
import type { KubeApi } from '../kube/types.js';
import { splitApiVersion, type Discovery, type ResourceInfo } from './discovery.js';
import type { ManifestObject } from './yaml.js';

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const POLL_MS = 200;

export const isCrd = (object: ManifestObject): boolean =>
  object.kind === 'CustomResourceDefinition' && splitApiVersion(object.apiVersion).group === 'apiextensions.k8s.io';

/** "group|Kind" of the kind a CustomResourceDefinition defines; undefined for other objects. */
export function crdKind(object: ManifestObject): string | undefined {
  if (!isCrd(object)) return undefined;
  const spec = object.body.spec;
  const group = stringField(spec, 'group');
  const kind = isRecord(spec) ? stringField(spec.names, 'kind') : undefined;
  return group === undefined || kind === undefined ? undefined : `${group}|${kind}`;
}

/** "group|Kind" of every kind the CustomResourceDefinitions in `objects` define. */
export function crdKinds(objects: readonly ManifestObject[]): Set<string> {
  const kinds = new Set<string>();
  for (const object of objects) {
    const kind = crdKind(object);
    if (kind !== undefined) kinds.add(kind);
  }
  return kinds;
}

export const definedInSet = (kinds: Set<string>, object: ManifestObject): boolean =>
  kinds.has(`${splitApiVersion(object.apiVersion).group}|${object.kind}`);

/** Resolves true once the CRD's Established condition is True, false after `timeoutMs`. */
export async function waitForEstablished(api: KubeApi, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const crd = await api.request('GET', `${CRD_PATH}/${encodeURIComponent(name)}`);
      if (established(crd)) return true;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

/**
 * Resolves a kind the set's own CRD defines: API discovery may lag the Established condition by
 * a moment, so a miss is asked again until `timeoutMs`.
 */
export async function resolveDefinedKind(
  discovery: Discovery,
  object: ManifestObject,
  timeoutMs: number,
): Promise<ResourceInfo | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await discovery.resolve(object.apiVersion, object.kind);
    if (info !== undefined || Date.now() >= deadline) return info;
    await delay(POLL_MS);
  }
}

function established(crd: unknown): boolean {
  const status = isRecord(crd) ? crd.status : undefined;
  const conditions = isRecord(status) && Array.isArray(status.conditions) ? status.conditions : [];
  return conditions.some((c) => stringField(c, 'type') === 'Established' && stringField(c, 'status') === 'True');
}
