import { createHash } from 'node:crypto';
import {
  AGENT_KEY_PREFIX,
  Node,
  Pod,
  PolicyObject,
  Workload,
  podKey,
  workloadKey,
  type DeltaInventory,
  type FullInventory,
  type Heartbeat,
  type HeartbeatReply,
  type KubeEvent,
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
import {
  InventoryState,
  diffDerived,
  hasDerivedChanges,
  podRowOf,
  type PodEntry,
  type PodRow,
} from './inventory.model.js';
import { heartbeatValidator } from './heartbeat.validator.js';
import { DEFAULT_WRITER_OPTIONS, SnapshotWriter, type WriterOptions } from './snapshot.writer.js';

/**
 * What a heartbeat changed for runtime policy: possibly everything (a full inventory, which may
 * also start or stop reporting policy objects), or some workloads ("Kind/ns/name") and the
 * namespaces whose policy objects changed.
 */
export type WorkloadChange = { all: true } | { all: false; keys: readonly string[]; namespaces?: readonly string[] };

/** What runtime policy reads of an inventory held in memory beside its workloads. */
export type HeldObjects = {
  /** Policy objects ("Kind/ns/name" → JSON); null when the cluster's agent does not report them. */
  objects: ReadonlyMap<string, string> | null;
  /** Pods ("ns/name" → JSON), to tell which pods no reported workload owns. */
  pods: ReadonlyMap<string, Pick<PodEntry, 'json'>>;
};

/** Told after a heartbeat's writes are committed that its workloads changed (runtime policy). */
export type WorkloadListener = {
  /** Must only queue work: it runs before the heartbeat's reply. */
  workloadsChanged(clusterId: string, change: WorkloadChange): void;
  /** Resolves once the work queued so far is done (flush on shutdown). */
  idle(): Promise<void>;
};

/**
 * What one accepted heartbeat showed, for the incident detectors: for `full` every node and pod,
 * for `delta` what changed, for `same` nothing (the held picture is unchanged).
 */
export type HeartbeatObservation = {
  clusterId: string;
  orgId: string;
  at: number;
  agentVersion: string;
  logsCapability: boolean;
  inventory:
    | { mode: 'full'; nodes: readonly Node[]; pods: readonly Pod[] }
    | {
        mode: 'delta';
        nodes: readonly Node[];
        pods: readonly Pod[];
        removedNodes: readonly string[];
        removedPods: readonly string[];
      }
    | { mode: 'same' };
  events: readonly KubeEvent[];
  /** Usage as the agent sent it with this heartbeat (pod usage not carried over from earlier ones). */
  usage: Heartbeat['usage'];
  /** Running pods of the inventory held in memory; null when it is not held. */
  podsRunning(): number | null;
  /** The cluster's whole inventory as held in memory (JSON per item), when it is. */
  held(): { nodes: ReadonlyMap<string, { json: string }>; pods: ReadonlyMap<string, { json: string }> } | undefined;
};

/** Told after a heartbeat's writes are committed what it showed (incident detection, usage history). */
export type HeartbeatListener = {
  /** Awaited before the reply; must not throw for the heartbeat's sake (errors are logged). */
  heartbeatApplied(observation: HeartbeatObservation): Promise<void>;
};

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
  /**
   * A `delta` that changes the inventory writes the summary and derived rows at once, but the
   * document (with its hash) at most once per this window per cluster; the next heartbeat after
   * the window, a flush, or any later heartbeat of another cluster writes it. Reads of nodes,
   * workloads and events from the document lag by at most this much (ADR 0002). 0 writes always.
   */
  docWriteWindowMs: number;
  writer: WriterOptions;
};

export const DEFAULT_HEARTBEAT_OPTIONS: HeartbeatServiceOptions = {
  inventoryCacheBytes: 256 * 1024 * 1024,
  eventsRefreshMs: 60_000,
  usageRefreshMs: 300_000,
  docWriteWindowMs: 30_000,
  writer: DEFAULT_WRITER_OPTIONS,
};

/** What a deferred document is rendered with: the latest heartbeat's details and key. */
type PendingDoc = { keyHash: string; events: KubeEvent[]; usage: Heartbeat['usage'] };

/** Per-cluster facts kept for every cluster that reported (a few hundred bytes each). */
type ClusterState = {
  /**
   * Hash of the inventory held (in memory, and stored unless `pendingDoc` is set: then the stored
   * document and hash are the older pair); null when the cluster has no snapshot yet.
   */
  hash: string | null;
  /** Digests of the events and usage in the stored document; null when unknown (after a restart). */
  eventsDigest: string | null;
  usageDigest: string | null;
  /** When the stored document was written (spread out after a restart, see stateOf). */
  docWrittenAt: number;
  /** Whether this process wrote the stored document; until it has, a delta writes it at once. */
  docWrittenHere: boolean;
  /** Set while the inventory in memory is ahead of the stored document (deferred write). */
  pendingDoc: PendingDoc | null;
  /**
   * The last pod usage of an agent that sends it less often than node usage (the real agent does,
   * to keep steady heartbeats small); null for agents that send it every time.
   */
  podUsage: { pods: PodUsage; at: number } | null;
  /** Null until two heartbeats with usage showed which kind of agent this is. */
  podUsageSparse: boolean | null;
};

type PodUsage = NonNullable<NonNullable<Heartbeat['usage']>['pods']>;

/** Pod usage older than this is dropped rather than carried into later heartbeats. */
const POD_USAGE_MAX_AGE_MS = 15 * 60_000;

type StoredInventory = {
  inventory: InventoryState;
  after: (delta: DeltaInventory, inventory: InventoryState) => { inventory: InventoryState; rows: Map<string, PodRow> };
};

/** The document's inventory lists, checked when a stored snapshot is read back. */
const SnapshotLists = Type.Object({
  nodes: Type.Array(Node),
  pods: Type.Array(Pod),
  workloads: Type.Array(Workload),
  /** Absent while the agent does not report policy objects. */
  objects: Type.Optional(Type.Array(PolicyObject)),
});

/** Deferred documents a heartbeat of another cluster hands to the writer at most (bounds its extra work). */
const DUE_DOCS_PER_HEARTBEAT = 4;

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
  /**
   * Clusters with a deferred document, in the order their inventory first got ahead of it; a
   * cluster leaves when its document write is scheduled (`scheduledDocs`) or done.
   */
  private readonly pendingDocs = new Map<string, ClusterState>();
  private readonly scheduledDocs = new Set<string>();
  /** Heartbeats being applied that have not reached the writer yet (see WriterOptions.commitWhenIdle). */
  private applying = 0;
  private readonly snapshotCheck = Compile(SnapshotLists);
  /** The body validator of the heartbeat route (compiled once per service). */
  readonly validate = heartbeatValidator();
  private workloadListener: WorkloadListener | null = null;
  private readonly heartbeatListeners: HeartbeatListener[] = [];

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

  /** Who hears about workload changes (one listener). */
  listenForWorkloads(listener: WorkloadListener): void {
    this.workloadListener = listener;
  }

  /** Adds a listener told what each accepted heartbeat showed (incident detection, usage history). */
  listenForHeartbeats(listener: HeartbeatListener): void {
    this.heartbeatListeners.push(listener);
  }

  /** The workloads ("Kind/ns/name" → JSON) of a cluster's inventory held in memory, if it is. */
  heldWorkloads(clusterId: string): ReadonlyMap<string, string> | undefined {
    return this.inventories.get(clusterId)?.inventory.workloads;
  }

  /** The policy objects and pods of a cluster's inventory held in memory, if it is. */
  heldObjects(clusterId: string): HeldObjects | undefined {
    const inventory = this.inventories.get(clusterId)?.inventory;
    return inventory === undefined ? undefined : { objects: inventory.objects, pods: inventory.pods };
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

  /**
   * Writes out anything buffered, including heartbeats still being applied and deferred
   * documents; called on shutdown.
   */
  async flush(): Promise<void> {
    for (const id of [...this.pendingDocs.keys()]) this.scheduleDocWrite(id);
    await this.writer.flush();
    while (this.chains.size > 0 || this.pendingDocs.size > 0) {
      for (const id of [...this.pendingDocs.keys()]) this.scheduleDocWrite(id);
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.writer.flush();
    }
    await this.workloadListener?.idle();
  }

  private async apply(agent: AgentIdentity, hb: Heartbeat): Promise<HeartbeatReply> {
    const now = this.clock.now();
    const item: WriteItem = { clusterId: agent.clusterId, keyHash: agent.keyHash, liveness: livenessOf(hb, now) };
    const reportedUsage = hb.usage;
    let applied: boolean;
    let workloads: WorkloadChange | null = null;
    let applying = true;
    this.applying++;
    try {
      this.scheduleDueDocs(now);
      const state = await this.stateOf(agent.clusterId, now);
      carryPodUsage(state, hb, now);
      const inv = hb.inventory;
      if (inv.mode === 'full') {
        const unchanged = await this.applyFull(agent.clusterId, state, inv, hb, now, item);
        applied = true;
        if (!unchanged) workloads = { all: true };
      } else if (inv.mode === 'delta') {
        const objectNamespaces = new Set<string>();
        applied = await this.applyDelta(agent.clusterId, state, inv, hb, now, item, objectNamespaces);
        const keys = [...(inv.upsert.workloads ?? []).map(workloadKey), ...(inv.remove.workloads ?? [])];
        if (applied && (keys.length > 0 || objectNamespaces.size > 0)) {
          workloads = { all: false, keys };
          if (objectNamespaces.size > 0) workloads.namespaces = [...objectNamespaces];
        }
      } else {
        applied = await this.applySame(agent.clusterId, state, inv.hash, hb, now, item);
      }
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
    if (workloads !== null) this.workloadListener?.workloadsChanged(agent.clusterId, workloads);
    if (applied && this.heartbeatListeners.length > 0) await this.observe(agent, hb, reportedUsage, now);
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

  private async observe(
    agent: AgentIdentity,
    hb: Heartbeat,
    reportedUsage: Heartbeat['usage'],
    now: number,
  ): Promise<void> {
    const inv = hb.inventory;
    const observation: HeartbeatObservation = {
      clusterId: agent.clusterId,
      orgId: agent.orgId,
      at: now,
      agentVersion: hb.agent.version,
      logsCapability: hb.agent.capabilities.logs,
      inventory:
        inv.mode === 'full'
          ? { mode: 'full', nodes: inv.nodes, pods: inv.pods ?? [] }
          : inv.mode === 'delta'
            ? {
                mode: 'delta',
                nodes: inv.upsert.nodes ?? [],
                pods: inv.upsert.pods ?? [],
                removedNodes: inv.remove.nodes ?? [],
                removedPods: inv.remove.pods ?? [],
              }
            : { mode: 'same' },
      events: hb.events,
      usage: reportedUsage,
      podsRunning: () => {
        const held = this.inventories.get(agent.clusterId)?.inventory;
        if (held === undefined) return null;
        let running = 0;
        for (const p of held.pods.values()) if (p.status === 'running') running++;
        return running;
      },
      held: () => {
        const held = this.inventories.get(agent.clusterId)?.inventory;
        return held === undefined ? undefined : { nodes: held.nodes, pods: held.pods };
      },
    };
    for (const listener of this.heartbeatListeners) {
      try {
        await listener.heartbeatApplied(observation);
      } catch (err) {
        // The heartbeat's own writes are committed; listeners catch up on the next one.
        this.logger.warn({ err, clusterId: agent.clusterId }, 'a heartbeat listener failed');
      }
    }
  }

  private async applyFull(
    clusterId: string,
    state: ClusterState,
    inv: FullInventory,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
  ): Promise<boolean> {
    // Returns whether the inventory is the one already held (nothing changed).
    const built = InventoryState.fromLists(inv.nodes, inv.pods ?? [], inv.workloads, inv.objects);
    const next = built.inventory;
    const previous = this.inventories.get(clusterId)?.inventory;
    // Without the previous inventory in memory, diff against the rows as stored.
    const derived = diffDerived(previous ?? (await this.repo.loadDerived(clusterId)), built);
    if (hasDerivedChanges(derived)) item.derived = derived;
    this.remember(clusterId, next);
    const unchanged = previous !== undefined && state.hash === inv.hash && next.sameItemsAs(previous);
    if (unchanged && state.pendingDoc === null) {
      this.refreshDetailsIfDue(clusterId, state, next, hb, now, item);
    } else {
      if (!unchanged) item.summary = next.summary();
      state.hash = inv.hash;
      this.writeDoc(clusterId, state, next, hb, now, item);
    }
    return unchanged;
  }

  private async applyDelta(
    clusterId: string,
    state: ClusterState,
    inv: DeltaInventory,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
    objectNamespaces: Set<string>,
  ): Promise<boolean> {
    if (state.hash !== inv.baseHash) return false;
    const held = this.inventories.get(clusterId)?.inventory;
    const stored = held === undefined ? await this.loadInventory(clusterId, inv.baseHash) : null;
    const current = held ?? stored?.inventory ?? null;
    if (current === null) {
      state.hash = null;
      return false;
    }
    let derived = current.applyDelta(inv, objectNamespaces);
    if (stored !== null && !state.docWrittenHere && derived !== null) {
      // The rows may be ahead of the stored document: a delta deferred before a restart, whose
      // reply the agent never got. Diff against the rows as stored, as a full inventory does.
      derived = diffDerived(await this.repo.loadDerived(clusterId), stored.after(inv, current));
    }
    this.remember(clusterId, current);
    if (derived === null && inv.hash === state.hash) {
      this.refreshDetailsIfDue(clusterId, state, current, hb, now, item);
      return true;
    }
    if (derived !== null && hasDerivedChanges(derived)) item.derived = derived;
    item.summary = current.summary();
    state.hash = inv.hash;
    const deferred =
      state.docWrittenHere &&
      now - state.docWrittenAt < this.options.docWriteWindowMs &&
      // Only an inventory held in memory can be written later (the budget may have evicted it).
      this.inventories.has(clusterId);
    if (deferred) {
      // Within the window: the stored document and hash stay the older pair (ADR 0002).
      if (state.pendingDoc === null) this.pendingDocs.set(clusterId, state);
      state.pendingDoc = { keyHash: item.keyHash, events: hb.events, usage: hb.usage };
      return true;
    }
    this.writeDoc(clusterId, state, current, hb, now, item);
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
    if (!this.docDue(state, now) && !this.detailsDue(state, hb, now)) return true;
    const current =
      this.inventories.get(clusterId)?.inventory ?? (await this.loadInventory(clusterId, hash))?.inventory ?? null;
    if (current === null) {
      // The stored snapshot is not the one remembered: start over from a full inventory.
      state.hash = null;
      return false;
    }
    this.remember(clusterId, current);
    this.writeDoc(clusterId, state, current, hb, now, item);
    return true;
  }

  private refreshDetailsIfDue(
    clusterId: string,
    state: ClusterState,
    inventory: InventoryState,
    hb: Heartbeat,
    now: number,
    item: WriteItem,
  ): void {
    if (this.docDue(state, now) || this.detailsDue(state, hb, now)) {
      this.writeDoc(clusterId, state, inventory, hb, now, item);
    }
  }

  /** Whether a deferred document has waited out its window. */
  private docDue(state: ClusterState, now: number): boolean {
    return state.pendingDoc !== null && now - state.docWrittenAt >= this.options.docWriteWindowMs;
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

  private writeDoc(
    clusterId: string,
    state: ClusterState,
    inventory: InventoryState,
    details: Pick<Heartbeat, 'events' | 'usage'>,
    now: number,
    item: WriteItem,
  ): void {
    if (state.pendingDoc !== null) {
      state.pendingDoc = null;
      this.pendingDocs.delete(clusterId);
    }
    if (state.hash === null) return;
    const eventsJson = JSON.stringify(details.events);
    const usageJson = JSON.stringify(details.usage ?? null);
    item.snapshot = { hash: state.hash, doc: inventory.renderDoc(eventsJson, usageJson), at: now };
    state.eventsDigest = digest(eventsJson);
    state.usageDigest = digest(usageJson);
    state.docWrittenAt = now;
    state.docWrittenHere = true;
  }

  /**
   * Hands deferred documents whose window has passed to the writer, so a cluster that went quiet
   * after a delta does not keep a stale document: any heartbeat does this for a few clusters. The
   * first not yet due ends the scan; later ones got ahead of their documents later, so they are
   * due no sooner than one window after that.
   */
  private scheduleDueDocs(now: number): void {
    let n = 0;
    for (const [id, state] of this.pendingDocs) {
      if (n >= DUE_DOCS_PER_HEARTBEAT || !this.docDue(state, now)) break;
      this.scheduleDocWrite(id);
      n++;
    }
  }

  /** Writes a cluster's deferred document after whatever of that cluster is being applied. */
  private scheduleDocWrite(clusterId: string): void {
    this.pendingDocs.delete(clusterId);
    if (this.scheduledDocs.has(clusterId)) return;
    this.scheduledDocs.add(clusterId);
    this.inOrder(clusterId, () => {
      this.scheduledDocs.delete(clusterId);
      return this.writePendingDoc(clusterId);
    }).catch((err: unknown) => {
      // The writer logged the failed batch; the stored pair is the truth again.
      this.logger.debug({ err, clusterId }, 'writing a deferred snapshot document failed');
    });
  }

  private async writePendingDoc(clusterId: string): Promise<void> {
    const state = this.states.get(clusterId);
    const pending = state?.pendingDoc ?? null;
    if (state === undefined || pending === null) return;
    const inventory = this.inventories.get(clusterId)?.inventory;
    if (inventory === undefined) {
      this.forget(clusterId);
      return;
    }
    const item: WriteItem = { clusterId, keyHash: pending.keyHash };
    this.writeDoc(clusterId, state, inventory, pending, this.clock.now(), item);
    try {
      // False when the key was replaced or the cluster deleted: nothing is written, forget it.
      if (!(await this.writer.submit(item))) this.forget(clusterId);
    } catch (err) {
      this.forget(clusterId);
      throw err;
    }
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
      docWrittenHere: false,
      pendingDoc: null,
      podUsage: null,
      podUsageSparse: null,
    };
    this.states.set(clusterId, state);
    return state;
  }

  /**
   * Reads the stored document back into memory when it holds the inventory with `hash`; `after`
   * gives the pod rows of that inventory once a delta is applied to it.
   */
  private async loadInventory(clusterId: string, hash: string): Promise<StoredInventory | null> {
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
    const pods = doc.pods;
    return {
      inventory: InventoryState.fromLists(doc.nodes, pods, doc.workloads, doc.objects).inventory,
      after: (delta, inventory) => {
        const rows = new Map<string, PodRow>();
        for (const p of pods) rows.set(podKey(p), podRowOf(p));
        for (const key of delta.remove.pods ?? []) rows.delete(key);
        for (const p of delta.upsert.pods ?? []) rows.set(podKey(p), podRowOf(p));
        return { inventory, rows };
      },
    };
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
      if (this.pendingDocs.has(id) || this.scheduledDocs.has(id)) {
        // Ahead of its stored document: write that out first, evict on a later pass.
        this.scheduleDocWrite(id);
        continue;
      }
      this.inventories.delete(id);
      this.inventoryBytes -= entry.bytes;
    }
  }

  private forget(clusterId: string): void {
    this.states.delete(clusterId);
    this.pendingDocs.delete(clusterId);
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
/**
 * A heartbeat whose usage has nodes but no pods keeps the pod usage of an earlier one (up to
 * POD_USAGE_MAX_AGE_MS old), so the stored document does not lose it between the agent's pod
 * usage rounds.
 */
function carryPodUsage(state: ClusterState, hb: Heartbeat, now: number): void {
  const usage = hb.usage;
  if (usage === undefined) {
    state.podUsage = null;
    return;
  }
  if (usage.pods !== undefined) {
    // Two pod-usage heartbeats in a row: an agent that always sends it; nothing to carry.
    if (state.podUsageSparse === null && state.podUsage !== null) state.podUsageSparse = false;
    state.podUsage = state.podUsageSparse === false ? null : { pods: usage.pods, at: now };
    return;
  }
  state.podUsageSparse = true;
  if (state.podUsage === null) return;
  if (now - state.podUsage.at > POD_USAGE_MAX_AGE_MS) state.podUsage = null;
  else hb.usage = { ...usage, pods: state.podUsage.pods };
}

function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
