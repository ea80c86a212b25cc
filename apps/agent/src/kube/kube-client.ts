import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { AGENT_VERSION } from '../version.js';
import type { BearerToken } from './bearer-token.js';
import { LineSplitter } from './json-lines.js';
import type { KubeConfig } from './kube-config.js';
import { KubeApiError, KubeClientError } from './kube-errors.js';
import { isRecord, resourceVersionOf, stringField } from './kube-object.js';
import type {
  KubeApi,
  ListOptions,
  ListResult,
  Query,
  RequestOptions,
  StreamOptions,
  WatchEventType,
  WatchOptions,
} from './types.js';

export type KubeClientOptions = {
  /** Default `niro-agent/<version>`. */
  userAgent?: string;
  /** Default per-request timeout; a request's own `timeoutMs` wins. */
  timeoutMs?: number;
};

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_PAGE_SIZE = 500;
/** Spread watch ends over 5–10 min so that the agent's watches do not all restart together. */
const WATCH_TIMEOUT_MIN_S = 300;
const WATCH_TIMEOUT_SPREAD_S = 300;
/** A watch still open this long after its server-side timeout sits on a dead connection. */
const WATCH_GRACE_MS = 60_000;
/** Idle keep-alive sockets are closed before the server or a proxy in between drops them. */
const IDLE_SOCKET_MS = 15_000;
const WATCH_EVENT_TYPES: ReadonlySet<string> = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);

type Exchange = {
  query?: Query;
  body?: string;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  timeoutMs: number;
};

/** The agent's Kubernetes API client: JSON over one keep-alive HTTPS agent (see types.ts). */
export class KubeClient implements KubeApi {
  readonly server: string;
  readonly #agent: https.Agent;
  readonly #token: BearerToken | undefined;
  readonly #userAgent: string;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(config: KubeConfig, options: KubeClientOptions = {}) {
    this.server = config.server;
    this.#token = config.token;
    this.#userAgent = options.userAgent ?? `niro-agent/${AGENT_VERSION}`;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const tls: https.AgentOptions = { rejectUnauthorized: !config.insecureSkipTlsVerify };
    if (config.ca !== undefined) tls.ca = config.ca;
    if (config.clientCert !== undefined) tls.cert = config.clientCert;
    if (config.clientKey !== undefined) tls.key = config.clientKey;
    if (config.tlsServerName !== undefined) tls.servername = config.tlsServerName;
    this.#agent = new https.Agent({ ...tls, keepAlive: true, timeout: IDLE_SOCKET_MS });
  }

  request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    const exchange: Exchange = { timeoutMs: options.timeoutMs ?? this.#timeoutMs };
    if (options.query !== undefined) exchange.query = options.query;
    if (options.body !== undefined) exchange.body = JSON.stringify(options.body);
    if (options.contentType !== undefined) exchange.contentType = options.contentType;
    if (options.signal !== undefined) exchange.signal = options.signal;
    return this.#exchange(method, path, exchange, async (res) => {
      const text = Buffer.concat(await readAll(res, method, path)).toString('utf8');
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) throw KubeApiError.fromBody(status, parseLoosely(text), method, path);
      if (text === '') return undefined;
      if (!isJson(res)) return text;
      try {
        const parsed: unknown = JSON.parse(text);
        return parsed;
      } catch {
        throw new KubeClientError(`${method} ${path}: the answer is not valid JSON`);
      }
    });
  }

  async list(path: string, options: ListOptions = {}): Promise<ListResult> {
    const items: unknown[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const query: Query = {
        limit: options.limit ?? DEFAULT_PAGE_SIZE,
        continue: next,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      };
      const page = await this.request('GET', path, options.signal ? { query, signal: options.signal } : { query });
      const pageItems = isRecord(page) ? page.items : undefined;
      const pageVersion = resourceVersionOf(page);
      // `items` is null in an empty list from some servers.
      if ((pageItems !== null && !Array.isArray(pageItems)) || pageVersion === undefined) {
        throw new KubeClientError(`GET ${path}: the answer is not a list`);
      }
      const got = pageItems ?? [];
      if (options.onPage) options.onPage(got);
      else for (const item of got) items.push(item);
      resourceVersion = pageVersion;
      next = isRecord(page) ? stringField(page.metadata, 'continue') || undefined : undefined;
    } while (next !== undefined);
    return { items, resourceVersion };
  }

  watch(path: string, options: WatchOptions, onEvent: (type: WatchEventType, object: unknown) => void): Promise<void> {
    const timeoutSeconds =
      options.timeoutSeconds ?? WATCH_TIMEOUT_MIN_S + Math.floor(Math.random() * WATCH_TIMEOUT_SPREAD_S);
    const exchange: Exchange = {
      query: {
        watch: true,
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      timeoutMs: timeoutSeconds * 1000 + WATCH_GRACE_MS,
    };
    if (options.signal !== undefined) exchange.signal = options.signal;
    return this.#exchange('GET', path, exchange, async (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const text = Buffer.concat(await readAll(res, 'GET', path)).toString('utf8');
        throw KubeApiError.fromBody(status, parseLoosely(text), 'GET', path);
      }
      const lines = new LineSplitter();
      const onLine = (line: string): void => dispatchWatchLine(line, path, onEvent);
      await consume(res, 'GET', path, (chunk) => lines.push(chunk, onLine));
      lines.end(onLine);
    });
  }

  async stream(path: string, options: StreamOptions = {}): Promise<Readable> {
    const { signal } = options;
    // Logs are text/plain; an Accept of JSON only would be refused by a strict server.
    const exchange: Exchange = { accept: '*/*', timeoutMs: options.timeoutMs ?? this.#timeoutMs };
    if (options.query !== undefined) exchange.query = options.query;
    if (signal !== undefined) exchange.signal = signal;
    const body = await this.#exchange('GET', path, exchange, async (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const text = Buffer.concat(await readAll(res, 'GET', path)).toString('utf8');
        throw KubeApiError.fromBody(status, parseLoosely(text), 'GET', path);
      }
      return res;
    });
    // The exchange stops watching the signal once it has the answer; from here the body does.
    if (signal !== undefined) {
      const onAbort = (): void => void body.destroy(new KubeClientError(`GET ${path}: aborted`));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        body.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    return body;
  }

  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }

  /** One HTTP exchange with timeout, abort and clean-up; `handle` reads the response. */
  #exchange<R>(method: string, path: string, o: Exchange, handle: (res: IncomingMessage) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (o.signal?.aborted) return reject(o.signal.reason);
      if (this.#closed) return reject(new KubeClientError(`${method} ${path}: the Kubernetes client is closed`));
      const url = this.#url(path, o.query);
      const headers: Record<string, string> = { Accept: o.accept ?? 'application/json', 'User-Agent': this.#userAgent };
      const token = this.#token?.current();
      if (token !== undefined) headers.Authorization = `Bearer ${token}`;
      if (o.body !== undefined) {
        headers['Content-Type'] = o.contentType ?? 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(o.body));
      }
      const req = https.request(url, { method, agent: this.#agent, headers });
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (err: unknown): void => {
        if (!finish()) return;
        req.destroy();
        reject(err);
      };
      const onAbort = (): void => fail(o.signal?.reason);
      const timer = setTimeout(
        () => fail(new KubeClientError(`${method} ${path}: no complete answer within ${o.timeoutMs} ms`)),
        o.timeoutMs,
      );
      o.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => fail(new KubeClientError(`${method} ${path}: ${err.message}`, { cause: err })));
      req.on('response', (res) => {
        if (res.statusCode === 401) this.#token?.invalidate();
        handle(res).then((value) => {
          if (finish()) resolve(value);
        }, fail);
      });
      req.end(o.body);
    });
  }

  #url(path: string, query: Query | undefined): URL {
    if (!path.startsWith('/')) throw new KubeClientError(`API paths start with "/": ${path}`);
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }
}

function dispatchWatchLine(line: string, path: string, onEvent: (type: WatchEventType, object: unknown) => void): void {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    throw new KubeClientError(`watch ${path}: a line of the stream is not JSON`);
  }
  const type = stringField(event, 'type');
  const object = isRecord(event) ? event.object : undefined;
  if (type === 'ERROR') throw KubeApiError.fromBody(500, object, 'GET', path);
  if (type !== undefined && WATCH_EVENT_TYPES.has(type)) onEvent(watchEventType(type), object);
  // Other types are ignored: a newer server may add some.
}

function watchEventType(type: string): WatchEventType {
  switch (type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED':
      return type;
    default:
      return 'BOOKMARK';
  }
}

/** Feeds every chunk to `onChunk`; a connection lost before the end rejects with KubeClientError. */
function consume(res: IncomingMessage, method: string, path: string, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const lost = (why: string): void => {
      res.destroy();
      reject(new KubeClientError(`${method} ${path}: ${why}`));
    };
    res.on('data', (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (err) {
        res.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    res.on('end', () => resolve());
    res.on('error', (err) => lost(`the connection failed mid-answer (${err.message})`));
    res.on('close', () => {
      if (!res.complete) lost('the connection closed before the answer was complete');
    });
  });
}

async function readAll(res: IncomingMessage, method: string, path: string): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  await consume(res, method, path, (chunk) => chunks.push(chunk));
  return chunks;
}

function isJson(res: IncomingMessage): boolean {
  return (res.headers['content-type'] ?? '').includes('json');
}

/** An error body: the Status object when it is JSON, else the text. */
function parseLoosely(text: string): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed;
  } catch {
    return text;
  }
}
