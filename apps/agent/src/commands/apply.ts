import type { ApplyPayload, ObjectResult } from '@niro/protocol';
import { KubeApiError } from '../kube/kube-errors.js';
import { generationOf, resourceVersionOf } from '../kube/kube-object.js';
import type { KubeApi } from '../kube/types.js';
import { crdKind, definedInSet, resolveDefinedKind, waitForEstablished } from './crd.js';
import type { CommandDeps } from './deps.js';
import type { ResourceInfo } from './discovery.js';
import { changedFields } from './field-diff.js';
import { pruneDeployment } from './prune.js';
import { errorText, manifestOutcome, objectResult, objectsOutcome, type Outcome } from './results.js';
import {
  APPLY_PATCH,
  applyRank,
  FIELD_MANAGER,
  manifestIdentity,
  manifestRef,
  refOf,
  resolveTarget,
  targetIdentity,
  unknownKindMessage,
  type Target,
  type TargetOptions,
} from './targets.js';
import { parseManifests, type ManifestObject } from './yaml.js';

/**
 * Server-side apply of every object (field manager `niro`, conflicts forced): Namespaces and
 * CRDs first, the CRDs' own objects once they are Established. With `prune`, objects labelled
 * with the deployment id that the set no longer holds are deleted afterwards.
 */
export async function applyManifests(payload: ApplyPayload, deps: CommandDeps): Promise<Outcome> {
  const parsed = await parseManifests(payload.manifests);
  if (parsed.errors.length > 0) return manifestOutcome(parsed.errors);
  if (parsed.objects.length === 0) return manifestOutcome([{ message: 'the manifests hold no objects' }]);

  const options: TargetOptions = { namespace: payload.namespace, deploymentId: payload.deploymentId };
  const objects = parsed.objects;
  const results = new Array<ObjectResult | undefined>(objects.length);
  const keep = new Set<string>();
  const kinds = new Map<string, ResourceInfo>();
  const order = objects.map((object, index) => ({ object, index }));
  order.sort((a, b) => applyRank(a.object) - applyRank(b.object));
  let establishedKinds: Set<string> | undefined;
  for (const { object, index } of order) {
    if (establishedKinds === undefined && applyRank(object) === 2) {
      establishedKinds = await waitForCrds(deps, objects, results);
    }
    let target: Target | undefined;
    try {
      if (establishedKinds !== undefined && definedInSet(establishedKinds, object)) {
        await resolveDefinedKind(deps.discovery, object, deps.crdTimeoutMs);
      }
      target = await resolveTarget(deps.discovery, object, options);
    } catch (err) {
      results[index] = objectResult(manifestRef(object), 'failed', errorText(err));
    }
    if (target === undefined) {
      results[index] ??= objectResult(manifestRef(object), 'failed', unknownKindMessage(object));
      // Whether it is namespaced is unknown: keep it from prune either way.
      keep.add(manifestIdentity(object));
      keep.add(manifestIdentity({ ...object, namespace: object.namespace ?? payload.namespace ?? 'default' }));
      continue;
    }
    keep.add(targetIdentity(target));
    kinds.set(`${target.info.group}|${target.info.kind}`, target.info);
    results[index] = await applyTarget(deps.api, target);
  }

  const applied = results.filter((r): r is ObjectResult => r !== undefined);
  if (payload.prune === true && payload.deploymentId !== undefined) {
    applied.push(...(await pruneDeployment(deps, payload.deploymentId, keep, [...kinds.values()])));
  }
  return objectsOutcome(applied);
}

async function applyTarget(api: KubeApi, target: Target): Promise<ObjectResult> {
  try {
    const before = await current(api, target.path);
    const after = await api.request('PATCH', target.path, {
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: target.body,
      contentType: APPLY_PATCH,
    });
    const generation = generationOf(after);
    const withGeneration = (result: ObjectResult): ObjectResult =>
      generation === undefined ? result : { ...result, generation };
    if (before === undefined) return withGeneration(objectResult(refOf(target), 'created'));
    // The API server does not write an apply that changes nothing, so the version stays; when it
    // moved, a controller may have written the status in between, which is no change of ours.
    const unchanged =
      resourceVersionOf(before) === resourceVersionOf(after) || changedFields(before, after, 1).length === 0;
    return withGeneration(objectResult(refOf(target), unchanged ? 'unchanged' : 'configured'));
  } catch (err) {
    return objectResult(refOf(target), 'failed', errorText(err));
  }
}

/** The live object, or undefined when it does not exist. */
async function current(api: KubeApi, path: string): Promise<unknown> {
  try {
    return await api.request('GET', path);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

/**
 * Waits for each CRD applied without error to be Established; a slow one gets a note in its
 * result. Resolves with the kinds of those that are.
 */
async function waitForCrds(
  deps: CommandDeps,
  objects: readonly ManifestObject[],
  results: (ObjectResult | undefined)[],
): Promise<Set<string>> {
  const established = new Set<string>();
  for (const [index, object] of objects.entries()) {
    const kind = crdKind(object);
    const result = results[index];
    if (kind === undefined || result === undefined || result.action === 'failed') continue;
    try {
      if (await waitForEstablished(deps.api, object.name, deps.crdTimeoutMs)) established.add(kind);
      else result.message = `not Established after ${Math.round(deps.crdTimeoutMs / 1000)} s`;
    } catch (err) {
      result.message = `could not check whether it is Established: ${errorText(err)}`;
    }
  }
  return established;
}
