import type { DeletePayload, ObjectResult } from '@niro/protocol';
import type { CommandDeps } from './deps.js';
import type { ResourceInfo } from './discovery.js';
import { COMMON_KINDS, CONTAINER_KINDS, listLabelled, searchKinds, type LabelledObject } from './labelled.js';
import { deleteAll } from './prune.js';
import { errorText, manifestOutcome, objectResult, objectsOutcome, type Outcome } from './results.js';
import { manifestRef, resolveTarget, targetIdentity } from './targets.js';
import { parseManifests } from './yaml.js';

/**
 * Deletes the objects of a deployment: those labelled with `deploymentId` (in the common kinds,
 * Namespaces and CRDs, and the kinds of `manifests`), and the objects `manifests` names. An object
 * that is already gone counts as deleted.
 */
export async function deleteObjects(payload: DeletePayload, deps: CommandDeps): Promise<Outcome> {
  const doomed = new Map<string, LabelledObject>();
  const results: ObjectResult[] = [];
  const manifestKinds: ResourceInfo[] = [];

  if (payload.manifests !== undefined) {
    const parsed = await parseManifests(payload.manifests);
    if (parsed.errors.length > 0) return manifestOutcome(parsed.errors);
    for (const object of parsed.objects) {
      try {
        const target = await resolveTarget(deps.discovery, object, { namespace: payload.namespace });
        if (target === undefined) {
          results.push(objectResult(manifestRef(object), 'deleted', 'was already absent (its kind is not served)'));
          continue;
        }
        manifestKinds.push(target.info);
        const key = targetIdentity(target);
        doomed.set(key, { info: target.info, namespace: target.namespace, name: object.name, key });
      } catch (err) {
        results.push(objectResult(manifestRef(object), 'failed', errorText(err)));
      }
    }
  }

  if (payload.deploymentId !== undefined) {
    const kinds = await searchKinds(deps.discovery, [...COMMON_KINDS, ...CONTAINER_KINDS], manifestKinds);
    for (const info of kinds) {
      try {
        for (const found of await listLabelled(deps.api, info, payload.deploymentId)) doomed.set(found.key, found);
      } catch (err) {
        // Without the list, objects of this kind may be left behind: say so rather than report success.
        results.push(objectResult({ kind: info.kind, name: '*' }, 'failed', `cannot list: ${errorText(err)}`));
      }
    }
  }

  results.push(...(await deleteAll(deps, [...doomed.values()], 'deleted')));
  return objectsOutcome(results);
}
