import type { ObjectResult } from '@niro/protocol';
import type { CommandDeps } from './deps.js';
import { resourcePath, type ResourceInfo } from './discovery.js';
import { COMMON_KINDS, deleteObject, deleteRank, listLabelled, searchKinds, type LabelledObject } from './labelled.js';
import { errorText, objectResult } from './results.js';

/**
 * Deletes the objects labelled with `deploymentId` that `keep` does not hold (by identity), in the
 * kinds of the set and the common kinds. A kind that cannot be listed is skipped with a warning:
 * prune removes what it can see and never guesses.
 */
export async function pruneDeployment(
  deps: CommandDeps,
  deploymentId: string,
  keep: ReadonlySet<string>,
  setKinds: readonly ResourceInfo[],
): Promise<ObjectResult[]> {
  const stale: LabelledObject[] = [];
  for (const info of await searchKinds(deps.discovery, COMMON_KINDS, setKinds)) {
    try {
      for (const found of await listLabelled(deps.api, info, deploymentId)) if (!keep.has(found.key)) stale.push(found);
    } catch (err) {
      deps.logger.warn(
        { kind: info.kind, group: info.group, err: errorText(err) },
        'prune: cannot list this kind; skipped',
      );
    }
  }
  return deleteAll(deps, stale, 'pruned');
}

/** Deletes `objects` in dependency order; an object already gone counts as done. */
export async function deleteAll(
  deps: CommandDeps,
  objects: readonly LabelledObject[],
  action: 'pruned' | 'deleted',
): Promise<ObjectResult[]> {
  const ordered = [...objects].sort((a, b) => deleteRank(a.info) - deleteRank(b.info));
  const results: ObjectResult[] = [];
  for (const o of ordered) {
    const ref = { kind: o.info.kind, namespace: o.namespace, name: o.name };
    try {
      const existed = await deleteObject(deps.api, resourcePath(o.info, o.namespace, o.name));
      results.push(objectResult(ref, action, existed ? undefined : 'was already absent'));
    } catch (err) {
      results.push(objectResult(ref, 'failed', errorText(err)));
    }
  }
  return results;
}
