import { type KubeCluster } from '../harness.js';

export type Item = Record<string, unknown>;

export function isRecord(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a nested field of parsed JSON without trusting its shape. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number') current = Array.isArray(current) ? current[key] : undefined;
    else current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}

/** `kubectl get <args> -o json`, items only. */
export async function getItems(cluster: KubeCluster, args: string[]): Promise<Item[]> {
  const { stdout } = await cluster.kubectl(['get', ...args, '-o', 'json']);
  const items = field(JSON.parse(stdout), 'items');
  if (!Array.isArray(items)) throw new Error(`kubectl get ${args.join(' ')} returned no items list`);
  return items.filter(isRecord);
}

/** `kubectl get --raw <path>`, items only (none when the list has none yet). */
export async function getRawItems(cluster: KubeCluster, path: string): Promise<Item[]> {
  const { stdout } = await cluster.kubectl(['get', '--raw', path]);
  const items = field(JSON.parse(stdout), 'items');
  return Array.isArray(items) ? items.filter(isRecord) : [];
}

/** The status of a condition of that type, e.g. a Node's or Pod's "Ready". */
export function condition(item: unknown, type: string): unknown {
  const conditions = field(item, 'status', 'conditions');
  if (!Array.isArray(conditions)) return undefined;
  return field(
    conditions.find((c) => field(c, 'type') === type),
    'status',
  );
}

/** Polls until check returns a value (not undefined); the deadline only bounds a failure. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
