import { isRecord } from '../kube/kube-object.js';

/** Bookkeeping the API server changes on its own; never drift. */
const IGNORED_METADATA = new Set([
  'managedFields',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'uid',
  'selfLink',
]);

/**
 * The paths where `desired` differs from `live`, e.g. "spec.replicas" or
 * "spec.template.spec.containers[0].image", at most `limit` of them. `status` and the metadata the
 * server maintains are ignored.
 */
export function changedFields(live: unknown, desired: unknown, limit = 256): string[] {
  const paths: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (paths.length >= limit) return;
    if (isRecord(a) && isRecord(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const key of [...keys].sort()) {
        if (ignored(path, key)) continue;
        walk(a[key], b[key], join(path, key));
      }
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((item, i) => walk(item, b[i], `${path}[${i}]`));
      return;
    }
    // Anything else that is not the very same scalar differs: a changed value, type or array length.
    if (a !== b) paths.push(path);
  };
  walk(live, desired, '');
  return paths;
}

function ignored(path: string, key: string): boolean {
  if (path === '') return key === 'status';
  return path === 'metadata' && IGNORED_METADATA.has(key);
}

/** Dotted paths; keys such as label names that hold dots or slashes go in brackets. */
function join(path: string, key: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}
