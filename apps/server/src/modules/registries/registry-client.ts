import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isLoopbackHost, sameSite, type RegistryServer } from './registry-server.js';

/**
 * Checks a credential against a registry the way `docker login` does: GET /v2/ and, when it
 * answers 401, the Basic or Bearer-token flow its WWW-Authenticate header names. The credential
 * goes only to the registry's own host, and to a token realm on HTTPS (plain HTTP only on
 * loopback) of the same host or registrable domain. Redirects are never followed. Every message
 * this throws is safe to show and log: it never contains the password or a token.
 */

export type RegistryClientOptions = {
  /** Per request (connect, TLS, answer). */
  timeoutMs?: number;
  /** Largest answer read; a bigger one fails the check. */
  maxResponseBytes?: number;
};

export const REGISTRY_TIMEOUT_MS = 10_000;
export const REGISTRY_MAX_RESPONSE_BYTES = 256 * 1024;

export type VerifyFailureCode = 'registry_auth_failed' | 'registry_unreachable';

export class RegistryVerifyError extends Error {
  constructor(
    readonly code: VerifyFailureCode,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'RegistryVerifyError';
  }
}

type Credential = { username: string; password: string };
type Answer = { status: number; headers: IncomingHttpHeaders; body: Buffer };
type Settings = Required<RegistryClientOptions>;

const unreachable = (reason: string): RegistryVerifyError => new RegistryVerifyError('registry_unreachable', reason);
const rejected = (reason: string): RegistryVerifyError => new RegistryVerifyError('registry_auth_failed', reason);

export async function verifyRegistryCredential(
  target: RegistryServer,
  credential: Credential,
  options: RegistryClientOptions = {},
): Promise<void> {
  const settings: Settings = {
    timeoutMs: options.timeoutMs ?? REGISTRY_TIMEOUT_MS,
    maxResponseBytes: options.maxResponseBytes ?? REGISTRY_MAX_RESPONSE_BYTES,
  };
  const { base, probe } = await probeApi(target, settings);
  if (probe.status === 200) return; // The registry needs no credential for /v2/ (docker login accepts this too).
  if (isRedirect(probe.status)) throw redirected('/v2/', probe);
  if (probe.status !== 401) throw unreachable(`${base.host} answered HTTP ${probe.status} to /v2/; is it a registry?`);

  const challenge = parseChallenge(headerValue(probe.headers['www-authenticate']));
  if (challenge === null) {
    throw unreachable(`${base.host} asked for authentication with a scheme Niro does not support (Basic or Bearer)`);
  }
  const apiRoot = new URL('/v2/', base);
  let authorization: string;
  if (challenge.scheme === 'basic') {
    authorization = basicAuth(credential);
  } else {
    const token = await fetchToken(target, base, challenge.params, credential, settings);
    authorization = `Bearer ${token}`;
  }
  const checked = await send(apiRoot, { authorization }, settings);
  if (checked.status === 200) return;
  if (isRedirect(checked.status)) throw redirected('/v2/', checked);
  if (checked.status === 401 || checked.status === 403) {
    throw rejected(
      challenge.scheme === 'basic'
        ? `${base.host} rejected the username or password`
        : `${base.host} rejected the token its token service issued`,
    );
  }
  throw unreachable(`${base.host} answered HTTP ${checked.status} to an authenticated /v2/`);
}

/** HTTPS; a loopback registry falls back to plain HTTP when HTTPS does not answer (as Docker does). */
async function probeApi(target: RegistryServer, settings: Settings): Promise<{ base: URL; probe: Answer }> {
  const hostPart = target.apiHost.includes(':') ? `[${target.apiHost}]` : target.apiHost;
  const authority = target.port === null ? hostPart : `${hostPart}:${target.port}`;
  const secure = new URL(`https://${authority}/`);
  try {
    return { base: secure, probe: await send(new URL('/v2/', secure), {}, settings) };
  } catch (err) {
    if (!target.loopback || !(err instanceof RegistryVerifyError)) throw err;
    const plain = new URL(`http://${authority}/`);
    return { base: plain, probe: await send(new URL('/v2/', plain), {}, settings) };
  }
}

async function fetchToken(
  target: RegistryServer,
  base: URL,
  params: Record<string, string>,
  credential: Credential,
  settings: Settings,
): Promise<string> {
  const realmText = params.realm;
  if (realmText === undefined) throw unreachable(`${base.host} asked for a Bearer token without naming a realm`);
  let realm: URL;
  try {
    realm = new URL(realmText);
  } catch {
    throw unreachable(`${base.host} named a token realm that is not a URL`);
  }
  const realmHost = realm.hostname.replace(/^\[(.*)\]$/, '$1');
  const plainAllowed = realm.protocol === 'http:' && isLoopbackHost(realmHost);
  if (realm.protocol !== 'https:' && !plainAllowed) {
    throw rejected(
      `the token service of ${base.host} is not on HTTPS (${realm.protocol}//${realm.host}); Niro does not send the password there`,
    );
  }
  if (realm.username !== '' || realm.password !== '')
    throw unreachable(`${base.host} named a token realm with user info`);
  if (!sameSite(realmHost, target.apiHost)) {
    throw rejected(
      `the token service of ${base.host} is on ${realm.host}, which is neither the registry's host nor its domain; ` +
        'Niro does not send the password there',
    );
  }
  if (params.service !== undefined) realm.searchParams.set('service', params.service);
  if (params.scope !== undefined) realm.searchParams.set('scope', params.scope);
  realm.searchParams.set('account', credential.username);
  const answer = await send(realm, { authorization: basicAuth(credential) }, settings);
  if (isRedirect(answer.status)) throw redirected('the token request', answer);
  if (answer.status === 401 || answer.status === 403) {
    throw rejected(`the token service ${realm.host} rejected the username or password`);
  }
  if (answer.status !== 200) throw unreachable(`the token service ${realm.host} answered HTTP ${answer.status}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    throw unreachable(`the token service ${realm.host} did not answer JSON`);
  }
  const token = tokenOf(body);
  if (token === null) throw unreachable(`the token service ${realm.host} answered without a token`);
  return token;
}

function tokenOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const token = 'token' in body ? body.token : undefined;
  const accessToken = 'access_token' in body ? body.access_token : undefined;
  const value = typeof token === 'string' && token !== '' ? token : accessToken;
  return typeof value === 'string' && value !== '' && /^[\x21-\x7e]+$/.test(value) ? value : null;
}

function redirected(what: string, answer: Answer): RegistryVerifyError {
  const location = headerValue(answer.headers.location);
  let where = 'elsewhere';
  try {
    if (location !== undefined) where = `to ${new URL(location, 'https://registry.invalid').host}`;
  } catch {
    // keep "elsewhere"
  }
  return unreachable(
    `the registry redirected ${what} ${where} (HTTP ${answer.status}); Niro does not follow redirects with ` +
      'credentials: enter the server it redirects to',
  );
}

type Challenge = { scheme: 'basic' | 'bearer'; params: Record<string, string> };

/** The first Basic or Bearer challenge of a WWW-Authenticate header (RFC 7235 auth-params). */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (header === undefined) return null;
  const m = /^\s*(basic|bearer)\b\s*(.*)$/i.exec(header);
  if (m === null) return null;
  const scheme = (m[1] ?? '').toLowerCase() === 'basic' ? 'basic' : 'bearer';
  const params: Record<string, string> = {};
  const re = /([a-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gi;
  for (const p of (m[2] ?? '').matchAll(re)) {
    const key = (p[1] ?? '').toLowerCase();
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme, params };
}

const isRedirect = (status: number): boolean => status >= 300 && status < 400;

const headerValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

const basicAuth = (c: Credential): string =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

/** One GET, no redirects, no keep-alive, with a deadline and a size cap. */
function send(url: URL, headers: Record<string, string>, settings: Settings): Promise<Answer> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: RegistryVerifyError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = client.request(
      url,
      {
        method: 'GET',
        agent: false,
        headers: { ...headers, accept: 'application/json', 'user-agent': 'niro-registry-check' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > settings.maxResponseBytes) {
            fail(unreachable(`${url.host} answered more than ${settings.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => fail(networkError(url, err)));
      },
    );
    const timer = setTimeout(
      () => fail(unreachable(`${url.host} did not answer within ${Math.round(settings.timeoutMs / 1000)} s`)),
      settings.timeoutMs,
    );
    req.on('error', (err) => fail(networkError(url, err)));
    req.end();
  });
}

const TLS_CODE = /^(CERT_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|EPROTO$|HOSTNAME_MISMATCH)/;

/** Worded from the error code only: a message of a lower layer could quote a header. */
function networkError(url: URL, err: unknown): RegistryVerifyError {
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
  const host = url.hostname;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return unreachable(`DNS lookup of ${host} failed (${code})`);
  }
  if (TLS_CODE.test(code)) return unreachable(`TLS with ${url.host} failed (${code})`);
  if (code === 'ECONNREFUSED') return unreachable(`${url.host} refused the connection`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return unreachable(`${url.host} closed the connection`);
  if (code === 'ETIMEDOUT' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH') {
    return unreachable(`${url.host} cannot be reached (${code})`);
  }
  return unreachable(`the connection to ${url.host} failed${code === '' ? '' : ` (${code})`}`);
}
