import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** The first half of every Niro advisory lock key ('niro' in ASCII), so other tools' locks do not collide. */
export const ADVISORY_LOCK_NAMESPACE = 0x6e69726f;

/** One advisory lock key per singleton job; a key never changes meaning between releases. */
export const JOB_LOCK_KEYS = { clusterStatus: 1, commandExpiry: 2, usageRollup: 3, driftCheck: 4 } as const;

/** Names the lock sessions in pg_stat_activity, so operators (and tests) can find them. */
export const JOB_LOCK_APPLICATION_NAME = 'niro-job-lock';

/** The right to run a job's tick on this replica. */
export interface JobLock {
  /** Whether this replica holds the lock now, taking it when free. Never throws. */
  tryHold(): Promise<boolean>;
  /** Gives the lock up (closes its connection). */
  release(): Promise<void>;
}

/**
 * A PostgreSQL session advisory lock on a dedicated connection: held as long as that session
 * lives, so a replica that dies (or loses its connection) frees it for another one.
 */
export class AdvisoryJobLock implements JobLock {
  private client: pg.Client | null = null;
  private held = false;

  constructor(
    private readonly url: string,
    private readonly key: number,
    private readonly logger: Logger,
  ) {}

  async tryHold(): Promise<boolean> {
    if (this.client !== null && this.held) {
      // Still holding only if the session is still alive.
      try {
        await this.client.query('select 1');
        return true;
      } catch (err) {
        this.logger.warn({ err, lockKey: this.key }, 'lost the connection holding a job lock');
        await this.drop();
      }
    }
    try {
      const client = this.client ?? (await this.open());
      const result = await client.query('select pg_try_advisory_lock($1, $2) as locked', [
        ADVISORY_LOCK_NAMESPACE,
        this.key,
      ]);
      const locked: unknown = result.rows[0]?.locked;
      this.held = locked === true;
      return this.held;
    } catch (err) {
      this.logger.warn({ err, lockKey: this.key }, 'could not try a job lock');
      await this.drop();
      return false;
    }
  }

  async release(): Promise<void> {
    await this.drop();
  }

  private async open(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: JOB_LOCK_APPLICATION_NAME,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
    });
    client.on('error', (err) => {
      // The next tryHold notices the dead session and starts over.
      this.logger.warn({ err, lockKey: this.key }, 'the job lock connection failed');
      if (this.client === client) this.held = false;
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.held = false;
    await client?.end().catch(() => undefined);
  }
}

/** A lock per job with PostgreSQL; none with SQLite, where one process owns the database. */
export function jobLockFor(database: Config['database'], key: number, logger: Logger): JobLock | null {
  return database.kind === 'postgres' ? new AdvisoryJobLock(database.url, key, logger) : null;
}

/**
 * Runs a periodic job's tick every `intervalMs` on the one replica holding its lock (every
 * replica tries at every tick, so another takes over within one interval when the holder dies).
 * Without a lock the tick just runs.
 */
export class SingletonJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<boolean> | null = null;
  private leading = false;

  constructor(
    private readonly deps: {
      name: string;
      intervalMs: number;
      tick: () => Promise<unknown>;
      lock: JobLock | null;
      logger: Logger;
    },
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((err: unknown) => this.deps.logger.error({ err, job: this.deps.name }, 'job failed'));
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** One tick if this replica holds the lock; returns whether it ran. Concurrent calls share one. */
  runOnce(): Promise<boolean> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer, waits for a tick in progress, and frees the lock for another replica. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    await this.deps.lock?.release();
    this.leading = false;
  }

  private async run(): Promise<boolean> {
    const { lock, logger, name } = this.deps;
    if (lock !== null) {
      const held = await lock.tryHold();
      if (held !== this.leading) {
        logger.info({ job: name }, held ? 'this replica now runs the job' : 'this replica no longer runs the job');
        this.leading = held;
      }
      if (!held) return false;
    }
    await this.deps.tick();
    return true;
  }
}
