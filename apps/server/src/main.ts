import type { AddressInfo } from 'node:net';
import { buildApp, type App } from './app.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, type Config, type ConfigInput } from './config.js';
import { openDatabase } from './db/database.js';
import { DEFAULT_STATUS_JOB_OPTIONS } from './jobs/cluster-status.job.js';
import { DEFAULT_COMMAND_EXPIRY_OPTIONS } from './jobs/command-expiry.job.js';
import { JOB_LOCK_KEYS, SingletonJob, jobLockFor } from './jobs/singleton.js';
import { createLogger, type Logger } from './logger.js';
import { PgCommandNotifier } from './modules/commands/pg-command-notifier.js';
import { DEFAULT_USAGE_ROLLUP_OPTIONS } from './modules/usage/usage-rollup.job.js';
import { createServices, type Services } from './services.js';

export type RunningServer = {
  app: App;
  services: Services;
  config: Config;
  /** The URL the server listens on (with the real port when NIRO_PORT=0). */
  url: string;
  /** Whether a first administrator still has to be created (dashboard or POST /api/v1/setup). */
  needsSetup: boolean;
  /** The periodic jobs; with PostgreSQL each runs on one replica at a time. */
  jobs: {
    clusterStatus: SingletonJob;
    commandExpiry: SingletonJob;
    usageRollup: SingletonJob;
    driftCheck: SingletonJob | null;
  };
  close(): Promise<void>;
};

export type StartOptions = {
  /** `NIRO_*` values (flags already merged in); see config.ts. */
  config: ConfigInput;
  clock?: Clock;
  logger?: Logger;
  cwd?: string;
};

/**
 * The composition root: config → logger → database (migrated) → services → app → listen → jobs.
 * Throws ConfigError for invalid configuration before anything is opened.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const config = loadConfig(options.config, options.cwd);
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  if (config.database.kind === 'postgres' && config.secretKey === null) {
    // Each replica would generate its own key file and could not read what another one sealed.
    logger.warn(
      'NIRO_SECRET_KEY is not set: with PostgreSQL and several replicas, set it (the same value everywhere); ' +
        'until then secrets are sealed with a key file in this replica’s data dir',
    );
  }
  const database = openDatabase(config.database, (err) => logger.warn({ err }, 'an idle database connection failed'));
  try {
    await database.migrate();
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  // With PostgreSQL a command created on one replica must wake an agent held by another.
  let pgNotifier: PgCommandNotifier | null = null;
  if (config.database.kind === 'postgres') {
    pgNotifier = new PgCommandNotifier({ url: config.database.url, db: database.db, logger });
    await pgNotifier.start();
  }
  const services = createServices({
    config,
    clock,
    logger,
    database,
    options: pgNotifier === null ? undefined : { commandNotifier: pgNotifier, messageBus: pgNotifier.messages },
  });
  if (config.admin !== null) {
    const created = await services.auth.bootstrapAdmin(config.admin);
    if (created !== null) logger.info({ userId: created.id, email: created.email }, 'created the first administrator');
  }
  const app = await buildApp(services);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
  const jobs = {
    clusterStatus: new SingletonJob({
      name: 'cluster-status',
      intervalMs: DEFAULT_STATUS_JOB_OPTIONS.tickIntervalMs,
      tick: () => services.statusJob.tick(),
      lock: jobLockFor(config.database, JOB_LOCK_KEYS.clusterStatus, logger),
      logger,
    }),
    commandExpiry: new SingletonJob({
      name: 'command-expiry',
      intervalMs: DEFAULT_COMMAND_EXPIRY_OPTIONS.tickIntervalMs,
      tick: () => services.commandExpiryJob.tick(),
      lock: jobLockFor(config.database, JOB_LOCK_KEYS.commandExpiry, logger),
      logger,
    }),
    usageRollup: new SingletonJob({
      name: 'usage-rollup',
      intervalMs: DEFAULT_USAGE_ROLLUP_OPTIONS.tickIntervalMs,
      tick: () => services.usageRollupJob.tick(),
      lock: jobLockFor(config.database, JOB_LOCK_KEYS.usageRollup, logger),
      logger,
    }),
    driftCheck:
      config.driftIntervalMs === null
        ? null
        : new SingletonJob({
            name: 'drift-check',
            intervalMs: config.driftIntervalMs,
            tick: () => services.driftJob.tick(),
            lock: jobLockFor(config.database, JOB_LOCK_KEYS.driftCheck, logger),
            logger,
          }),
  };
  jobs.clusterStatus.start();
  jobs.driftCheck?.start();
  jobs.commandExpiry.start();
  jobs.usageRollup.start();
  services.notificationDispatcher.start();
  const needsSetup = await services.auth.needsSetup();
  let closing: Promise<void> | null = null;
  return {
    app,
    services,
    config,
    url,
    needsSetup,
    jobs,
    close() {
      closing ??= (async () => {
        await services.notificationDispatcher.stop();
        await jobs.clusterStatus.stop();
        await jobs.commandExpiry.stop();
        await jobs.usageRollup.stop();
        await jobs.driftCheck?.stop();
        await services.driftJob.stop();
        await services.statusJob.stop();
        await services.commandExpiryJob.stop();
        await services.usageRollupJob.stop();
        await app.close();
        await services.policy.close();
        await pgNotifier?.close();
        await services.heartbeat.flush();
        await services.usage.flush();
        await database.close();
      })();
      return closing;
    },
  };
}
