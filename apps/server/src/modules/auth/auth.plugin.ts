import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../../errors.js';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { originOf, requestOrigin, UNSAFE_METHODS, type RequestOrigin } from './csrf.js';
import { clearSessionCookie, readSessionCookie } from './session-cookie.js';

/**
 * Resolves `request.principal` for `/api/v1` requests from an `Authorization: Bearer niro_pat_…`
 * header or else the session cookie. A bearer that is present but wrong is a 401 right away
 * (never silently anonymous); a stale session cookie is cleared and the request goes on
 * anonymous, so it can still sign in.
 *
 * CSRF: a cookie-authenticated POST/PUT/PATCH/DELETE must prove it comes from our own origin
 * (`Sec-Fetch-Site` or `Origin`). Bearer requests are exempt: a page on another site cannot set
 * that header without a CORS preflight we never grant.
 */
export function registerAuthentication(app: App, { auth, config }: Services): void {
  // Registered before the hook below, so cookies are parsed by the time it runs.
  void app.register(cookie, { hook: 'onRequest' });
  app.decorateRequest('principal', null);
  const publicOrigin = originOf(config.publicUrl);

  // The request's own origin (as a trusted proxy reports it) and the configured public URL.
  const ownOrigins = (req: FastifyRequest): string[] =>
    [originOf(`${req.protocol}://${req.host}`), publicOrigin].filter((o): o is string => o !== null);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith('/api/v1/')) return;
    const unsafe = UNSAFE_METHODS.has(req.method);
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      const principal = m?.[1] === undefined ? null : await auth.authenticateToken(m[1]);
      if (principal === null)
        throw new UnauthorizedError('invalid_token', 'The API token is invalid, expired or revoked');
      req.principal = principal;
      return;
    }
    // Reads need no proof of origin: they change nothing and a cross-site page cannot see the reply.
    const origin: RequestOrigin = unsafe ? requestOrigin(req.headers, ownOrigins(req)) : 'same-origin';
    const cookieValue = readSessionCookie(req, config);
    if (cookieValue !== undefined && cookieValue !== '') {
      const principal = await auth.authenticateSession(cookieValue);
      if (principal === null) {
        clearSessionCookie(reply, config);
      } else {
        if (origin !== 'same-origin') throw csrfRejected();
        req.principal = principal;
        return;
      }
    }
    // Signing in or setting up from another site's page (login CSRF) is refused as well; clients
    // that send no browser headers at all (scripts, the CLI) are not affected.
    if (origin === 'cross-origin') throw csrfRejected();
  });
}

function csrfRejected(): ForbiddenError {
  return new ForbiddenError(
    'csrf_rejected',
    'Cross-site request refused: cookie-authenticated writes must come from the Niro dashboard itself (same origin)',
  );
}
