import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../errors.js';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';

/**
 * Resolves `request.principal` for `/api/v1` requests from an `Authorization: Bearer niro_pat_…`
 * header. A bearer that is present but wrong is a 401 right away (never silently anonymous).
 */
export function registerAuthentication(app: App, { auth }: Services): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!req.url.startsWith('/api/v1/')) return;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      const principal = m?.[1] === undefined ? null : await auth.authenticateToken(m[1]);
      if (principal === null)
        throw new UnauthorizedError('invalid_token', 'The API token is invalid, expired or revoked');
      req.principal = principal;
    }
  });
}
