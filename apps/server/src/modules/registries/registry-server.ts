import { isIP } from 'node:net';
import { BadRequestError } from '../../errors.js';

/** What a user typed as the registry server, normalised to `host[:port]`. */
export type RegistryServer = {
  /** "ghcr.io", "docker.io", "127.0.0.1:5000", "[::1]:5000"; the name stored and shown. */
  server: string;
  /** Where the registry API answers: Docker Hub's is registry-1.docker.io. */
  apiHost: string;
  /** Port of the API, null for the scheme's default. */
  port: number | null;
  /** Loopback registries may speak plain HTTP (as Docker allows). */
  loopback: boolean;
};

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/** The key Docker (and the kubelet) look up for Docker Hub in a `.dockerconfigjson`. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

const invalidServer = (message: string): BadRequestError =>
  new BadRequestError('invalid_request', `Invalid request: body.server: ${message}`, {
    fields: [{ field: 'body.server', message }],
  });

/**
 * Accepts `host`, `host:port`, `https://host[:port][/]` and, for loopback hosts only,
 * `http://host[:port]`. Docker Hub's names all become "docker.io". Anything with a path, user
 * info, query or a malformed host is a 400 naming body.server.
 */
export function parseRegistryServer(input: string): RegistryServer {
  const text = input.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'https' && scheme !== 'http') {
    throw invalidServer(`must be a host name (optionally with https://), not a ${scheme}:// URL`);
  }
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `https://${text}` : text);
  } catch {
    throw invalidServer('must be a registry host such as ghcr.io or registry.example.com:5000');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalidServer('must not contain credentials; give them as username and password');
  }
  if (url.search !== '' || url.hash !== '') throw invalidServer('must not contain a query or fragment');
  // "https://index.docker.io/v1/" is how Docker itself names Docker Hub; /v2/ is the API root.
  if (!['/', '/v1/', '/v2/', '/v1', '/v2'].includes(url.pathname)) {
    throw invalidServer('must be the registry host without a path (an image name goes into the deployment)');
  }
  const bareHost = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!validHost(bareHost)) throw invalidServer(`"${url.hostname}" is not a valid host name`);
  const loopback = isLoopbackHost(bareHost);
  if (url.protocol === 'http:' && !loopback) {
    throw invalidServer('plain http:// is allowed only for loopback registries (127.0.0.0/8, ::1, localhost)');
  }
  const port = url.port === '' ? null : Number(url.port);
  if (DOCKER_HUB_ALIASES.has(bareHost) && port === null) {
    return { server: DOCKER_HUB, apiHost: DOCKER_HUB_API, port: null, loopback: false };
  }
  const hostPart = isIP(bareHost) === 6 ? `[${bareHost}]` : bareHost;
  return { server: port === null ? hostPart : `${hostPart}:${port}`, apiHost: bareHost, port, loopback };
}

function validHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  if (host.length > 253) return false;
  const labels = host.split('.');
  return labels.every((l) => HOST_LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

/** 127.0.0.0/8, ::1 and localhost (with or without a trailing dot): never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** The key of this registry in a `.dockerconfigjson` `auths` map. */
export function dockerConfigKey(server: string): string {
  return server === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : server;
}

/**
 * Second-level labels under which a country code hands out names (example.co.uk), and shared
 * hosting domains whose subdomains belong to different customers. Without a full public suffix
 * list this errs towards "different domain", which only ever refuses to send a credential.
 */
const COUNTRY_SECOND_LEVELS = new Set(['co', 'com', 'net', 'org', 'gov', 'edu', 'ac', 'or', 'ne', 'go']);
const SHARED_SUFFIXES = [
  'amazonaws.com',
  'azurecr.io',
  'pkg.dev',
  'cloudfront.net',
  'herokuapp.com',
  'github.io',
  'gitlab.io',
  'ngrok.io',
  'ngrok-free.app',
  'trycloudflare.com',
];

/** The registrable domain (eTLD+1) of a DNS name; an IP address or localhost is its own domain. */
export function registrableDomain(host: string): string {
  const h = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (isIP(h) !== 0 || !h.includes('.')) return h;
  const labels = h.split('.');
  const shared = SHARED_SUFFIXES.find((s) => h === s || h.endsWith(`.${s}`));
  let suffixLabels = shared !== undefined ? shared.split('.').length : 1;
  if (shared === undefined) {
    const tld = labels[labels.length - 1] ?? '';
    const second = labels[labels.length - 2] ?? '';
    if (tld.length === 2 && COUNTRY_SECOND_LEVELS.has(second)) suffixLabels = 2;
  }
  return labels.slice(-(suffixLabels + 1)).join('.');
}

/**
 * Whether a token realm may receive the registry credential: the same host, or another host of
 * the same registrable domain (auth.docker.io for registry-1.docker.io); IP addresses and
 * localhost only match themselves.
 */
export function sameSite(realmHost: string, registryHost: string): boolean {
  const a = realmHost.toLowerCase().replace(/\.$/, '');
  const b = registryHost.toLowerCase().replace(/\.$/, '');
  if (a === b) return true;
  if (isIP(a.replace(/^\[(.*)\]$/, '$1')) !== 0 || isIP(b.replace(/^\[(.*)\]$/, '$1')) !== 0) return false;
  if (!a.includes('.') || !b.includes('.')) return false;
  return registrableDomain(a) === registrableDomain(b);
}
