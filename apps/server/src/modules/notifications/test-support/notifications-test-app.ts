import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../../app.js';
import { type ManualClock } from '../../../clock.js';
import { loadConfig, type ConfigInput } from '../../../config.js';
import type { DatabaseHandle } from '../../../db/database.js';
import { createLogger } from '../../../logger.js';
import { createServices, type Services } from '../../../services.js';
import { TEST_SCRYPT } from '../../../test-support/app.js';
import type { DispatcherOptions } from '../outbox-dispatcher.job.js';

export type NotificationsTestApp = { app: App; services: Services; logs: string[]; close(): Promise<void> };

export const TEST_SECRET_KEY = randomBytes(32).toString('base64');

/**
 * The whole service set and app on a given database, as main.ts builds it, with PagerDuty pointed
 * at a local receiver and no jitter. Building a second one on the same database is a restart.
 */
export async function buildNotificationsApp(opts: {
  database: DatabaseHandle;
  clock: ManualClock;
  env?: ConfigInput;
  pagerDutyEventsUrl?: string;
  dispatcher?: Partial<DispatcherOptions>;
}): Promise<NotificationsTestApp> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const config = loadConfig({
    NIRO_LOG_LEVEL: 'debug',
    NIRO_DATA_DIR: '/nonexistent-niro-test',
    NIRO_SECRET_KEY: TEST_SECRET_KEY,
    NIRO_PUBLIC_URL: 'https://niro.example.test',
    ...opts.env,
  });
  const services = createServices({
    config,
    clock: opts.clock,
    logger: createLogger(config.logLevel, sink),
    database: opts.database,
    options: {
      scrypt: TEST_SCRYPT,
      processMetrics: false,
      notifications: {
        pagerDutyEventsUrl: opts.pagerDutyEventsUrl,
        dispatcher: { random: () => 0.5, ...opts.dispatcher },
      },
    },
  });
  const app = await buildApp(services);
  return {
    app,
    services,
    logs,
    async close() {
      await services.notificationDispatcher.stop();
      await app.close();
      await services.heartbeat.flush();
    },
  };
}
