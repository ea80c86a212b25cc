import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/schema.js';
import type { Metrics } from '../lib/metrics.js';
import type { Logger } from '../logger.js';

export class ClusterStatusJob {
  constructor(
    readonly db: Kysely<Database>,
    readonly clock: Clock,
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
  ) {}

  start(): void {}
  async stop(): Promise<void> {}
}
