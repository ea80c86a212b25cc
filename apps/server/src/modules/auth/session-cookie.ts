import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';

/** Cookie name over plain HTTP (local use). */
export const SESSION_COOKIE = 'niro_session';
/**
 * Cookie name behind TLS: the `__Host-` prefix makes browsers insist on Secure, Path=/ and no
 * Domain, so a sibling subdomain cannot plant or overwrite the session cookie.
 */
export const SECURE_SESSION_COOKIE = '__Host-niro_session';

/** TLS as the browser sees it: the public URL is https, or a trusted proxy says so. */
export function isTlsRequest(req: FastifyRequest, config: Config): boolean {
  // With NIRO_TRUST_PROXY, Fastify derives req.protocol from X-Forwarded-Proto.
  return config.publicUrl.startsWith('https:') || req.protocol === 'https';
}

export function sessionCookieName(req: FastifyRequest, config: Config): string {
  return isTlsRequest(req, config) ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

export function readSessionCookie(req: FastifyRequest, config: Config): string | undefined {
  return req.cookies[sessionCookieName(req, config)];
}

export function setSessionCookie(
  reply: FastifyReply,
  config: Config,
  session: { cookieValue: string; expiresAt: number; createdAt: number },
): void {
  const secure = isTlsRequest(reply.request, config);
  reply.setCookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, session.cookieValue, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure,
    maxAge: Math.floor((session.expiresAt - session.createdAt) / 1000),
    expires: new Date(session.expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  const secure = isTlsRequest(reply.request, config);
  reply.clearCookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure,
  });
}
