import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../errors.js';
import type { AuditActor } from '../audit/audit.service.js';

/** Who is calling: a signed-in browser session or an API token, always on behalf of a user. */
export type Principal = {
  userId: string;
  email: string;
  via: 'session' | 'token';
  sessionId?: string;
  tokenId?: string;
  tokenName?: string;
};

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function requirePrincipal(req: FastifyRequest): Principal {
  if (req.principal === null) throw new UnauthorizedError();
  return req.principal;
}

export function auditActor(p: Principal): AuditActor {
  return p.via === 'token'
    ? { type: 'token', id: p.tokenId ?? null, label: `${p.email} (token ${p.tokenName ?? ''})` }
    : { type: 'user', id: p.userId, label: p.email };
}
