/**
 * Wake-ups for agent connections: "cluster X may have commands to deliver". A hint only; the
 * commands table is the truth, so a lost or extra wake-up costs at most one empty claim or one
 * wait until the next poll. The in-process implementation serves one server; with several
 * replicas a PostgreSQL LISTEN/NOTIFY implementation of the same interface carries `notify`
 * to the replica that holds the agent's connection.
 */
export interface CommandNotifier {
  /** Announces, after the commit, that `clusterId` has a new deliverable command. */
  notify(clusterId: string): void;
  /**
   * Calls `listener` on every announcement for `clusterId` until the returned function is
   * called. Listeners must not throw; they run synchronously inside `notify`.
   */
  subscribe(clusterId: string, listener: () => void): () => void;
}

export class InProcessCommandNotifier implements CommandNotifier {
  private readonly listeners = new Map<string, Set<() => void>>();

  notify(clusterId: string): void {
    const set = this.listeners.get(clusterId);
    if (set === undefined) return;
    // A copy: a listener may unsubscribe (or subscribe another) while being called.
    for (const listener of [...set]) listener();
  }

  subscribe(clusterId: string, listener: () => void): () => void {
    let set = this.listeners.get(clusterId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(clusterId, set);
    }
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry = (): void => listener();
    set.add(entry);
    return () => {
      const current = this.listeners.get(clusterId);
      if (current === undefined) return;
      current.delete(entry);
      if (current.size === 0) this.listeners.delete(clusterId);
    };
  }

  /** Wakes every subscriber of every cluster (after announcements may have been missed). */
  notifyAll(): void {
    for (const clusterId of [...this.listeners.keys()]) this.notify(clusterId);
  }

  /** Subscriptions of one cluster (for tests and metrics). */
  subscribers(clusterId: string): number {
    return this.listeners.get(clusterId)?.size ?? 0;
  }
}
