import {
  podKey,
  workloadKey,
  type Container,
  type DeltaInventory,
  type Node,
  type Pod,
  type PolicyObject,
  type Workload,
} from '@niro/protocol';

/**
 * The server's picture of one cluster's inventory, kept per cluster in memory (ADR 0002).
 * Items are held as their JSON text (what the snapshot document is assembled from) plus the
 * few figures the summary and image counts need, not as object trees: about as compact, and an
 * unchanged item is never serialised again, so a delta or a document refresh costs only what
 * changed.
 */

export type PodStatus = 'running' | 'pending' | 'succeeded' | 'failed' | 'crashloop' | 'unknown';

/** One `cluster_pods` row, without the cluster id. */
export type PodRow = {
  namespace: string;
  name: string;
  phase: string;
  status: PodStatus;
  nodeName: string | null;
  restarts: number;
  readyContainers: number;
  totalContainers: number;
  images: string[];
  ownerKind: string | null;
  ownerName: string | null;
  startedAt: string | null;
};

export type NodeEntry = { json: string; ready: boolean; cpuMilli: number; memoryBytes: number };
export type PodEntry = {
  json: string;
  status: PodStatus;
  images: string[];
  /** Requests count only while the pod is not terminated (phase Succeeded or Failed). */
  cpuRequestsMilli: number;
  memoryRequestsBytes: number;
};

/** Summary columns of `clusters`, recomputed whenever the inventory changes. */
export type InventorySummary = {
  nodesTotal: number;
  nodesReady: number;
  podsTotal: number;
  podsRunning: number;
  podsPending: number;
  /** Failed pods plus crash-looping ones: both are pods that do not work. */
  podsFailed: number;
  /** Allocatable (what pods can be scheduled onto), capacity where a node reports no allocatable. */
  cpuCapacityMilli: number;
  memoryCapacityBytes: number;
  cpuRequestsMilli: number;
  memoryRequestsBytes: number;
};

/** Rows to write because of an inventory change: only what changed. */
export type DerivedChanges = {
  podUpserts: PodRow[];
  /** "ns/name" keys. */
  podDeletes: string[];
  imageUpserts: { image: string; pods: number }[];
  imageDeletes: string[];
};

/**
 * Heap estimate for the memory budget, calibrated on testkit clusters (ADR 0002): V8 keeps
 * strings from JSON.stringify with about a third of slack, and each entry costs its key, its
 * Map slot and its object (a pod's also its image list).
 */
const HEAP_PER_JSON_CHAR = 1.35;
const ENTRY_OVERHEAD_BYTES = 200;
const POD_ENTRY_OVERHEAD_BYTES = 150;

/** Reported numbers are unbounded in the protocol; stored ones must fit the columns (bigint, int4). */
const MAX_INT4 = 2_147_483_647;
const clamp = (n: number, max: number): number => (Number.isFinite(n) ? Math.min(Math.max(Math.round(n), 0), max) : 0);
const round = (n: number | undefined): number => (n === undefined ? 0 : clamp(n, Number.MAX_SAFE_INTEGER));

const crashLooping = (c: Container): boolean => c.state === 'waiting' && c.reason === 'CrashLoopBackOff';

function podStatusOf(pod: Pod): PodStatus {
  if (pod.containers.some(crashLooping) || (pod.initContainers ?? []).some(crashLooping)) return 'crashloop';
  switch (pod.phase) {
    case 'Running':
      return 'running';
    case 'Pending':
      return 'pending';
    case 'Succeeded':
      return 'succeeded';
    case 'Failed':
      return 'failed';
    default:
      return 'unknown';
  }
}

export function podRowOf(pod: Pod): PodRow {
  const images: string[] = [];
  let restarts = 0;
  let ready = 0;
  for (const c of pod.containers) {
    if (!images.includes(c.image)) images.push(c.image);
    restarts += round(c.restarts);
    if (c.ready) ready++;
  }
  for (const c of pod.initContainers ?? []) {
    if (!images.includes(c.image)) images.push(c.image);
    restarts += round(c.restarts);
  }
  return {
    namespace: pod.namespace,
    name: pod.name,
    phase: pod.phase,
    status: podStatusOf(pod),
    nodeName: pod.nodeName ?? null,
    restarts: clamp(restarts, MAX_INT4),
    readyContainers: ready,
    totalContainers: pod.containers.length,
    images,
    ownerKind: pod.owner?.kind ?? null,
    ownerName: pod.owner?.name ?? null,
    startedAt: pod.startedAt ?? null,
  };
}

function podRowsEqual(a: PodRow, b: PodRow): boolean {
  return (
    a.phase === b.phase &&
    a.status === b.status &&
    a.nodeName === b.nodeName &&
    a.restarts === b.restarts &&
    a.readyContainers === b.readyContainers &&
    a.totalContainers === b.totalContainers &&
    a.ownerKind === b.ownerKind &&
    a.ownerName === b.ownerName &&
    a.startedAt === b.startedAt &&
    a.images.length === b.images.length &&
    a.images.every((img, i) => img === b.images[i])
  );
}

function nodeEntry(node: Node): NodeEntry {
  return {
    json: JSON.stringify(node),
    ready: node.ready,
    cpuMilli: round(node.allocatable.cpuMilli ?? node.capacity.cpuMilli),
    memoryBytes: round(node.allocatable.memoryBytes ?? node.capacity.memoryBytes),
  };
}

function podEntry(pod: Pod, row: PodRow): PodEntry {
  let cpu = 0;
  let memory = 0;
  if (pod.phase !== 'Succeeded' && pod.phase !== 'Failed') {
    for (const c of pod.containers) {
      cpu += round(c.requests.cpuMilli);
      memory += round(c.requests.memoryBytes);
    }
  }
  return {
    json: JSON.stringify(pod),
    status: row.status,
    images: row.images,
    cpuRequestsMilli: cpu,
    memoryRequestsBytes: memory,
  };
}

const textEntryBytes = (json: string): number => Math.ceil(json.length * HEAP_PER_JSON_CHAR) + ENTRY_OVERHEAD_BYTES;
const podEntryBytes = (e: PodEntry): number => textEntryBytes(e.json) + POD_ENTRY_OVERHEAD_BYTES;

/** The latest inventory of one cluster: maps keyed by "name", "ns/name" and "Kind/ns/name". */
export class InventoryState {
  readonly nodes = new Map<string, NodeEntry>();
  readonly pods = new Map<string, PodEntry>();
  readonly workloads = new Map<string, string>();
  /**
   * Policy objects ("Kind/ns/name" → JSON); null while the agent does not report them (an older
   * agent: its full inventories carry no `objects`), which is not the same as reporting none.
   */
  objects: Map<string, string> | null = null;
  /** image → number of pods using it. */
  readonly images = new Map<string, number>();
  /** Approximate heap bytes held, for the cache budget. */
  bytes = 0;

  /**
   * A full inventory. `rows` holds each pod's `cluster_pods` row for the diff against the
   * previous inventory; it is not kept.
   */
  static fromLists(
    nodes: readonly Node[],
    pods: readonly Pod[],
    workloads: readonly Workload[],
    objects?: readonly PolicyObject[],
  ): { inventory: InventoryState; rows: Map<string, PodRow> } {
    const inv = new InventoryState();
    const rows = new Map<string, PodRow>();
    for (const n of nodes) inv.setNode(n);
    for (const p of pods) {
      const key = podKey(p);
      const row = podRowOf(p);
      rows.set(key, row);
      inv.setPod(key, podEntry(p, row));
    }
    for (const w of workloads) inv.setWorkload(w);
    if (objects !== undefined) {
      inv.objects = new Map();
      for (const o of objects) inv.setObject(o);
    }
    return { inventory: inv, rows };
  }

  private setNode(node: Node): NodeEntry | undefined {
    const old = this.nodes.get(node.name);
    const entry = nodeEntry(node);
    if (old !== undefined) this.bytes -= textEntryBytes(old.json);
    this.nodes.set(node.name, entry);
    this.bytes += textEntryBytes(entry.json);
    return old;
  }

  private setWorkload(w: Workload): void {
    const key = workloadKey(w);
    const old = this.workloads.get(key);
    const json = JSON.stringify(w);
    if (old !== undefined) this.bytes -= textEntryBytes(old);
    this.workloads.set(key, json);
    this.bytes += textEntryBytes(json);
  }

  /** Returns whether the object's JSON changed. */
  private setObject(o: PolicyObject): boolean {
    this.objects ??= new Map();
    const key = workloadKey(o);
    const old = this.objects.get(key);
    const json = JSON.stringify(o);
    if (old === json) return false;
    if (old !== undefined) this.bytes -= textEntryBytes(old);
    this.objects.set(key, json);
    this.bytes += textEntryBytes(json);
    return true;
  }

  private setPod(key: string, entry: PodEntry): void {
    this.deletePod(key);
    this.pods.set(key, entry);
    this.bytes += podEntryBytes(entry);
    for (const img of entry.images) this.images.set(img, (this.images.get(img) ?? 0) + 1);
  }

  private deletePod(key: string): PodEntry | undefined {
    const old = this.pods.get(key);
    if (old === undefined) return undefined;
    this.pods.delete(key);
    this.bytes -= podEntryBytes(old);
    for (const img of old.images) {
      const n = (this.images.get(img) ?? 0) - 1;
      if (n > 0) this.images.set(img, n);
      else this.images.delete(img);
    }
    return old;
  }

  /**
   * Applies a delta in place (removes first, then upserts, as the agent builds it) and returns
   * the derived rows it changed, or null when it changed nothing at all. The namespaces of policy
   * objects it changed are added to `objectNamespaces`.
   */
  applyDelta(delta: DeltaInventory, objectNamespaces?: Set<string>): DerivedChanges | null {
    let changed = false;
    const removedPods = new Set<string>();
    const upsertedRows = new Map<string, PodRow>();
    const imagesBefore = new Map(this.images);

    for (const name of delta.remove.nodes ?? []) {
      const old = this.nodes.get(name);
      if (old === undefined) continue;
      this.nodes.delete(name);
      this.bytes -= textEntryBytes(old.json);
      changed = true;
    }
    for (const key of delta.remove.workloads ?? []) {
      const old = this.workloads.get(key);
      if (old === undefined) continue;
      this.workloads.delete(key);
      this.bytes -= textEntryBytes(old);
      changed = true;
    }
    for (const key of delta.remove.objects ?? []) {
      const old = this.objects?.get(key);
      if (old === undefined) continue;
      this.objects?.delete(key);
      this.bytes -= textEntryBytes(old);
      objectNamespaces?.add(namespaceOfKey(key));
      changed = true;
    }
    for (const key of delta.remove.pods ?? []) {
      if (this.deletePod(key) === undefined) continue;
      removedPods.add(key);
      changed = true;
    }
    for (const n of delta.upsert.nodes ?? []) {
      const before = this.nodes.get(n.name)?.json;
      this.setNode(n);
      if (before !== this.nodes.get(n.name)?.json) changed = true;
    }
    for (const w of delta.upsert.workloads ?? []) {
      const key = workloadKey(w);
      const before = this.workloads.get(key);
      this.setWorkload(w);
      if (before !== this.workloads.get(key)) changed = true;
    }
    for (const o of delta.upsert.objects ?? []) {
      if (!this.setObject(o)) continue;
      objectNamespaces?.add(o.namespace);
      changed = true;
    }
    for (const p of delta.upsert.pods ?? []) {
      const key = podKey(p);
      const row = podRowOf(p);
      const entry = podEntry(p, row);
      if (this.pods.get(key)?.json === entry.json) continue;
      this.setPod(key, entry);
      removedPods.delete(key);
      upsertedRows.set(key, row);
      changed = true;
    }
    if (!changed) return null;

    const out: DerivedChanges = {
      podUpserts: [...upsertedRows.values()],
      podDeletes: [...removedPods],
      imageUpserts: [],
      imageDeletes: [],
    };
    diffImages(imagesBefore, this.images, out);
    return out;
  }

  /** Whether both hold exactly the same items (same JSON text, same keys). */
  sameItemsAs(other: InventoryState): boolean {
    if (
      this.nodes.size !== other.nodes.size ||
      this.pods.size !== other.pods.size ||
      this.workloads.size !== other.workloads.size ||
      (this.objects === null) !== (other.objects === null) ||
      (this.objects?.size ?? 0) !== (other.objects?.size ?? 0)
    ) {
      return false;
    }
    for (const [k, json] of this.objects ?? []) if (other.objects?.get(k) !== json) return false;
    for (const [k, e] of this.nodes) if (other.nodes.get(k)?.json !== e.json) return false;
    for (const [k, e] of this.pods) if (other.pods.get(k)?.json !== e.json) return false;
    for (const [k, json] of this.workloads) if (other.workloads.get(k) !== json) return false;
    return true;
  }

  summary(): InventorySummary {
    const s: InventorySummary = {
      nodesTotal: this.nodes.size,
      nodesReady: 0,
      podsTotal: this.pods.size,
      podsRunning: 0,
      podsPending: 0,
      podsFailed: 0,
      cpuCapacityMilli: 0,
      memoryCapacityBytes: 0,
      cpuRequestsMilli: 0,
      memoryRequestsBytes: 0,
    };
    for (const n of this.nodes.values()) {
      if (n.ready) s.nodesReady++;
      s.cpuCapacityMilli += n.cpuMilli;
      s.memoryCapacityBytes += n.memoryBytes;
    }
    for (const p of this.pods.values()) {
      const st = p.status;
      if (st === 'running') s.podsRunning++;
      else if (st === 'pending') s.podsPending++;
      else if (st === 'failed' || st === 'crashloop') s.podsFailed++;
      s.cpuRequestsMilli += p.cpuRequestsMilli;
      s.memoryRequestsBytes += p.memoryRequestsBytes;
    }
    s.cpuCapacityMilli = round(s.cpuCapacityMilli);
    s.memoryCapacityBytes = round(s.memoryCapacityBytes);
    s.cpuRequestsMilli = round(s.cpuRequestsMilli);
    s.memoryRequestsBytes = round(s.memoryRequestsBytes);
    return s;
  }

  /**
   * The snapshot document `{ nodes, pods, workloads, objects?, events, usage }`, assembled from
   * item text. `objects` is left out while the agent does not report them, so a restart reads
   * "not reported" back rather than "none".
   */
  renderDoc(eventsJson: string, usageJson: string): string {
    const nodes = Array.from(this.nodes.values(), (e) => e.json).join(',');
    const pods = Array.from(this.pods.values(), (e) => e.json).join(',');
    const workloads = Array.from(this.workloads.values()).join(',');
    const objects = this.objects === null ? '' : `"objects":[${Array.from(this.objects.values()).join(',')}],`;
    return `{"nodes":[${nodes}],"pods":[${pods}],"workloads":[${workloads}],${objects}"events":${eventsJson},"usage":${usageJson}}`;
  }
}

function diffImages(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  out: DerivedChanges,
): void {
  for (const [image, pods] of after) if (before.get(image) !== pods) out.imageUpserts.push({ image, pods });
  for (const image of before.keys()) if (!after.has(image)) out.imageDeletes.push(image);
}

/**
 * Rows that turn the previous inventory's rows into those of a full inventory: against the
 * previous inventory in memory a pod whose JSON is unchanged is skipped; against the rows as
 * stored, a pod whose row is unchanged.
 */
export function diffDerived(
  previous: InventoryState | { pods: ReadonlyMap<string, PodRow>; images: ReadonlyMap<string, number> },
  next: { inventory: InventoryState; rows: ReadonlyMap<string, PodRow> },
): DerivedChanges {
  const out: DerivedChanges = { podUpserts: [], podDeletes: [], imageUpserts: [], imageDeletes: [] };
  for (const [key, row] of next.rows) {
    if (previous instanceof InventoryState) {
      const old = previous.pods.get(key);
      if (old === undefined || old.json !== next.inventory.pods.get(key)?.json) out.podUpserts.push(row);
    } else {
      const old = previous.pods.get(key);
      if (old === undefined || !podRowsEqual(old, row)) out.podUpserts.push(row);
    }
  }
  for (const key of previous.pods.keys()) if (!next.inventory.pods.has(key)) out.podDeletes.push(key);
  diffImages(previous.images, next.inventory.images, out);
  return out;
}

/** The namespace of a "Kind/ns/name" key. */
export function namespaceOfKey(key: string): string {
  const first = key.indexOf('/');
  const second = key.indexOf('/', first + 1);
  return second < 0 ? '' : key.slice(first + 1, second);
}

export const hasDerivedChanges = (c: DerivedChanges): boolean =>
  c.podUpserts.length + c.podDeletes.length + c.imageUpserts.length + c.imageDeletes.length > 0;
