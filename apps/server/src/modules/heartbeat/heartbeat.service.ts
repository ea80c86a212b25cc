import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Metrics } from '../../lib/metrics.js';
import type { Logger } from '../../logger.js';
import type { HeartbeatRepository } from './heartbeat.repository.js';

export class HeartbeatService {
  constructor(
    readonly repo: HeartbeatRepository,
    readonly clock: Clock,
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
  ) {}

  /** Writes out anything buffered; called on shutdown. */
  async flush(): Promise<void> {}
}
