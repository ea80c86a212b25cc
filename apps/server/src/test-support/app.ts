import { Writable } from 'node:stream';
import { buildApp, type App } from '../app.js';
import { ManualClock } from '../clock.js';
import { loadConfig, type ConfigInput } from '../config.js';
import { createLogger } from '../logger.js';
import { createServices, type ServiceOptions, type Services } from '../services.js';
import { createTestDatabase, type Dialect } from './databases.js';

/** Cheap scrypt for tests: the production parameters are covered by password.test.ts. */
export const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

export type TestApp = {
  app: App;
  services: Services;
  clock: ManualClock;
  /** Every log line the app wrote, at debug level, for secret-leak checks. */
  logs: string[];
  dispose(): Promise<void>;
};

export async function createTestApp(
  dialect: Dialect,
  env: ConfigInput = {},
  options: Pick<ServiceOptions, 'deployments'> = {},
): Promise<TestApp> {
  const { handle, dispose } = await createTestDatabase(dialect);
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const config = loadConfig({ NIRO_LOG_LEVEL: 'debug', NIRO_DATA_DIR: '/nonexistent-niro-test', ...env });
  const logger = createLogger(config.logLevel, sink);
  const services = createServices({
    config,
    clock,
    logger,
    database: handle,
    options: { scrypt: TEST_SCRYPT, processMetrics: false, ...options },
  });
  const app = await buildApp(services);
  return {
    app,
    services,
    clock,
    logs,
    async dispose() {
      await app.close();
      await services.policy.close();
      await services.heartbeat.flush();
      await dispose();
    },
  };
}

/** Creates a user with a role in an org (a new root org unless given) and an API token. */
export async function createUserWithToken(
  services: Services,
  opts: { email?: string; role?: 'owner' | 'admin' | 'member' | 'viewer'; orgId?: string; orgName?: string } = {},
): Promise<{ userId: string; orgId: string; token: string; email: string; password: string }> {
  const email = opts.email ?? `user-${Math.random().toString(36).slice(2, 10)}@example.test`;
  const password = 'correct horse battery staple';
  const user = await services.auth.createUser({ email, password });
  let orgId = opts.orgId;
  if (orgId === undefined) {
    const org = await services.orgs.create(opts.orgName ?? `org of ${email}`, null, null);
    orgId = org.id;
  }
  await services.orgs.addMember(orgId, user.id, opts.role ?? 'owner');
  const { token } = await services.auth.createApiToken(user.id, 'test');
  return { userId: user.id, orgId, token, email, password };
}

export type TestUser = Awaited<ReturnType<typeof createUserWithToken>>;

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
