import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { parseIncidentEvent } from './notification-events.js';
import type { NotificationsRepository, OutboxRow } from './notifications.repository.js';
import { deliveryErrorMessage, type NotificationsService } from './notifications.service.js';

export type DispatcherOptions = {
  /** How often the outbox is scanned besides the wake-ups of enqueue(). */
  pollIntervalMs: number;
  /** How long a claimed row belongs to this dispatcher (longer than a send's 10 s timeout). */
  leaseMs: number;
  /** Rows taken per scan, and sent at most this many at a time. */
  batchSize: number;
  concurrency: number;
  /** Retry delays: first, doubling up to the maximum, ±25 % jitter. */
  firstRetryMs: number;
  maxRetryMs: number;
  /** After this long since enqueue a failing event is given up (state `failed`). */
  giveUpAfterMs: number;
  /** A wake-up runs a scan after this short delay, so the enqueuing transaction has committed. */
  wakeDelayMs: number;
  /** Jitter source, 0 ≤ x < 1. */
  random: () => number;
};

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  pollIntervalMs: 5_000,
  leaseMs: 60_000,
  batchSize: 50,
  concurrency: 8,
  firstRetryMs: 30_000,
  maxRetryMs: 3_600_000,
  giveUpAfterMs: 24 * 3_600_000,
  wakeDelayMs: 50,
  random: Math.random,
};

/** The delay before retry number `failures` (1 after the first failed attempt). */
export function retryDelayMs(failures: number, options: DispatcherOptions): number {
  const base = Math.min(options.firstRetryMs * 2 ** Math.max(0, failures - 1), options.maxRetryMs);
  return Math.round(base * (0.75 + options.random() * 0.5));
}

export type TickResult = { delivered: number; retried: number; failed: number };

/**
 * Sends what the outbox holds. Every replica runs one: a row is claimed with a lease by a
 * conditional UPDATE, so exactly one replica sends it; a replica that dies mid-send leaves a
 * lease that runs out, and another one (or itself after a restart) sends again with the same
 * event id. A 2xx marks the row delivered at once and it is never sent again; a failure is
 * recorded on the row and the channel, and retried with backoff until 24 h after enqueue.
 */
export class OutboxDispatcher {
  private readonly options: DispatcherOptions;
  private timer: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private running: Promise<TickResult> | null = null;
  private again = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly deps: {
      repo: NotificationsRepository;
      notifications: NotificationsService;
      clock: Clock;
      logger: Logger;
    },
    options: Partial<DispatcherOptions> = {},
  ) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...options };
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.runInBackground(), this.options.pollIntervalMs);
    this.timer.unref();
    this.unsubscribe = this.deps.notifications.onWake(() => this.wake());
    // Whatever was left by a previous run (a crash between enqueue and send) goes out now.
    this.wake();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.timer = null;
    this.wakeTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.again = false;
    await this.running?.catch(() => undefined);
  }

  /** Schedules a scan soon (only while started). */
  wake(): void {
    if (this.timer === null || this.wakeTimer !== null) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.runInBackground();
    }, this.options.wakeDelayMs);
    this.wakeTimer.unref();
  }

  /** One scan: claims and sends what is due. Concurrent calls share the scan in progress. */
  tick(): Promise<TickResult> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.scan().finally(() => {
      this.running = null;
      if (this.again && this.timer !== null) {
        this.again = false;
        this.runInBackground();
      }
    });
    return this.running;
  }

  private runInBackground(): void {
    this.tick().catch((err: unknown) => this.deps.logger.error({ err }, 'notification dispatch failed'));
  }

  private async scan(): Promise<TickResult> {
    const result: TickResult = { delivered: 0, retried: 0, failed: 0 };
    const now = this.deps.clock.now();
    const ids = await this.deps.repo.dueIds(now, this.options.batchSize);
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const claimed = await this.deps.repo.claim(id, this.deps.clock.now(), this.options.leaseMs);
        if (claimed === undefined) continue;
        result[await this.attempt(claimed)] += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, ids.length) }, worker));
    return result;
  }

  private async attempt(row: OutboxRow): Promise<keyof TickResult> {
    const { repo, notifications, clock, logger } = this.deps;
    const log = logger.child({ channelId: row.channel_id, eventId: row.event_id, attempt: row.attempts });
    const channel = await repo.findChannel(row.channel_id);
    // Deleted meanwhile: its outbox rows went with it.
    if (channel === undefined) return 'failed';
    let error: string;
    try {
      const parsed: unknown = JSON.parse(row.payload);
      const event = parseIncidentEvent(parsed);
      if (event === null) throw new Error('the stored event is not a valid incident event');
      await notifications.deliver(channel, { eventId: row.event_id, event, enqueuedAt: row.enqueued_at }, clock.now());
      const at = clock.now();
      await repo.markDelivered(row.id, at);
      await repo.recordChannelDelivered(row.channel_id, at);
      log.info('notification delivered');
      return 'delivered';
    } catch (err) {
      error = deliveryErrorMessage(err);
    }
    const now = clock.now();
    const giveUpAt = row.enqueued_at + this.options.giveUpAfterMs;
    if (now >= giveUpAt) {
      const message = `gave up after ${row.attempts} attempts in ${Math.round(this.options.giveUpAfterMs / 3_600_000)} h: ${error}`;
      await repo.markFailed(row.id, message);
      await repo.recordChannelError(row.channel_id, message, now);
      log.warn({ error }, 'notification given up');
      return 'failed';
    }
    // The last retry lands on the give-up time itself rather than past it.
    const next = Math.min(now + retryDelayMs(row.attempts, this.options), giveUpAt);
    await repo.markRetry(row.id, next, error);
    await repo.recordChannelError(row.channel_id, error, now);
    log.warn({ error, nextAttemptAt: new Date(next).toISOString() }, 'notification not delivered; will retry');
    return 'retried';
  }
}
