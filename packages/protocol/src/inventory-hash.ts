import { createHash } from 'node:crypto';
import type { Node, Pod, PolicyObject, Workload } from './agent.js';
import { podKey, workloadKey } from './keys.js';

/**
 * The inventory hash the agent sends and the simulator reproduces. The server treats it as an
 * opaque token; computing it the same way everywhere keeps simulated and real agents comparable.
 * Kept out of the package index because it needs `node:crypto` (the index also runs in browsers);
 * it loads no schema code, so the agent can use it without TypeBox.
 */

/** JSON with object keys sorted, so equal content always gives equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** `[key, canonicalJson(item)]` pairs of one inventory list, in any order. */
export type CanonicalEntries = Iterable<readonly [string, string]>;

const byKey = (a: readonly [string, string], b: readonly [string, string]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;

/**
 * SHA-256 (hex) over each list sorted by key, one `key\tcanonical-json` line per item. The
 * `objects` section counts only when given, so an inventory without policy objects hashes as it
 * did before they were added to the protocol.
 */
export function hashCanonicalInventory(sections: {
  nodes: CanonicalEntries;
  pods: CanonicalEntries;
  workloads: CanonicalEntries;
  objects?: CanonicalEntries | undefined;
}): string {
  const h = createHash('sha256');
  const labels = [
    'nodes',
    'pods',
    'workloads',
    ...(sections.objects === undefined ? [] : ['objects' as const]),
  ] as const;
  for (const label of labels) {
    h.update(`${label}\n`);
    for (const [k, json] of [...(sections[label] ?? [])].sort(byKey)) h.update(`${k}\t${json}\n`);
  }
  return h.digest('hex');
}

/**
 * The hash of an inventory: independent of list order and property order; `pods` absent counts
 * as no pods.
 */
export function hashInventory(inv: {
  nodes: Node[];
  pods?: Pod[] | undefined;
  workloads: Workload[];
  objects?: PolicyObject[] | undefined;
}): string {
  const entries = <T>(items: readonly T[], key: (x: T) => string): [string, string][] =>
    items.map((x): [string, string] => [key(x), canonicalJson(x)]);
  return hashCanonicalInventory({
    nodes: entries(inv.nodes, (n) => n.name),
    pods: entries(inv.pods ?? [], podKey),
    workloads: entries(inv.workloads, workloadKey),
    objects: inv.objects === undefined ? undefined : entries(inv.objects, workloadKey),
  });
}
