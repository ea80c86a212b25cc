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

/** The usual store key: "namespace/name" for namespaced objects, "name" for cluster-scoped ones. */
export function objectKey(object: unknown): string | null {
  const metadata = isRecord(object) ? object.metadata : undefined;
  const name = stringField(metadata, 'name');
  if (name === undefined || name === '') return null;
  const namespace = stringField(metadata, 'namespace');
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}
