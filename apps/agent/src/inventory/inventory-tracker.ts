import type { Inventory, Node, Pod, PolicyObject, Workload } from '@niro/protocol';
import { canonicalJson, hashCanonicalInventory } from '@niro/protocol/inventory-hash';

type Sections = { nodes: Node; pods: Pod; workloads: Workload; objects: PolicyObject };
export type Section = keyof Sections;
const SECTIONS: readonly Section[] = ['nodes', 'pods', 'workloads', 'objects'];

const emptySets = (): { [S in Section]: Set<string> } => ({
  nodes: new Set(),
  pods: new Set(),
  workloads: new Set(),
  objects: new Set(),
});

type Entry<T> = { value: T; json: string };

/** One heartbeat's inventory, to be committed when the server acknowledged it or aborted when not. */
export type PreparedInventory = {
  inventory: Inventory;
  /** The server holds this inventory now. */
  commit(): void;
  /** The heartbeat did not get through; its changes go into the next one. */
  abort(): void;
};

/**
 * The cluster's current inventory and the part of it the server is known to hold. Every change
 * marks its key dirty, so a heartbeat costs work in proportion to what changed: `same` when
 * nothing did, a `delta` of the changed items otherwise, `full` when the server's copy is unknown
 * (start-up, `resendFull`, the pods capability switched, policy objects switched).
 *
 * Policy objects are kept current at all times but reported only while `setObjectsIncluded(true)`:
 * the protocol reads an absent `objects` as "not reported", so a partial list must never go out.
 */
export class InventoryTracker {
  private readonly current = { nodes: new Map(), pods: new Map(), workloads: new Map(), objects: new Map() } as {
    [S in Section]: Map<string, Entry<Sections[S]>>;
  };
  private sent: { [S in Section]: Map<string, string> } = {
    nodes: new Map(),
    pods: new Map(),
    workloads: new Map(),
    objects: new Map(),
  };
  private dirty = emptySets();
  private serverHash: string | null = null;
  /**
   * Bumped whenever the server's copy must be resent in full; a heartbeat prepared before that
   * (one in flight while a watch switched objects on) then commits nothing.
   */
  private epoch = 0;
  private cachedHash: string | null = null;
  private podsIncluded = false;
  private objectsIncluded = false;

  set<S extends Section>(section: S, key: string, value: Sections[S] | undefined): void {
    const map = this.current[section];
    if (value === undefined) {
      if (!map.delete(key)) return;
    } else {
      const json = canonicalJson(value);
      if (map.get(key)?.json === json) return;
      map.set(key, { value, json });
    }
    this.dirty[section].add(key);
    this.cachedHash = null;
  }

  get size(): { nodes: number; pods: number; workloads: number; objects: number } {
    return {
      nodes: this.current.nodes.size,
      pods: this.current.pods.size,
      workloads: this.current.workloads.size,
      objects: this.current.objects.size,
    };
  }

  /** Whether pods are part of the inventory (the `pods` capability); switching forces a full send. */
  setPodsIncluded(on: boolean): void {
    if (on === this.podsIncluded) return;
    this.podsIncluded = on;
    if (!on) for (const key of [...this.current.pods.keys()]) this.set('pods', key, undefined);
    this.invalidateServerCopy();
  }

  get podsIncludedNow(): boolean {
    return this.podsIncluded;
  }

  /**
   * Whether policy objects are reported (every kind is listed and watched); switching forces a
   * full send, with or without `objects`. The objects themselves stay tracked while off.
   */
  setObjectsIncluded(on: boolean): void {
    if (on === this.objectsIncluded) return;
    this.objectsIncluded = on;
    this.invalidateServerCopy();
    this.cachedHash = null;
  }

  get objectsIncludedNow(): boolean {
    return this.objectsIncluded;
  }

  /** The server lost our inventory (it answered `resendFull`): the next heartbeat is `full`. */
  forgetServerState(): void {
    this.invalidateServerCopy();
  }

  private invalidateServerCopy(): void {
    this.serverHash = null;
    this.epoch += 1;
  }

  get needsFull(): boolean {
    return this.serverHash === null;
  }

  hash(): string {
    if (this.cachedHash === null) {
      const entries = (s: Section): [string, string][] =>
        [...this.current[s]].map(([k, e]): [string, string] => [k, e.json]);
      this.cachedHash = hashCanonicalInventory({
        nodes: entries('nodes'),
        pods: entries('pods'),
        workloads: entries('workloads'),
        objects: this.objectsIncluded ? entries('objects') : undefined,
      });
    }
    return this.cachedHash;
  }

  prepare(): PreparedInventory {
    const hash = this.hash();
    const epoch = this.epoch;
    const dirty = this.dirty;
    this.dirty = emptySets();
    const abort = (): void => {
      for (const s of SECTIONS) for (const k of dirty[s]) this.dirty[s].add(k);
    };
    const base = this.serverHash;
    if (base === null) return this.prepareFull(hash, epoch, abort);

    const upsert: { nodes?: Node[]; pods?: Pod[]; workloads?: Workload[]; objects?: PolicyObject[] } = {};
    const remove: { nodes?: string[]; pods?: string[]; workloads?: string[]; objects?: string[] } = {};
    const sentUpdates: { section: Section; key: string; json: string | undefined }[] = [];
    const collect = <S extends Section>(s: S): void => {
      const up: Sections[S][] = [];
      const rm: string[] = [];
      for (const key of dirty[s]) {
        const cur = this.current[s].get(key);
        const old = this.sent[s].get(key);
        if (cur !== undefined && cur.json !== old) {
          up.push(cur.value);
          sentUpdates.push({ section: s, key, json: cur.json });
        } else if (cur === undefined && old !== undefined) {
          rm.push(key);
          sentUpdates.push({ section: s, key, json: undefined });
        }
      }
      if (up.length > 0) (upsert as { [K in S]?: Sections[K][] })[s] = up;
      if (rm.length > 0) remove[s] = rm;
    };
    // While objects are not reported the server holds none, and turning them on sends full.
    for (const s of SECTIONS) if (s !== 'objects' || this.objectsIncluded) collect(s);

    if (sentUpdates.length === 0 && hash === base) {
      return { inventory: { mode: 'same', hash }, commit: () => undefined, abort };
    }
    return {
      inventory: { mode: 'delta', baseHash: base, hash, upsert, remove },
      commit: () => {
        if (this.epoch !== epoch) return;
        for (const u of sentUpdates) {
          if (u.json === undefined) this.sent[u.section].delete(u.key);
          else this.sent[u.section].set(u.key, u.json);
        }
        this.serverHash = hash;
      },
      abort,
    };
  }

  private prepareFull(hash: string, epoch: number, abort: () => void): PreparedInventory {
    const values = <S extends Section>(s: S): Sections[S][] => [...this.current[s].values()].map((e) => e.value);
    const snapshot = (s: Section): Map<string, string> => new Map([...this.current[s]].map(([k, e]) => [k, e.json]));
    const sent = {
      nodes: snapshot('nodes'),
      pods: snapshot('pods'),
      workloads: snapshot('workloads'),
      objects: this.objectsIncluded ? snapshot('objects') : new Map<string, string>(),
    };
    const inventory: Inventory = { mode: 'full', hash, nodes: values('nodes'), workloads: values('workloads') };
    if (this.podsIncluded) inventory.pods = values('pods');
    if (this.objectsIncluded) inventory.objects = values('objects');
    return {
      inventory,
      commit: () => {
        if (this.epoch !== epoch) return;
        this.sent = sent;
        this.serverHash = hash;
      },
      abort,
    };
  }
}
