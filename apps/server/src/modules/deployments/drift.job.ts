import type { Logger } from '../../logger.js';
import type { DeploymentsService } from './deployments.service.js';

/**
 * Every NIRO_DRIFT_INTERVAL (default 5 minutes): a `diff` of each managed deployment against its
 * cluster, whose result opens or resolves drift_detected, and each Git deployment's ref compared
 * with its newest revision (a new commit is applied). main.ts runs it as a SingletonJob: with
 * PostgreSQL on one replica at a time.
 */
export class DriftJob {
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly deployments: DeploymentsService,
    private readonly logger: Logger,
  ) {}

  /** One pass; concurrent calls share the pass in progress. */
  tick(): Promise<unknown> {
    this.running ??= this.deployments
      .queueDriftChecks()
      .then(async (queued) => {
        if (queued > 0) this.logger.debug({ queued }, 'drift checks queued');
        const applied = await this.deployments.trackGitSources();
        if (applied > 0) this.logger.info({ applied }, 'new Git commits applied');
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    await this.running?.catch(() => undefined);
  }
}
