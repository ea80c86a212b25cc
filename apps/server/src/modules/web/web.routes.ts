import fs from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { readSessionCookie } from '../auth/session-cookie.js';
import { DEFAULT_WEB_DIST_DIR, WEB_BUILD_COMMAND, loadWebBundle, type PageBoot, type WebBundle } from './web-bundle.js';

export type WebOptions = { distDir?: string };

const PageQuery = Type.Object({
  next: Type.Optional(Type.String({ maxLength: 2000 })),
  // Set by the dashboard when a request found the session gone: the form says why it is back.
  expired: Type.Optional(Type.String({ maxLength: 8 })),
});
/** Hashed file names (Vite): a file never changes under its name. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The dashboard: its built assets under /assets and the server-rendered pages (`/`, `/login`).
 * Only these paths (and the dashboard's own pages) are claimed, so every API and agent route keeps its own handler. Without a
 * build the pages answer 503 naming the build command; the API works as before.
 */
export async function registerWebRoutes(app: App, services: Services, options: WebOptions = {}): Promise<void> {
  const loaded = await loadWebBundle(options.distDir ?? DEFAULT_WEB_DIST_DIR);
  const bundle = 'bundle' in loaded ? loaded.bundle : null;
  if (bundle === null && 'missing' in loaded) {
    services.logger.warn(`dashboard unavailable: ${loaded.missing}; build it with \`${WEB_BUILD_COMMAND}\``);
  }
  const notBuilt = `The Niro dashboard is not built. Run \`${WEB_BUILD_COMMAND}\` in the Niro checkout, then restart the server. The API under /api works without it.\n`;

  app.get('/assets/:file', { schema: { hide: true, params: Type.Object({ file: Type.String() }) } }, (req, reply) => {
    const asset = bundle?.assets.get(req.params.file);
    if (asset === undefined) {
      return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
    }
    return reply
      .type(asset.contentType)
      .header('cache-control', IMMUTABLE)
      .header('x-content-type-options', 'nosniff')
      .send(fs.createReadStream(asset.file));
  });

  app.get('/login', { schema: { hide: true, querystring: PageQuery } }, async (req, reply) => {
    if (bundle === null) return reply.code(503).type('text/plain; charset=utf-8').send(notBuilt);
    const next = safeNext(req.query.next);
    if ((await sessionPrincipal(req)) !== null) return reply.redirect(next, 302);
    const boot: PageBoot = {
      page: 'login',
      next,
      needsSetup: await services.auth.needsSetup(),
      expired: req.query.expired === '1',
    };
    return sendPage(bundle, boot, null, reply);
  });

  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    if (bundle === null) return reply.code(503).type('text/plain; charset=utf-8').send(notBuilt);
    const principal = await sessionPrincipal(req);
    if (principal === null) return reply.redirect(loginPath(pagePath(req)), 302);
    // Run by the renderer once the shell has left; the fleet then follows in the same response.
    const fleet = () => services.orgs.scopeFor(principal.userId).then((scope) => services.fleet.fleet(scope));
    return sendPage(bundle, { page: 'app', email: principal.email, path: pagePath(req) }, fleet, reply);
  });

  // Every other signed-in page: the shell renders at once, the page loads its data from the API.
  for (const url of APP_PAGES) {
    app.get(url, { schema: { hide: true } }, async (req, reply) => {
      if (bundle === null) return reply.code(503).type('text/plain; charset=utf-8').send(notBuilt);
      const principal = await sessionPrincipal(req);
      const path = pagePath(req);
      if (principal === null) return reply.redirect(loginPath(path), 302);
      return sendPage(bundle, { page: 'app', email: principal.email, path }, null, reply);
    });
  }

  // Accepting an invitation needs no session: the link itself is the credential.
  app.get(
    '/invite/:token',
    {
      // The URL is the credential: never in the request log (warn and above only), never in a Referer.
      logLevel: 'warn',
      schema: { hide: true, params: Type.Object({ token: Type.String({ maxLength: 200 }) }) },
    },
    async (req, reply) => {
      if (bundle === null) return reply.code(503).type('text/plain; charset=utf-8').send(notBuilt);
      reply.header('referrer-policy', 'no-referrer');
      return sendPage(bundle, { page: 'invite', token: req.params.token }, null, reply);
    },
  );

  async function sessionPrincipal(req: FastifyRequest) {
    const cookie = readSessionCookie(req, services.config);
    return cookie === undefined || cookie === '' ? null : services.auth.authenticateSession(cookie);
  }

  async function sendPage(
    b: WebBundle,
    boot: PageBoot,
    fleet: (() => Promise<{ body: string; etag: string }>) | null,
    reply: FastifyReply,
  ) {
    const stream = await b.renderPage({
      boot,
      fleet,
      assets: b.entry,
      onError: (err) => reply.log.error({ err }, 'rendering the dashboard failed'),
    });
    return reply
      .code(200)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .send(stream);
  }
}

/** The dashboard's pages besides `/` (the client's router, apps/web/src/routes.tsx, draws the same map). */
const APP_PAGES = [
  '/clusters/*',
  '/pods',
  '/images',
  '/incidents',
  '/incidents/*',
  '/findings',
  '/deployments',
  '/deployments/*',
  '/registries',
  '/settings',
  '/settings/*',
];

/** The sign-in page, coming back to `path` afterwards (slashes left readable). */
function loginPath(path: string): string {
  return `/login?next=${encodeURIComponent(path).replace(/%2F/g, '/')}`;
}

/** The request's path and query as the page's router starts from (only ever a path on this site). */
function pagePath(req: FastifyRequest): string {
  return safeNext(req.url);
}

/** A path on this site to go to after signing in; anything else (another host, `//x`) goes to the fleet. */
export function safeNext(next: string | undefined): string {
  if (next === undefined || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  return next;
}
