import type { IncomingHttpHeaders } from 'node:http';

export const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * What the browser tells us about where a request was started. `unknown` means no browser
 * header at all: a script or an old client, never a page on another site in a current browser.
 */
export type RequestOrigin = 'same-origin' | 'cross-origin' | 'unknown';

/**
 * `Sec-Fetch-Site: same-origin|none` (none = typed into the address bar) or an `Origin` equal to
 * one of `ownOrigins` is same-origin; any other value of either header is cross-origin.
 */
export function requestOrigin(headers: IncomingHttpHeaders, ownOrigins: readonly string[]): RequestOrigin {
  const site = headerValue(headers['sec-fetch-site']);
  if (site === 'same-origin' || site === 'none') return 'same-origin';
  const origin = headerValue(headers.origin);
  if (origin !== undefined && ownOrigins.includes(origin.toLowerCase())) return 'same-origin';
  if (site !== undefined || origin !== undefined) return 'cross-origin';
  return 'unknown';
}

/** An origin string (`scheme://host[:port]`, lower case) for comparing with an `Origin` header. */
export function originOf(url: string): string | null {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin.toLowerCase();
  } catch {
    return null;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.trim();
}
