import type { UsageService } from './usage.service.js';

export type UsageRollupJobOptions = { tickIntervalMs: number };

/** Every minute: a bucket boundary passes every 5 minutes, so most passes find nothing to fold. */
export const DEFAULT_USAGE_ROLLUP_OPTIONS: UsageRollupJobOptions = { tickIntervalMs: 60_000 };

/**
 * Folds usage samples older than an hour into 5-minute buckets and drops what is older than a
 * day. main.ts runs it as a SingletonJob: with PostgreSQL one replica at a time.
 */
export class UsageRollupJob {
  private running: Promise<unknown> | null = null;

  constructor(readonly usage: UsageService) {}

  /** One pass; concurrent calls share the pass in progress. */
  tick(): Promise<unknown> {
    this.running ??= this.usage.rollup().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Waits for a pass in progress. */
  async stop(): Promise<void> {
    await this.running?.catch(() => undefined);
  }
}
