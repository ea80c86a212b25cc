import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';

/**
 * A real container registry on loopback for tests: Debian's `docker-registry` (CNCF distribution
 * 2.8) with a generated config, storing blobs in a temporary directory, speaking plain HTTP on
 * 127.0.0.1 (Docker and Niro allow plain HTTP only for loopback registries).
 *
 * Auth: `htpasswd` (Basic, bcrypt file), `token` (Bearer: a token server started here signs RS256
 * JWTs that the registry checks against a self-signed certificate) or `none`.
 */

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; users: Record<string, string> }
  /** `realmHost` puts the token server on another loopback host (e.g. 127.0.0.2 or localhost). */
  | { kind: 'token'; users: Record<string, string>; realmHost?: string };

/** One request the token server received, as it arrived (for "was the password sent here?" checks). */
export type TokenServerRequest = { url: string; authorization: string | undefined };

export type Registry = {
  /** `127.0.0.1:<port>`: what users type as the registry server and prefix image names with. */
  host: string;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The token endpoint (`auth.token.realm`) in token mode; null otherwise. */
  realm: string | null;
  /** Every request the token server received (token mode); empty otherwise. */
  tokenRequests: TokenServerRequest[];
  /**
   * Uploads a minimal valid image (a config blob, one gzipped tar layer holding `/niro-image`, a
   * Docker schema 2 manifest) as `repository:tag`, authenticating as the first configured user.
   * Afterwards `HEAD /v2/<repository>/manifests/<tag>` with `Accept:
   * application/vnd.docker.distribution.manifest.v2+json` (and credentials) answers 200, as a pull
   * by a container runtime does. The image is `<host>/<repository>:<tag>`; `digest` is the manifest's.
   */
  pushImage(repository: string, tag: string): Promise<{ digest: string }>;
  stop(): Promise<void>;
};

const execFileP = promisify(execFile);
const START_TIMEOUT_MS = 15_000;
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const SERVICE = 'niro-test-registry';
const ISSUER = 'niro-testkit';

/** The `docker-registry` binary, or why it is missing. */
export function registryAvailability(): { available: true; binary: string } | { available: false; reason: string } {
  const fromEnv = process.env.NIRO_REGISTRY_BIN;
  const candidates = [
    ...(fromEnv ? [fromEnv] : []),
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'docker-registry')),
    '/usr/bin/docker-registry',
  ];
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return { available: true, binary: candidate };
    } catch {
      // try the next one
    }
  }
  return { available: false, reason: 'docker-registry is not installed (apt-get install docker-registry)' };
}

/**
 * For `describe.skipIf`: null when the registry can run, else the reason to print in the skipped
 * suite's title. With NIRO_REQUIRE_REGISTRY=1 (CI) a missing registry throws instead, which fails
 * the test file rather than skipping it.
 */
export function registrySkipReason(): string | null {
  const availability = registryAvailability();
  if (availability.available) return null;
  if (process.env.NIRO_REQUIRE_REGISTRY === '1') {
    throw new Error(`NIRO_REQUIRE_REGISTRY=1 but ${availability.reason}`);
  }
  return availability.reason;
}

export async function startRegistry(options: { auth: RegistryAuth; dataDir?: string }): Promise<Registry> {
  const availability = registryAvailability();
  if (!availability.available) throw new Error(availability.reason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-registry-'));
  const dataDir = options.dataDir ?? path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const { auth } = options;

  let tokens: TokenServer | null = null;
  const authLines: string[] = [];
  if (auth.kind === 'htpasswd') {
    const lines = Object.entries(auth.users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`);
    fs.writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n', { mode: 0o600 });
    authLines.push('auth:', '  htpasswd:', '    realm: niro-test', `    path: ${path.join(dir, 'htpasswd')}`);
  } else if (auth.kind === 'token') {
    tokens = await startTokenServer(dir, auth.users, auth.realmHost ?? '127.0.0.1');
    authLines.push(
      'auth:',
      '  token:',
      `    realm: ${tokens.realm}`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${tokens.certFile}`,
    );
  }
  const config = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: 127.0.0.1:0',
    `  secret: ${randomBytes(16).toString('hex')}`,
    ...authLines,
    '',
  ].join('\n');
  const configFile = path.join(dir, 'config.yml');
  fs.writeFileSync(configFile, config);

  const child = spawn(availability.binary, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let host: string;
  try {
    host = await listeningAddress(child);
  } catch (err) {
    child.kill('SIGKILL');
    await tokens?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = `http://${host}`;
  const firstUser = auth.kind === 'none' ? undefined : Object.entries(auth.users)[0];

  async function authorization(repository: string): Promise<string | undefined> {
    if (auth.kind === 'none' || firstUser === undefined) return undefined;
    if (auth.kind === 'htpasswd') return basic(firstUser[0], firstUser[1]);
    if (tokens === null) return undefined;
    // The test support holds the signing key, so it mints its own push token instead of a round trip.
    return `Bearer ${tokens.mint(firstUser[0], [{ type: 'repository', name: repository, actions: ['pull', 'push'] }])}`;
  }

  return {
    host,
    url,
    realm: tokens?.realm ?? null,
    tokenRequests: tokens?.requests ?? [],
    async pushImage(repository, tag) {
      const authz = await authorization(repository);
      const image = minimalImage(`${repository}:${tag}`);
      await uploadBlob(url, repository, image.layer, authz);
      await uploadBlob(url, repository, image.config, authz);
      const res = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'content-type': MANIFEST_V2, ...(authz ? { authorization: authz } : {}) },
        body: image.manifest,
      });
      if (res.status !== 201) throw new Error(`manifest upload failed: ${res.status} ${await res.text()}`);
      return { digest: res.headers.get('docker-content-digest') ?? sha256(image.manifest) };
    },
    async stop() {
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      await tokens?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listeningAddress(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`docker-registry did not start in ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    // The registry logs to stderr; keep draining both pipes so it never blocks on a full one.
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`docker-registry exited with ${String(code)}:\n${output}`));
    });
  });
}

// --- the image --------------------------------------------------------------------------------

type Blob = { digest: string; bytes: Buffer };

function minimalImage(content: string): { layer: Blob; config: Blob; manifest: string } {
  const tar = tarWithOneFile('niro-image', Buffer.from(content + '\n', 'utf8'));
  const layerBytes = gzipSync(tar);
  const layer = { digest: sha256(layerBytes), bytes: layerBytes };
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  const config = { digest: sha256(configBytes), bytes: configBytes };
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_V2,
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      size: config.bytes.length,
      digest: config.digest,
    },
    layers: [
      {
        mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: layer.bytes.length,
        digest: layer.digest,
      },
    ],
  });
  return { layer, config, manifest };
}

/** A POSIX (ustar) archive with one regular file, mtime 0, so equal content gives an equal digest. */
function tarWithOneFile(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => {
    header.write(value, offset, length, 'ascii');
  };
  const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, '0') + '\0';
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(data.length, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}

/** Monolithic upload: POST opens an upload session, one PUT with `?digest=` sends the whole blob. */
async function uploadBlob(url: string, repository: string, blob: Blob, authz: string | undefined): Promise<void> {
  const headers: Record<string, string> = authz ? { authorization: authz } : {};
  const start = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  const location = start.headers.get('location');
  if (start.status !== 202 || location === null) {
    throw new Error(`blob upload did not start: ${start.status} ${await start.text()}`);
  }
  const target = new URL(location, url);
  target.searchParams.set('digest', blob.digest);
  const put = await fetch(target, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: blob.bytes,
  });
  if (put.status !== 201) throw new Error(`blob upload failed: ${put.status} ${await put.text()}`);
}

// --- the token server -------------------------------------------------------------------------

type Access = { type: string; name: string; actions: string[] };

type TokenServer = {
  realm: string;
  certFile: string;
  requests: TokenServerRequest[];
  mint(subject: string, access: Access[]): string;
  close(): Promise<void>;
};

/**
 * The Docker token protocol: GET <realm>?service=…&scope=repository:<name>:<actions> with Basic
 * credentials answers `{token, access_token}`; wrong or missing credentials get 401. Every request
 * is recorded, so a test can assert that a host never received an Authorization header.
 */
async function startTokenServer(dir: string, users: Record<string, string>, hostName: string): Promise<TokenServer> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  await execFileP('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=niro-test-token-issuer',
  ]);
  const key: KeyObject = createPrivateKey(fs.readFileSync(keyFile));
  const certDer = pemToDer(fs.readFileSync(certFile, 'utf8'));
  const requests: TokenServerRequest[] = [];

  const mint = (subject: string, access: Access[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: ISSUER,
      sub: subject,
      aud: SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), key).toString('base64url');
    return `${signingInput}.${signature}`;
  };

  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const user = checkBasic(req.headers.authorization, users);
    if (user === null) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="niro-test-token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const query = new URL(req.url ?? '/', 'http://token.invalid').searchParams;
    const access = query.getAll('scope').flatMap(parseScope);
    const token = mint(user, access);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, hostName, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://${hostName}:${port}/token`,
    certFile,
    requests,
    mint,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseScope(scope: string): Access[] {
  return scope.split(' ').flatMap((one) => {
    const parts = one.split(':');
    const actions = parts.pop();
    const type = parts.shift();
    const name = parts.join(':');
    if (type === undefined || actions === undefined || name === '') return [];
    return [{ type, name, actions: actions.split(',') }];
  });
}

function checkBasic(header: string | undefined, users: Record<string, string>): string | null {
  const m = /^Basic (.+)$/i.exec(header ?? '');
  if (m?.[1] === undefined) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const user = decoded.slice(0, colon);
  return Object.hasOwn(users, user) && users[user] === decoded.slice(colon + 1) ? user : null;
}

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
const b64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}
