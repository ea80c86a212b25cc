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

/** A signed-in caller and where the request came from, as services need it for rules and audit. */
export type Caller = { principal: Principal; ip: string };

export function requirePrincipal(req: FastifyRequest): Principal {
  if (req.principal === null) throw new UnauthorizedError('unauthorized', 'Sign in or send an API token');
  return req.principal;
}

export function requireCaller(req: FastifyRequest): Caller {
  return { principal: requirePrincipal(req), ip: req.ip };
}

export function auditActor(p: Principal): AuditActor {
  return p.via === 'token'
    ? { type: 'token', id: p.tokenId ?? null, label: `${p.email} (token ${p.tokenName ?? ''})` }
    : { type: 'user', id: p.userId, label: p.email };
}

/** OpenAPI `security` of endpoints that need a signed-in caller (session cookie or API token). */
export const SIGNED_IN: readonly Record<string, readonly string[]>[] = [{ session: [] }, { bearer: [] }];
