import type { AddressInfo } from 'node:net';
import { buildApp, type App } from './app.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, type Config, type ConfigInput } from './config.js';
import { openDatabase } from './db/database.js';
import { createLogger, type Logger } from './logger.js';
import { createServices, type Services } from './services.js';

export type RunningServer = {
  app: App;
  services: Services;
  config: Config;
  /** The URL the server listens on (with the real port when NIRO_PORT=0). */
  url: string;
  /** Whether a first administrator still has to be created (dashboard or POST /api/v1/setup). */
  needsSetup: boolean;
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
  const database = openDatabase(config.database, (err) => logger.warn({ err }, 'an idle database connection failed'));
  try {
    await database.migrate();
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  const services = createServices({ config, clock, logger, database });
  if (config.admin !== null) {
    const created = await services.auth.bootstrapAdmin(config.admin);
    if (created !== null) logger.info({ userId: created.id, email: created.email }, 'created the first administrator');
  }
  const app = await buildApp(services);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
  services.statusJob.start();
  services.commandExpiryJob.start();
  const needsSetup = await services.auth.needsSetup();
  let closing: Promise<void> | null = null;
  return {
    app,
    services,
    config,
    url,
    needsSetup,
    close() {
      closing ??= (async () => {
        await services.statusJob.stop();
        await services.commandExpiryJob.stop();
        await app.close();
        await services.heartbeat.flush();
        await database.close();
      })();
      return closing;
    },
  };
}
