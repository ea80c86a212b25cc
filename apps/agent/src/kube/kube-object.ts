/** Shape checks for JSON from the API server and kubeconfig files, which stay `unknown` until checked. */

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function stringField(value: unknown, key: string): string | undefined {
  if (!isRecord(value)) return undefined;
  const field = value[key];
  return typeof field === 'string' ? field : undefined;
}

/** `metadata.resourceVersion` of an object, list or bookmark. */
export function resourceVersionOf(object: unknown): string | undefined {
  return isRecord(object) ? stringField(object.metadata, 'resourceVersion') : undefined;
}

/** metadata.generation, when the object has one (workloads and most spec-bearing kinds do). */
export function generationOf(object: unknown): number | undefined {
  const metadata = isRecord(object) ? object.metadata : undefined;
  const generation = isRecord(metadata) ? metadata.generation : undefined;
  return typeof generation === 'number' && Number.isInteger(generation) && generation >= 0 ? generation : undefined;
}

/** The usual store key: "namespace/name" for namespaced objects, "name" for cluster-scoped ones. */
export function objectKey(object: unknown): string | null {
  const metadata = isRecord(object) ? object.metadata : undefined;
  const name = stringField(metadata, 'name');
  if (name === undefined || name === '') return null;
  const namespace = stringField(metadata, 'namespace');
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}
