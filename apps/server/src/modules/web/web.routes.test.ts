import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toErrorReply } from '../../app.js';
import type { App } from '../../lib/http.js';
import { createValidatorCompiler } from '../../lib/validation.js';
import { createTestApp, createUserWithToken, bearer, type TestApp, type TestUser } from '../../test-support/app.js';
import { registerAuthentication } from '../auth/auth.plugin.js';
import { registerAuthRoutes } from '../auth/auth.routes.js';
import { registerFleetRoutes } from '../fleet/fleet.routes.js';
import { registerOpsRoutes } from '../ops/ops.routes.js';
import { registerWebRoutes } from './web.routes.js';

const MISSING_DIST = '/nonexistent-niro-web-dist';

/**
 * The server started without a dashboard build: the same modules as the composition root, with
 * the web module pointed at a directory that does not exist (the real build is left alone).
 */
async function appWithoutBuild(t: TestApp): Promise<App> {
  const app = Fastify({
    loggerInstance: t.services.logger as FastifyBaseLogger,
    requestIdHeader: false,
  }).withTypeProvider<TypeBoxTypeProvider>() as App;
  app.setValidatorCompiler(createValidatorCompiler());
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toErrorReply(err);
    return reply.code(status).send(body);
  });
  registerAuthentication(app, t.services);
  registerOpsRoutes(app, t.services);
  registerAuthRoutes(app, t.services);
  registerFleetRoutes(app, t.services);
  await registerWebRoutes(app, t.services, { distDir: MISSING_DIST });
  await app.ready();
  return app;
}

describe('dashboard pages without a build', () => {
  let t: TestApp;
  let app: App;
  let user: TestUser;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    user = await createUserWithToken(t.services);
    app = await appWithoutBuild(t);
  });

  afterAll(async () => {
    await app?.close();
    await t?.dispose();
  });

  it('answers the pages with a 503 that names the build command, and logs why at start-up', async () => {
    for (const url of ['/', '/login', '/login?next=/']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers['content-type'], url).toContain('text/plain');
      expect(res.body, url).toContain('The Niro dashboard is not built');
      expect(res.body, url).toContain('`npm run build`');
    }
    // Signed in, still a 503 (not a redirect into a page that cannot render).
    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: user.password },
    });
    expect(login.statusCode).toBe(200);
    const cookie = login.cookies.find((c) => c.name === 'niro_session');
    expect(cookie).toBeDefined();
    const page = await app.inject({ method: 'GET', url: '/', cookies: { niro_session: cookie?.value ?? '' } });
    expect(page.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/assets/entry-client.js' })).statusCode).toBe(404);
    expect(t.logs.join('')).toMatch(/dashboard unavailable: the dashboard is not built[^\n]*npm run build/);
  });

  it('keeps the API working', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/fleet' })).statusCode).toBe(401);
    const fleet = await app.inject({ method: 'GET', url: '/api/v1/fleet', headers: bearer(user.token) });
    expect(fleet.statusCode).toBe(200);
    expect(fleet.headers['content-type']).toContain('application/json');
    const body: unknown = fleet.json();
    expect(body).toMatchObject({ totals: { clusters: 0 }, clusters: [] });
  });
});
