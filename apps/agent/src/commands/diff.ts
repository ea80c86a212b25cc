import type { DiffPayload, ObjectResult } from '@niro/protocol';
import { KubeApiError } from '../kube/kube-errors.js';
import { crdKinds, definedInSet } from './crd.js';
import type { CommandDeps } from './deps.js';
import { changedFields } from './field-diff.js';
import { errorText, manifestOutcome, objectResult, objectsOutcome, type Outcome } from './results.js';
import {
  APPLY_PATCH,
  FIELD_MANAGER,
  manifestRef,
  refOf,
  resolveTarget,
  unknownKindMessage,
  type Target,
  type TargetOptions,
} from './targets.js';
import { parseManifests } from './yaml.js';

/**
 * Compares each object with what an apply would make of it: a dry-run server-side apply gives the
 * object the API would store, and any difference from the live object is drift (`drifted` with
 * the changed field paths). Objects that do not exist are `missing`. Nothing is changed.
 */
export async function diffManifests(payload: DiffPayload, deps: CommandDeps): Promise<Outcome> {
  const parsed = await parseManifests(payload.manifests);
  if (parsed.errors.length > 0) return manifestOutcome(parsed.errors);
  if (parsed.objects.length === 0) return manifestOutcome([{ message: 'the manifests hold no objects' }]);
  const options: TargetOptions = { namespace: payload.namespace, deploymentId: payload.deploymentId };
  const definedKinds = crdKinds(parsed.objects);
  const results: ObjectResult[] = [];
  for (const object of parsed.objects) {
    let target: Target | undefined;
    try {
      target = await resolveTarget(deps.discovery, object, options);
    } catch (err) {
      results.push(objectResult(manifestRef(object), 'failed', errorText(err)));
      continue;
    }
    if (target === undefined) {
      // A custom resource whose CRD the same set would create is simply not there yet.
      results.push(
        definedInSet(definedKinds, object)
          ? objectResult(manifestRef(object), 'missing', 'its CustomResourceDefinition is not installed yet')
          : objectResult(manifestRef(object), 'failed', unknownKindMessage(object)),
      );
      continue;
    }
    results.push(await diffTarget(deps, target));
  }
  return objectsOutcome(results);
}

async function diffTarget(deps: CommandDeps, target: Target): Promise<ObjectResult> {
  try {
    let live: unknown;
    try {
      live = await deps.api.request('GET', target.path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return objectResult(refOf(target), 'missing');
      throw err;
    }
    const desired = await deps.api.request('PATCH', target.path, {
      query: { fieldManager: FIELD_MANAGER, force: true, dryRun: 'All' },
      body: target.body,
      contentType: APPLY_PATCH,
    });
    const fields = changedFields(live, desired);
    return fields.length === 0
      ? objectResult(refOf(target), 'unchanged')
      : objectResult(refOf(target), 'drifted', undefined, fields);
  } catch (err) {
    return objectResult(refOf(target), 'failed', errorText(err));
  }
}
