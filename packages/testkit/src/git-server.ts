import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real Git smart-HTTP server for tests: `git http-backend` (CGI) behind node:https on 127.0.0.1,
 * serving the bare repositories under `root`, with optional Basic auth and hostile behaviours.
 */

export type GitServerTls = { cert: string; key: string };

export type GitServerBehaviour = {
  /** Delay before every response, in ms. */
  delayMs?: number;
  /** Accept requests and never answer them (the connection stays open until stop()). */
  stall?: boolean;
  /** Answer every request with a 302 to this origin (same path), e.g. `https://127.0.0.2:1234`. */
  redirectTo?: string;
  /** Send response bodies at about this rate (a slow server or link). */
  throttleBytesPerSecond?: number;
};

export type GitServerOptions = {
  /** Folder holding bare repositories (`<root>/<name>.git`), served as `https://127.0.0.1:<port>/<name>.git`. */
  root: string;
  tls: GitServerTls;
  /** Require HTTP Basic auth with exactly this username and password. */
  auth?: { username: string; password: string };
  behaviour?: GitServerBehaviour;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
};

export type GitServerRequest = { method: string; path: string; authorization: string | undefined; status: number };

export type GitServer = {
  /** `https://127.0.0.1:<port>` (no trailing slash). */
  origin: string;
  /** `${origin}/${name}` — pass the bare repo's folder name relative to root, e.g. `app.git`. */
  repoUrl(name: string): string;
  /** Every request seen so far (for asserting what a client sent). */
  requests: GitServerRequest[];
  /** Changes the hostile behaviour of later requests. */
  setBehaviour(behaviour: GitServerBehaviour): void;
  stop(): Promise<void>;
};

const CGI_HEADER_LIMIT_BYTES = 64 * 1024;

export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const execPath = gitExecPath();
  const backend = join(execPath, 'git-http-backend');
  let behaviour: GitServerBehaviour = options.behaviour ?? {};
  const requests: GitServerRequest[] = [];
  const sockets = new Set<Socket>();
  const children = new Set<ReturnType<typeof spawn>>();
  const timers = new Set<NodeJS.Timeout>();
  const expectedAuth =
    options.auth === undefined
      ? undefined
      : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://placeholder');
    const authorization = req.headers.authorization;
    const record = (status: number): void => {
      requests.push({ method: req.method ?? 'GET', path: url.pathname, authorization, status });
    };
    if (behaviour.stall === true) {
      record(0);
      return;
    }
    if (behaviour.redirectTo !== undefined) {
      record(302);
      res.writeHead(302, { location: `${behaviour.redirectTo}${url.pathname}${url.search}` }).end();
      return;
    }
    if (expectedAuth !== undefined && authorization !== expectedAuth) {
      record(401);
      res
        .writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' })
        .end('unauthorized\n');
      return;
    }
    const child = spawn(backend, [], {
      env: cgiEnv(req, url, options.root, options.auth?.username),
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    children.add(child);
    child.on('close', () => children.delete(child));
    child.on('error', () => {
      if (!res.headersSent) res.writeHead(500).end();
    });
    child.stdin.on('error', () => undefined);
    req.pipe(child.stdin);
    streamCgiResponse(child.stdout, res, record, behaviour.throttleBytesPerSecond);
  };

  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    const delayMs = behaviour.delayMs ?? 0;
    if (delayMs <= 0) {
      handle(req, res);
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      handle(req, res);
    }, delayMs);
    timers.add(timer);
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Clients that give up mid-handshake must not crash the test process.
  server.on('tlsClientError', () => undefined);

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('git server has no TCP address');
  const origin = `https://${host}:${String(address.port)}`;

  return {
    origin,
    repoUrl: (name) => `${origin}/${name.replace(/^\/+/, '')}`,
    requests,
    setBehaviour: (next) => {
      behaviour = next;
    },
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const child of children) child.kill('SIGKILL');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function cgiEnv(req: IncomingMessage, url: URL, root: string, username: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: root,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
  };
  if (username !== undefined) env.REMOTE_USER = username;
  const contentType = req.headers['content-type'];
  if (contentType !== undefined) env.CONTENT_TYPE = contentType;
  const contentLength = req.headers['content-length'];
  if (contentLength !== undefined) env.CONTENT_LENGTH = contentLength;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'authorization') continue;
    env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = Array.isArray(value) ? value.join(', ') : value;
  }
  // http-backend reads the protocol version (v2) from here.
  const gitProtocol = req.headers['git-protocol'];
  if (typeof gitProtocol === 'string') env.GIT_PROTOCOL = gitProtocol;
  return env;
}

/** Parses the CGI header block (`Status:` + headers, blank line) and streams the body. */
function streamCgiResponse(
  stdout: NodeJS.ReadableStream,
  res: ServerResponse,
  record: (status: number) => void,
  throttleBytesPerSecond: number | undefined,
): void {
  let head = Buffer.alloc(0);
  let headersDone = false;
  const startedMs = Date.now();
  let sentBytes = 0;
  const send = (chunk: Buffer): void => {
    res.write(chunk);
    sentBytes += chunk.length;
    if (throttleBytesPerSecond === undefined) return;
    const aheadMs = (sentBytes / throttleBytesPerSecond) * 1000 - (Date.now() - startedMs);
    if (aheadMs > 0) {
      stdout.pause();
      setTimeout(() => stdout.resume(), aheadMs);
    }
  };
  const fail = (): void => {
    if (!res.headersSent) {
      record(502);
      res.writeHead(502).end();
    } else res.destroy();
  };
  stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      send(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (end < 0) {
      if (head.length > CGI_HEADER_LIMIT_BYTES) fail();
      return;
    }
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'status') status = Number.parseInt(value, 10) || 500;
      else headers[name] = value;
    }
    record(status);
    res.writeHead(status, headers);
    const rest = head.subarray(end);
    if (rest.length > 0) send(rest);
  });
  stdout.on('end', () => {
    if (headersDone) res.end();
    else fail();
  });
  stdout.on('error', fail);
}

let cachedExecPath: string | undefined;

function gitExecPath(): string {
  if (cachedExecPath !== undefined) return cachedExecPath;
  const result = spawnSync('git', ['--exec-path'], { encoding: 'utf8' });
  const path = result.stdout.trim();
  if (result.status !== 0 || path === '') throw new Error(`git --exec-path failed: ${result.stderr.trim()}`);
  cachedExecPath = path;
  return path;
}

export type SelfSignedCert = GitServerTls & {
  /** PEM file of the certificate, to trust it (`GIT_SSL_CAINFO`). */
  caFile: string;
  dir: string;
};

/** A self-signed certificate for 127.0.0.1, 127.0.0.2 and localhost, made with openssl into a temp folder. */
export async function createSelfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), 'niro-git-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost',
  ]);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), caFile: certFile, dir };
}

export type RepoFile = string | Buffer | { symlink: string };
export type RepoFiles = Record<string, RepoFile>;

export type CreateRepoOptions = {
  /** Branch the commit is pushed to (default main; force-pushed, so an earlier commit stays reachable only via tags). */
  branch?: string;
  /** Tags pointing at the new commit. */
  tags?: string[];
  message?: string;
};

/**
 * Commits `files` (paths relative to the repo root; `{symlink: target}` makes a symlink) as a new
 * root commit in a temp work tree and pushes it to the bare repository `dir` (created if missing,
 * `uploadpack.allowAnySHA1InWant` on, as on GitHub and GitLab). Returns the full commit sha.
 */
export async function createRepo(
  dir: string,
  files: RepoFiles,
  options: CreateRepoOptions = {},
): Promise<{ commit: string }> {
  const branch = options.branch ?? 'main';
  const env = gitEnv();
  const exists = spawnSync('git', ['--git-dir', dir, 'rev-parse', '--git-dir'], { env }).status === 0;
  if (!exists) {
    await mkdir(dir, { recursive: true });
    await run('git', ['init', '--quiet', '--bare', '--initial-branch', branch, dir], env);
    await run('git', ['--git-dir', dir, 'config', 'uploadpack.allowAnySHA1InWant', 'true'], env);
  }
  const work = await mkdtemp(join(tmpdir(), 'niro-git-work-'));
  try {
    await run('git', ['init', '--quiet', '--initial-branch', branch, work], env);
    for (const [path, content] of Object.entries(files)) {
      const target = join(work, path);
      await mkdir(dirname(target), { recursive: true });
      if (typeof content === 'object' && !Buffer.isBuffer(content)) await symlink(content.symlink, target);
      else await writeFile(target, content);
    }
    await run('git', ['-C', work, 'add', '--all', '--force'], env);
    await run('git', ['-C', work, 'commit', '--quiet', '--allow-empty', '-m', options.message ?? 'test commit'], env);
    for (const tag of options.tags ?? []) await run('git', ['-C', work, 'tag', '--force', tag], env);
    await run(
      'git',
      ['-C', work, 'push', '--quiet', '--force', '--tags', dir, `refs/heads/${branch}:refs/heads/${branch}`],
      env,
    );
    const commit = (await run('git', ['-C', work, 'rev-parse', 'HEAD'], env)).trim();
    return { commit };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function gitEnv(): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Niro Test',
    GIT_AUTHOR_EMAIL: 'test@niro.invalid',
    GIT_COMMITTER_NAME: 'Niro Test',
    GIT_COMMITTER_EMAIL: 'test@niro.invalid',
    GIT_AUTHOR_DATE: '2025-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2025-01-01T00:00:00Z',
  };
}

function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: env ?? gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${file} ${args.join(' ')} exited with ${String(code)}: ${stderr.trim()}`));
    });
  });
}
