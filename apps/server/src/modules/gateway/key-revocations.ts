import type { CommandNotifier } from '../commands/command-notifier.js';

/**
 * "Cluster X's agent key was replaced or deleted": open agent connections of that cluster check
 * their key again and close if it is no longer current. A hint only; the clusters table is the
 * truth, so a spurious signal costs one key lookup per connection.
 *
 * It rides on the command wake-up notifier under a topic of its own, so with PostgreSQL it
 * reaches every replica through the same LISTEN/NOTIFY connection, and does not wake the
 * cluster's command deliveries.
 */
export class KeyRevocations {
  constructor(private readonly notifier: CommandNotifier) {}

  /** Announces, after the commit, that `clusterId`'s previous agent key no longer works. */
  revoked(clusterId: string): void {
    this.notifier.notify(revocationTopic(clusterId));
  }

  /** Calls `listener` on every announcement for `clusterId` until the returned function is called. */
  subscribe(clusterId: string, listener: () => void): () => void {
    return this.notifier.subscribe(revocationTopic(clusterId), listener);
  }
}

/** Cluster ids never contain ':', so a topic cannot collide with a cluster's command wake-ups. */
function revocationTopic(clusterId: string): string {
  return `key-revoked:${clusterId}`;
}
