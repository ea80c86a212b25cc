import type { Inventory, Node, Pod, Workload } from '@niro/protocol';
import { canonicalJson, hashCanonicalInventory } from '@niro/protocol/inventory-hash';

type Sections = { nodes: Node; pods: Pod; workloads: Workload };
export type Section = keyof Sections;
const SECTIONS: readonly Section[] = ['nodes', 'pods', 'workloads'];

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
 * (start-up, `resendFull`, the pods capability switched).
 */
export class InventoryTracker {
  private readonly current = { nodes: new Map(), pods: new Map(), workloads: new Map() } as {
    [S in Section]: Map<string, Entry<Sections[S]>>;
  };
  private sent: { [S in Section]: Map<string, string> } = { nodes: new Map(), pods: new Map(), workloads: new Map() };
  private dirty: { [S in Section]: Set<string> } = { nodes: new Set(), pods: new Set(), workloads: new Set() };
  private serverHash: string | null = null;
  private cachedHash: string | null = null;
  private podsIncluded = false;

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

  get size(): { nodes: number; pods: number; workloads: number } {
    return { nodes: this.current.nodes.size, pods: this.current.pods.size, workloads: this.current.workloads.size };
  }

  /** Whether pods are part of the inventory (the `pods` capability); switching forces a full send. */
  setPodsIncluded(on: boolean): void {
    if (on === this.podsIncluded) return;
    this.podsIncluded = on;
    if (!on) for (const key of [...this.current.pods.keys()]) this.set('pods', key, undefined);
    this.serverHash = null;
  }

  get podsIncludedNow(): boolean {
    return this.podsIncluded;
  }

  /** The server lost our inventory (it answered `resendFull`): the next heartbeat is `full`. */
  forgetServerState(): void {
    this.serverHash = null;
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
      });
    }
    return this.cachedHash;
  }

  prepare(): PreparedInventory {
    const hash = this.hash();
    const dirty = this.dirty;
    this.dirty = { nodes: new Set(), pods: new Set(), workloads: new Set() };
    const abort = (): void => {
      for (const s of SECTIONS) for (const k of dirty[s]) this.dirty[s].add(k);
    };
    const base = this.serverHash;
    if (base === null) return this.prepareFull(hash, abort);

    const upsert: { nodes?: Node[]; pods?: Pod[]; workloads?: Workload[] } = {};
    const remove: { nodes?: string[]; pods?: string[]; workloads?: string[] } = {};
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
    for (const s of SECTIONS) collect(s);

    if (sentUpdates.length === 0 && hash === base) {
      return { inventory: { mode: 'same', hash }, commit: () => undefined, abort };
    }
    return {
      inventory: { mode: 'delta', baseHash: base, hash, upsert, remove },
      commit: () => {
        for (const u of sentUpdates) {
          if (u.json === undefined) this.sent[u.section].delete(u.key);
          else this.sent[u.section].set(u.key, u.json);
        }
        this.serverHash = hash;
      },
      abort,
    };
  }

  private prepareFull(hash: string, abort: () => void): PreparedInventory {
    const values = <S extends Section>(s: S): Sections[S][] => [...this.current[s].values()].map((e) => e.value);
    const snapshot = (s: Section): Map<string, string> => new Map([...this.current[s]].map(([k, e]) => [k, e.json]));
    const sent = { nodes: snapshot('nodes'), pods: snapshot('pods'), workloads: snapshot('workloads') };
    const inventory: Inventory = { mode: 'full', hash, nodes: values('nodes'), workloads: values('workloads') };
    if (this.podsIncluded) inventory.pods = values('pods');
    return {
      inventory,
      commit: () => {
        this.sent = sent;
        this.serverHash = hash;
      },
      abort,
    };
  }
}
