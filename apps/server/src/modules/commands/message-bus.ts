/**
 * Publish/subscribe with payloads, next to the wake-up notifier: the log relay uses it to carry
 * lines from the replica that holds an agent's connection to the replica that holds the reader,
 * and acknowledgements back. Best effort, like the wake-ups: a message published while a
 * replica's LISTEN connection is down is lost, and the log relay's timeouts deal with that.
 *
 * Messages of one topic published by one process arrive in the order they were published.
 * Delivery is asynchronous (never inside `publish`), the same in-process and across replicas.
 */
export interface MessageBus {
  publish(topic: string, message: string): void;
  /**
   * Calls `listener` with every message published on `topic` (by any replica) until the
   * returned function is called. Listeners must not throw.
   */
  subscribe(topic: string, listener: (message: string) => void): () => void;
}

/** One process's subscribers; also the local half of the PostgreSQL bus. */
export class InProcessMessageBus implements MessageBus {
  private readonly listeners = new Map<string, Set<(message: string) => void>>();

  publish(topic: string, message: string): void {
    // A microtask keeps publication order and never runs a listener inside its publisher.
    queueMicrotask(() => this.deliver(topic, message));
  }

  /** Hands a message to this process's subscribers at once (the PostgreSQL bus calls this). */
  deliver(topic: string, message: string): void {
    const set = this.listeners.get(topic);
    if (set === undefined) return;
    // A copy: a listener may unsubscribe (or subscribe another) while being called.
    for (const listener of [...set]) listener(message);
  }

  subscribe(topic: string, listener: (message: string) => void): () => void {
    let set = this.listeners.get(topic);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(topic, set);
    }
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry = (message: string): void => listener(message);
    set.add(entry);
    return () => {
      const current = this.listeners.get(topic);
      if (current === undefined) return;
      current.delete(entry);
      if (current.size === 0) this.listeners.delete(topic);
    };
  }

  /** Subscriptions of one topic (for tests and metrics). */
  subscribers(topic: string): number {
    return this.listeners.get(topic)?.size ?? 0;
  }

  /** Topics with at least one subscription (for tests: nothing left behind). */
  get topics(): number {
    return this.listeners.size;
  }
}
