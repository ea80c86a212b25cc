import type { Logger } from '../logger.js';
import { fullJitterDelay, sleep, StateLog } from '../backoff.js';
import { KeyedCache, type Converter, type ObjectSink } from './keyed-cache.js';
import { isForbidden, isGone, KubeApiError } from './kube-errors.js';
import type { KubeApi, ListOptions, WatchOptions } from './types.js';

export type ReflectorOptions<T> = {
  api: KubeApi;
  /** Collection path, e.g. /api/v1/pods or /apis/apps/v1/deployments. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Converts a raw object; null drops it. Only the converted value is kept (memory). When an
   * object that was kept converts to null later, the entry under `objectKey(obj)` is removed.
   */
  convert: Converter<T>;
  /** Called for every key whose value changed or disappeared (value undefined), also after a relist. */
  onChange?: (key: string, value: T | undefined) => void;
  logger: Logger;
  /** When a new converted value counts as a change; default deep equality. */
  equals?: (a: T, b: T) => boolean;
  /** List page size; default the client's (500). */
  pageSize?: number;
  /** Retry delays: full jitter up to min(maxMs, initialMs·2^attempt); a 403 waits maxMs each time. */
  backoff?: Backoff;
  /** Server-side timeout of each watch request; default the client's (5–10 min). */
  watchTimeoutSeconds?: number;
  /** Clock for telling a watch that ended at once from one that ran; default Date.now. */
  now?: () => number;
};

type Backoff = { initialMs: number; maxMs: number; random?: () => number };
type Waiter = { resolve: () => void; reject: (err: Error) => void };

const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000 };
const SHORT_WATCH_MS = 1_000;

/**
 * A list-then-watch cache of one resource, like client-go's reflector: lists (paged), watches from
 * the list's resourceVersion, re-watches from the last version seen when a stream ends, and after
 * 410 Gone relists and reports only what differs. Errors back off and are logged once per change.
 */
export class Reflector<T> {
  readonly path: string;
  /** Converted values by key ("namespace/name" or "name", as `convert` says). */
  readonly store: ReadonlyMap<string, T>;
  readonly #api: KubeApi;
  readonly #cache: ObjectSink;
  readonly #selectors: { labelSelector?: string; fieldSelector?: string };
  readonly #pageSize: number | undefined;
  readonly #watchTimeoutSeconds: number | undefined;
  readonly #backoff: Backoff;
  readonly #logger: Logger;
  readonly #state: StateLog;
  readonly #now: () => number;
  #resourceVersion = '';
  #synced = false;
  #waiters: Waiter[] = [];
  #lastError: Error | null = null;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: ReflectorOptions<T>) {
    const cache = new KeyedCache(options.convert, options.onChange, options.equals);
    this.path = options.path;
    this.store = cache.entries;
    this.#cache = cache;
    this.#api = options.api;
    this.#selectors = {};
    if (options.labelSelector !== undefined) this.#selectors.labelSelector = options.labelSelector;
    if (options.fieldSelector !== undefined) this.#selectors.fieldSelector = options.fieldSelector;
    this.#pageSize = options.pageSize;
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger.child({ resource: options.path });
    this.#state = new StateLog(this.#logger, `watch ${options.path}`, this.#now);
  }

  /** The last error (a KubeApiError 403 when RBAC forbids the resource); null while healthy. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves after the first complete list; rejects if the reflector is stopped before that. */
  synced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  start(): void {
    if (this.#loop !== undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new Error(`the reflector for ${this.path} stopped before its first list`));
  }

  async #run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let needList = true;
    while (!signal.aborted) {
      const fresh = needList;
      try {
        if (needList) {
          await this.#relist(signal);
          needList = false;
        }
        let events = 0;
        const startedMs = this.#now();
        await this.#api.watch(this.path, this.#watchOptions(signal), (type, object) => {
          const version = this.#cache.apply(type, object);
          if (version !== undefined) this.#resourceVersion = version;
          events += 1;
        });
        // As client-go's "very short watch": one that ends at once with nothing in it (a proxy
        // closing streams, say) backs off instead of spinning. Only a watch that worked resets
        // the backoff, so a server whose lists work but whose watches fail is not hammered.
        if (events > 0 || this.#now() - startedMs >= SHORT_WATCH_MS) attempt = 0;
        else await sleep(this.#delayMs(attempt++), signal);
      } catch (err) {
        if (signal.aborted) return;
        // An expired watch is routine: relist at once. A 410 from a list (an expired continue
        // token) or from a watch of a fresh list's version takes the backoff, so this cannot spin.
        needList = true;
        if (isGone(err) && !fresh) {
          this.#logger.debug('watch resourceVersion expired; relisting');
          continue;
        }
        // After any other failure the next round lists again, as client-go does: a successful list
        // is the clear sign of health, and it catches up on whatever the broken stream missed.
        const error = err instanceof Error ? err : new Error(String(err));
        this.#failed(error);
        await sleep(isForbidden(error) ? this.#backoff.maxMs : this.#delayMs(attempt++), signal);
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const relist = this.#cache.beginRelist();
    const options: ListOptions = { signal, onPage: relist.add, ...this.#selectors };
    if (this.#pageSize !== undefined) options.limit = this.#pageSize;
    const result = await this.#api.list(this.path, options);
    relist.add(result.items);
    relist.commit();
    this.#resourceVersion = result.resourceVersion;
    this.#healthy();
    if (!this.#synced) {
      this.#synced = true;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  #delayMs(attempt: number): number {
    const { initialMs, maxMs, random } = this.#backoff;
    return fullJitterDelay(attempt, initialMs, maxMs, random);
  }

  #watchOptions(signal: AbortSignal): WatchOptions {
    const options: WatchOptions = { resourceVersion: this.#resourceVersion, signal, ...this.#selectors };
    if (this.#watchTimeoutSeconds !== undefined) options.timeoutSeconds = this.#watchTimeoutSeconds;
    return options;
  }

  #healthy(): void {
    this.#lastError = null;
    this.#state.ok('working again');
  }

  #failed(err: Error): void {
    this.#lastError = err;
    if (err instanceof KubeApiError) {
      const message = isForbidden(err) ? 'forbidden by RBAC; retrying slowly' : 'the API server refused';
      this.#state.failed(`status ${err.status}`, message, { status: err.status, reason: err.reason, err: err.message });
    } else {
      this.#state.failed(err.name, 'failing; retrying with backoff', { err: err.message });
    }
  }
}
