import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import { randomBytes } from 'node:crypto';
import { InProcessCommandNotifier, type CommandNotifier } from './command-notifier.js';
import { InProcessMessageBus, type MessageBus } from './message-bus.js';

export const COMMANDS_CHANNEL = 'niro_commands';
/** The message bus's channel, on the same LISTEN connection as the wake-ups. */
export const MESSAGES_CHANNEL = 'niro_messages';
/**
 * PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; a larger message goes as fragments
 * of at most this many bytes each (header included).
 */
export const NOTIFY_PAYLOAD_BYTES = 7_900;
/** Fragments of a message whose rest never came (its LISTEN connection dropped midway) are dropped after this long. */
const INCOMPLETE_MESSAGE_MS = 30_000;
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
 *
 * It also carries the replicas' message bus (`messages`, a second channel on the same
 * connection). A message reaches this process's subscribers directly and the other replicas'
 * through NOTIFY, split into fragments sent in one statement, so one transaction delivers them
 * together, and put together again on arrival. This process's publications go out one statement
 * after another, which keeps each topic's order.
 */
export class PgCommandNotifier implements CommandNotifier {
  private readonly options: PgCommandNotifierOptions;
  /** The subscribers of this process; PostgreSQL only carries the announcements between replicas. */
  private readonly local = new InProcessCommandNotifier();
  private readonly localMessages = new InProcessMessageBus();
  /** Marks this process's messages, which it already delivered to itself. */
  private readonly origin = randomBytes(6).toString('hex');
  private messageSeq = 0;
  private publishing: Promise<void> = Promise.resolve();
  private readonly partial = new Map<string, { parts: (string | undefined)[]; received: number; firstAt: number }>();
  /** Publish/subscribe with payloads across the replicas. */
  readonly messages: MessageBus = {
    publish: (topic, message) => this.publish(topic, message),
    subscribe: (topic, listener) => this.localMessages.subscribe(topic, listener),
  };
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

  private publish(topic: string, message: string): void {
    if (topic.includes('\n')) throw new Error('A message topic cannot contain a line break');
    this.localMessages.publish(topic, message);
    const fragments = fragmentMessage(`${this.origin}.${++this.messageSeq}`, topic, message);
    this.publishing = this.publishing.then(async () => {
      try {
        if (fragments.length === 1) {
          await sql`select pg_notify(${MESSAGES_CHANNEL}, ${fragments[0]})`.execute(this.deps.db);
        } else {
          // One statement is one transaction: PostgreSQL delivers its notifications together.
          await sql`select pg_notify(${MESSAGES_CHANNEL}, f) from unnest(cast(${fragments} as text[])) as f`.execute(
            this.deps.db,
          );
        }
      } catch (err) {
        this.deps.logger.warn({ err, topic }, 'could not send a message to the other replicas');
      }
    });
  }

  /** Messages waiting for more fragments (for tests). */
  get incompleteMessages(): number {
    return this.partial.size;
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
      if (typeof msg.payload !== 'string' || msg.payload === '') return;
      if (msg.channel === COMMANDS_CHANNEL) this.local.notify(msg.payload);
      else if (msg.channel === MESSAGES_CHANNEL) this.fragmentArrived(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMANDS_CHANNEL}; LISTEN ${MESSAGES_CHANNEL}`);
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

  private fragmentArrived(payload: string): void {
    const fragment = parseFragment(payload);
    if (fragment === null) {
      this.deps.logger.warn('ignored a malformed message notification');
      return;
    }
    if (fragment.id.startsWith(`${this.origin}.`)) return;
    if (fragment.count === 1) {
      this.localMessages.deliver(fragment.topic, fragment.text);
      return;
    }
    const now = performance.now();
    for (const [id, entry] of this.partial) {
      if (now - entry.firstAt > INCOMPLETE_MESSAGE_MS) this.partial.delete(id);
    }
    let entry = this.partial.get(fragment.id);
    if (entry === undefined) {
      entry = { parts: new Array<string | undefined>(fragment.count).fill(undefined), received: 0, firstAt: now };
      this.partial.set(fragment.id, entry);
    }
    if (entry.parts.length !== fragment.count || entry.parts[fragment.index] !== undefined) return;
    entry.parts[fragment.index] = fragment.text;
    entry.received++;
    if (entry.received < fragment.count) return;
    this.partial.delete(fragment.id);
    this.localMessages.deliver(fragment.topic, entry.parts.join(''));
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

type Fragment = { id: string; index: number; count: number; topic: string; text: string };

/**
 * `<id> <index>/<count> <topic>\n<text>`: the message's text cut at character boundaries so that
 * each fragment, header included, fits in `NOTIFY_PAYLOAD_BYTES`.
 */
export function fragmentMessage(id: string, topic: string, message: string): string[] {
  const bytes = Buffer.from(message, 'utf8');
  // The header's size with the widest index, so every fragment fits whatever its index.
  const headerBytes = Buffer.byteLength(`${id} 999999/999999 ${topic}\n`);
  const budget = NOTIFY_PAYLOAD_BYTES - headerBytes;
  if (budget < 64) throw new Error('A message topic is too long for a notification');
  const chunks: string[] = [];
  let start = 0;
  do {
    let end = Math.min(start + budget, bytes.length);
    // Back off from the middle of a UTF-8 sequence (continuation bytes are 10xxxxxx).
    while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    chunks.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  } while (start < bytes.length);
  return chunks.map((text, index) => `${id} ${index}/${chunks.length} ${topic}\n${text}`);
}

function parseFragment(payload: string): Fragment | null {
  const newline = payload.indexOf('\n');
  if (newline < 0) return null;
  const m = /^(\S+) (\d{1,6})\/(\d{1,6}) (.+)$/.exec(payload.slice(0, newline));
  if (m === null) return null;
  const [, id, index, count, topic] = m;
  if (id === undefined || index === undefined || count === undefined || topic === undefined) return null;
  const i = Number(index);
  const n = Number(count);
  if (n < 1 || i >= n) return null;
  return { id, index: i, count: n, topic, text: payload.slice(newline + 1) };
}
