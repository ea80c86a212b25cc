import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import { InProcessCommandNotifier, type CommandNotifier } from './command-notifier.js';

export const COMMANDS_CHANNEL = 'niro_commands';
/** Names the LISTEN session in pg_stat_activity, so operators (and tests) can find it. */
export const COMMAND_LISTENER_APPLICATION_NAME = 'niro-command-listener';

export type PgCommandNotifierOptions = {
  /** First wait before reconnecting a dropped LISTEN connection; doubles up to `reconnectMaxMs`. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
};

export const DEFAULT_PG_NOTIFIER_OPTIONS: PgCommandNotifierOptions = { reconnectMinMs: 250, reconnectMaxMs: 10_000 };

/**
 * Carries wake-ups between replicas sharing one PostgreSQL: `notify` sends `pg_notify` through
 * the pool, and one dedicated connection per process LISTENs and wakes the local subscribers of
 * the cluster named in each notification. The sender hears its own notifications on that
 * connection too, so local and remote subscribers take the same path.
 */
export class PgCommandNotifier implements CommandNotifier {
  private readonly options: PgCommandNotifierOptions;
  /** The subscribers of this process; PostgreSQL only carries the announcements between replicas. */
  private readonly local = new InProcessCommandNotifier();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private everListened = false;
  private closed = false;

  constructor(
    private readonly deps: { url: string; db: Kysely<Database>; logger: Logger },
    options: Partial<PgCommandNotifierOptions> = {},
  ) {
    this.options = { ...DEFAULT_PG_NOTIFIER_OPTIONS, ...options };
  }

  /**
   * Opens the LISTEN connection. Resolves after the first attempt either way: a failure is
   * logged and retried with backoff, and wake-ups missed meanwhile are made up on reconnect.
   */
  start(): Promise<void> {
    return this.connect();
  }

  /** Whether the LISTEN connection is up (for health and tests). */
  get listening(): boolean {
    return this.client !== null;
  }

  notify(clusterId: string): void {
    sql`select pg_notify(${COMMANDS_CHANNEL}, ${clusterId})`.execute(this.deps.db).catch((err: unknown) => {
      // The row is committed; the agent still gets it on its next poll or reconnect.
      this.deps.logger.warn({ err, clusterId }, 'could not send a command wake-up');
    });
  }

  subscribe(clusterId: string, listener: () => void): () => void {
    return this.local.subscribe(clusterId, listener);
  }

  subscribers(clusterId: string): number {
    return this.local.subscribers(clusterId);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.connecting;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.listen().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.deps.url,
      application_name: COMMAND_LISTENER_APPLICATION_NAME,
      connectionTimeoutMillis: 10_000,
      // Detects a silently dead connection (a failover, a dropped NAT entry) within minutes.
      keepAlive: true,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the LISTEN connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel !== COMMANDS_CHANNEL || typeof msg.payload !== 'string' || msg.payload === '') return;
      this.local.notify(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMANDS_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      this.retry(err);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    if (this.everListened) {
      this.deps.logger.info('command wake-ups listening again; waking every waiting agent');
      // Notifications sent while the connection was down are gone: every waiter claims once.
      this.local.notifyAll();
    }
    this.everListened = true;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.closed || this.retryTimer !== null) return;
    this.failures++;
    const ceiling = Math.min(this.options.reconnectMaxMs, this.options.reconnectMinMs * 2 ** (this.failures - 1));
    // Jitter, so replicas cut off together do not all reconnect in the same instant.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.deps.logger.warn({ err, retryInMs: delay }, 'the command wake-up connection failed; reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
