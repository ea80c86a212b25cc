import type { FastifyRequest } from 'fastify';

/** Where a request came from, as the services need it (never a credential). */
export type ClientInfo = {
  /** The client address as Fastify resolved it (honours NIRO_TRUST_PROXY). */
  ip: string;
  userAgent: string | null;
  /**
   * The direct peer plus every address a proxy header names, trusted or not: a check that must
   * only pass for local clients (first-run setup) looks at all of them.
   */
  addresses: readonly string[];
};

const USER_AGENT_MAX_CHARS = 512;

export function clientInfo(req: FastifyRequest): ClientInfo {
  const addresses: string[] = [req.socket.remoteAddress ?? ''];
  const xff = req.headers['x-forwarded-for'];
  for (const value of Array.isArray(xff) ? xff : xff === undefined ? [] : [xff]) {
    for (const part of value.split(',')) addresses.push(part.trim());
  }
  const realIp = req.headers['x-real-ip'];
  if (typeof realIp === 'string') addresses.push(realIp.trim());
  const forwarded = req.headers.forwarded;
  if (typeof forwarded === 'string') {
    const found = [...forwarded.matchAll(/for=("?)\[?([^;,"\]]*)/gi)].map((m) => m[2] ?? '');
    // A Forwarded header we cannot read names no address we could call local.
    addresses.push(...(found.length > 0 ? found : ['']));
  }
  const ua = req.headers['user-agent'];
  return {
    ip: req.ip,
    userAgent: typeof ua === 'string' && ua !== '' ? ua.slice(0, USER_AGENT_MAX_CHARS) : null,
    addresses,
  };
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6; `Forwarded` may carry a port (`127.0.0.1:1234`). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.trim().toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::\d+)?$/.exec(a);
  return v4 !== null && v4[1] === '127' && v4.slice(2, 5).every((o) => Number(o) <= 255);
}
