import { createHash } from 'node:crypto';
import {
  AGENT_KEY_PREFIX,
  Node,
  Pod,
  Workload,
  type DeltaInventory,
  type FullInventory,
  type Heartbeat,
  type HeartbeatReply,
} from '@niro/protocol';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { UnauthorizedError } from '../../errors.js';
import { sha256Hex } from '../../lib/ids.js';
import type { Metrics } from '../../lib/metrics.js';
import type { Logger } from '../../logger.js';
import type { HeartbeatRepository, LivenessUpdate, WriteItem } from './heartbeat.repository.js';
import { InventoryState, diffDerived, hasDerivedChanges } from './inventory.model.js';
import { heartbeatValidator } from './heartbeat.validator.js';
import { DEFAULT_WRITER_OPTIONS, SnapshotWriter, type WriterOptions } from './snapshot.writer.js';

/** The cluster an agent key belongs to, as authenticated before the body is read. */
export type AgentIdentity = { clusterId: string; orgId: string; keyHash: string };

export type HeartbeatServiceOptions = {
  /** Memory for inventories held in memory; colder clusters fall back to their stored document. */
  inventoryCacheBytes: number;
  /**
   * A heartbeat that changes no inventory rewrites the stored document only to refresh changed
   * events after this long, or changed usage after `usageRefreshMs`; in between it writes only
   * the liveness columns.
   */
  eventsRefreshMs: number;
  usageRefreshMs: number;
  writer: WriterOptions;
};

export const DEFAULT_HEARTBEAT_OPTIONS: HeartbeatServiceOptions = {
  inventoryCacheBytes: 256 * 1024 * 1024,
  eventsRefreshMs: 60_000,
  usageRefreshMs: 300_000,
  writer: DEFAULT_WRITER_OPTIONS,
};

/** Per-cluster facts kept for every cluster that reported (a few hundred bytes each). */
type ClusterState = {
  /** Hash of the stored inventory; null when the cluster has no snapshot yet. */
  hash: string | null;
  /** Digests of the events and usage in the stored document; null when unknown (after a restart). */
  eventsDigest: string | null;
  usageDigest: string | null;
  /** When the stored document was written (spread out after a restart, see stateOf). */
  docWrittenAt: number;
};

/** The document's inventory lists, checked when a stored snapshot is read back. */
const SnapshotLists = Type.Object({
  nodes: Type.Array(Node),
  pods: Type.Array(Pod),
  workloads: Type.Array(Workload),
});

/** Bounds the key cache; re-filled from the database on demand. */
const MAX_CACHED_KEYS = 200_000;

const INVALID_KEY_MESSAGE =
  'The agent key is unknown or was replaced; send Authorization: Bearer niro_ak_… with the key from enrollment, or re-enroll the agent';

/**
 * Heartbeat ingest (agent protocol 3.2): applies `full`, `delta` and `same` inventories to the
 * in-memory picture of each cluster, and hands what changed to the group-commit writer. The
 * reply goes out after the writes are committed. Choices and memory budget: ADR 0002.
 */
export class HeartbeatService {
  private readonly writer: SnapshotWriter;
  private readonly options: HeartbeatServiceOptions;
  private readonly keys = new Map<string, AgentIdentity>();
  private readonly states = new Map<string, ClusterState>();
  /** Least recently used first (Map order); `bytes` as counted when last stored. */
  private readonly inventories = new Map<string, { inventory: InventoryState; bytes: number }>();
  private inventoryBytes = 0;
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Heartbeats being applied that have not reached the writer yet (see WriterOptions.commitWhenIdle). */
  private applying = 0;
  private readonly snapshotCheck = Compile(SnapshotLists);
  /** The body validator of the heartbeat route (compiled once per service). */
  readonly validate = heartbeatValidator();

  constructor(
    readonly repo: HeartbeatRepository,
    readonly clock: Clock,
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
    options: Partial<HeartbeatServiceOptions> = {},
  ) {
    this.options = { ...DEFAULT_HEARTBEAT_OPTIONS, ...options };
    this.writer = new SnapshotWriter(repo, metrics, logger, this.options.writer, () => this.applying > 0);
  }

  /** Resolves the `Authorization: Bearer niro_ak_…` header to a cluster, or throws 401. */
  async authenticate(authorization: string | undefined): Promise<AgentIdentity> {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const key = m?.[1];
    if (key === undefined || !key.startsWith(AGENT_KEY_PREFIX)) {
      throw new UnauthorizedError('invalid_agent_key', INVALID_KEY_MESSAGE);
    }
    const keyHash = sha256Hex(key);
    const cached = this.keys.get(keyHash);
    if (cached !== undefined) return cached;
    const cluster = await this.repo.findClusterByKeyHash(keyHash);
    if (cluster === undefined) throw new UnauthorizedError('invalid_agent_key', INVALID_KEY_MESSAGE);
    const identity: AgentIdentity = { clusterId: cluster.id, orgId: cluster.orgId, keyHash };
    if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear();
    this.keys.set(keyHash, identity);
    return identity;
  }

  /** Applies one validated heartbeat; heartbeats of one cluster are applied one after another. */
  ingest(agent: AgentIdentity, hb: Heartbeat): Promise<HeartbeatReply> {
    return this.inOrder(agent.clusterId, () => this.apply(agent, hb));
  }

  /** Writes out anything buffered, including heartbeats still being applied; called on shutdown. */
  async flush(): Promise<void> {
    await this.writer.flush();
    while (this.chains.size > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.writer.flush();
    }
  }

  private async apply(agent: AgentIdentity, hb: Heartbeat): Promise<HeartbeatReply> {
    const now = this.clock.now();
    const item: WriteItem = { clusterId: agent.clusterId, keyHash: agent.keyHash, liveness: livenessOf(hb, now) };
    let applied: boolean;
    let applying = true;
    this.applying++;
    try {
      const state = await this.stateOf(agent.clusterId, now);
      const inv = hb.inventory;
      if (inv.mode === 'full') applied = await this.applyFull(agent.clusterId, state, inv, hb, now, item);
      else if (inv.mode === 'delta') applied = await this.applyDelta(agent.clusterId, state, inv, hb, now, item);
      else applied = await this.applySame(agent.clusterId, state, inv.hash, hb, now, item);
      this.applying--;
      applying = false;
      if (!(await this.writer.submit(item))) {
        this.keys.delete(agent.keyHash);
        throw new UnauthorizedError('invalid_agent_key', INVALID_KEY_MESSAGE);
      }
    } catch (err) {
      if (applying) {
        this.applying--;
        this.writer.settled();
      }
      // Memory may be ahead of the database now: forget it, the stored snapshot is the truth.
      this.forget(agent.clusterId);
      throw err;
    }
    this.metrics.heartbeats.labels(hb.inventory.mode).inc();
    const reply: HeartbeatReply = { ack: hb.seq, heartbeatIntervalSeconds: this.config.heartbeatIntervalSeconds };
    if (!applied) {
      reply.resendFull = true;
      this.logger.debug(
        { clusterId: agent.clusterId, mode: hb.inventory.mode },
        'asked the agent for a full inventory',
      );
    }
    return reply;
  }

  private async applyFull(
    clusterId: string,
    state: ClusterState,
    inv: FullInventory,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
  ): Promise<boolean> {
    const built = InventoryState.fromLists(inv.nodes, inv.pods ?? [], inv.workloads);
    const next = built.inventory;
    const previous = this.inventories.get(clusterId)?.inventory;
    // Without the previous inventory in memory, diff against the rows as stored.
    const derived = diffDerived(previous ?? (await this.repo.loadDerived(clusterId)), built);
    if (hasDerivedChanges(derived)) item.derived = derived;
    this.remember(clusterId, next);
    const unchanged = previous !== undefined && state.hash === inv.hash && next.sameItemsAs(previous);
    if (unchanged) {
      this.refreshDetailsIfDue(state, next, hb, now, item);
    } else {
      item.summary = next.summary();
      state.hash = inv.hash;
      this.writeDoc(state, next, hb, now, item);
    }
    return true;
  }

  private async applyDelta(
    clusterId: string,
    state: ClusterState,
    inv: DeltaInventory,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
  ): Promise<boolean> {
    if (state.hash !== inv.baseHash) return false;
    const current = this.inventories.get(clusterId)?.inventory ?? (await this.loadInventory(clusterId, inv.baseHash));
    if (current === null) {
      state.hash = null;
      return false;
    }
    const derived = current.applyDelta(inv);
    this.remember(clusterId, current);
    if (derived === null && inv.hash === state.hash) {
      this.refreshDetailsIfDue(state, current, hb, now, item);
      return true;
    }
    if (derived !== null && hasDerivedChanges(derived)) item.derived = derived;
    item.summary = current.summary();
    state.hash = inv.hash;
    this.writeDoc(state, current, hb, now, item);
    return true;
  }

  private async applySame(
    clusterId: string,
    state: ClusterState,
    hash: string,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
  ): Promise<boolean> {
    if (state.hash !== hash) return false;
    if (!this.detailsDue(state, hb, now)) return true;
    const current = this.inventories.get(clusterId)?.inventory ?? (await this.loadInventory(clusterId, hash));
    if (current === null) {
      // The stored snapshot is not the one remembered: start over from a full inventory.
      state.hash = null;
      return false;
    }
    this.remember(clusterId, current);
    this.writeDoc(state, current, hb, now, item);
    return true;
  }

  private refreshDetailsIfDue(
    state: ClusterState,
    inventory: InventoryState,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
  ): void {
    if (this.detailsDue(state, hb, now)) this.writeDoc(state, inventory, hb, now, item);
  }

  /**
   * Whether the stored document's events or usage are worth rewriting: only after the refresh
   * interval, and only when they differ (digests are computed only then, to keep `same` cheap).
   */
  private detailsDue(state: ClusterState, hb: Heartbeat, now: number): boolean {
    const age = now - state.docWrittenAt;
    if (age >= this.options.eventsRefreshMs && digest(JSON.stringify(hb.events)) !== state.eventsDigest) return true;
    if (age >= this.options.usageRefreshMs && digest(JSON.stringify(hb.usage ?? null)) !== state.usageDigest) {
      return true;
    }
    return false;
  }

  private writeDoc(state: ClusterState, inventory: InventoryState, hb: Heartbeat, now: number, item: WriteItem): void {
    if (state.hash === null) return;
    const eventsJson = JSON.stringify(hb.events);
    const usageJson = JSON.stringify(hb.usage ?? null);
    item.snapshot = { hash: state.hash, doc: inventory.renderDoc(eventsJson, usageJson) };
    state.eventsDigest = digest(eventsJson);
    state.usageDigest = digest(usageJson);
    state.docWrittenAt = now;
  }

  private async stateOf(clusterId: string, now: number): Promise<ClusterState> {
    const known = this.states.get(clusterId);
    if (known !== undefined) return known;
    const meta = await this.repo.loadSnapshotMeta(clusterId);
    const state: ClusterState = {
      hash: meta?.hash ?? null,
      eventsDigest: null,
      usageDigest: null,
      // After a restart nothing is known about the stored details; spreading the first refresh
      // over one interval keeps a whole fleet from reloading its documents in the same second.
      docWrittenAt: now - (hash32(clusterId) % this.options.eventsRefreshMs),
    };
    this.states.set(clusterId, state);
    return state;
  }

  /** Reads the stored document back into memory when it holds the inventory with `hash`. */
  private async loadInventory(clusterId: string, hash: string): Promise<InventoryState | null> {
    const stored = await this.repo.loadSnapshot(clusterId);
    if (stored === undefined || stored.hash !== hash) return null;
    let doc: unknown;
    try {
      doc = JSON.parse(stored.doc);
    } catch {
      doc = null;
    }
    if (!this.snapshotCheck.Check(doc)) {
      this.logger.warn({ clusterId }, 'stored snapshot is unreadable; asking the agent for a full inventory');
      return null;
    }
    return InventoryState.fromLists(doc.nodes, doc.pods, doc.workloads).inventory;
  }

  /** Keeps an inventory in memory (most recently used) and evicts the coldest beyond the budget. */
  private remember(clusterId: string, inventory: InventoryState): void {
    const old = this.inventories.get(clusterId);
    if (old !== undefined) {
      this.inventoryBytes -= old.bytes;
      this.inventories.delete(clusterId);
    }
    this.inventories.set(clusterId, { inventory, bytes: inventory.bytes });
    this.inventoryBytes += inventory.bytes;
    for (const [id, entry] of this.inventories) {
      if (this.inventoryBytes <= this.options.inventoryCacheBytes) break;
      this.inventories.delete(id);
      this.inventoryBytes -= entry.bytes;
    }
  }

  private forget(clusterId: string): void {
    this.states.delete(clusterId);
    const entry = this.inventories.get(clusterId);
    if (entry !== undefined) {
      this.inventories.delete(clusterId);
      this.inventoryBytes -= entry.bytes;
    }
  }

  /** Runs `fn` after every earlier call for the same cluster has finished. */
  private async inOrder<T>(clusterId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(clusterId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(clusterId, tail);
    try {
      return await run;
    } finally {
      if (this.chains.get(clusterId) === tail) this.chains.delete(clusterId);
    }
  }
}

function livenessOf(hb: Heartbeat, now: number): LivenessUpdate {
  const caps = hb.agent.capabilities;
  const [cpu, memory] = usageTotals(hb.usage);
  return {
    at: now,
    seq: hb.seq,
    agentVersion: hb.agent.version,
    kubernetesVersion: hb.cluster.kubernetesVersion,
    distribution: hb.cluster.distribution,
    capabilities: JSON.stringify({ pods: caps.pods, logs: caps.logs, apply: caps.apply, selfUpdate: caps.selfUpdate }),
    cpuUsageMilli: cpu,
    memoryUsageBytes: memory,
  };
}

/**
 * Cluster usage from metrics.k8s.io: the sum over nodes (what the machines really use, system
 * daemons included), else over pods; null when the agent reported none (never invented).
 */
export function usageTotals(usage: Heartbeat['usage']): [number | null, number | null] {
  // Summed in place: `same` heartbeats of large clusters carry thousands of pairs.
  return sumPairs(usage?.nodes) ?? sumPairs(usage?.pods) ?? [null, null];
}

function sumPairs(pairs: Record<string, [number, number]> | undefined): [number, number] | undefined {
  if (pairs === undefined) return undefined;
  let cpu = 0;
  let memory = 0;
  let n = 0;
  for (const key in pairs) {
    const pair = pairs[key];
    if (pair === undefined) continue;
    cpu += pair[0];
    memory += pair[1];
    n++;
  }
  return n === 0 ? undefined : [safeInt(cpu), safeInt(memory)];
}

const safeInt = (n: number): number => Math.min(Math.round(n), Number.MAX_SAFE_INTEGER);

const digest = (text: string): string => createHash('sha1').update(text).digest('base64');

/** FNV-1a: a cheap, stable spread of cluster ids. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
